package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The lifecycles of volumes, copies and nodes: every legal step works, every other one is refused. */
class VolumeRecordTest {
    private static VolumeRecord ready(String... nodes) {
        VolumeRecord r = VolumeRecord.pending("v", "vd1", 1 << 20, nodes.length).placed(List.of(nodes));
        for (String n : nodes) {
            r = r.withReplica(n, ReplicaState.IN_SYNC);
        }
        return r.withState(VolumeState.READY).withServed(1);
    }

    @Test
    void failoverRaisesTheEpochMakesTheOldOwnerStaleAndNeedsAnInSyncCopy() {
        VolumeRecord r = ready("a", "b", "c");

        VolumeRecord next = r.withOwner("b", true);

        assertThat(next.owner()).isEqualTo("b");
        assertThat(next.epoch()).isEqualTo(2);
        assertThat(next.replicas()).containsEntry("a", ReplicaState.STALE).containsEntry("b", ReplicaState.IN_SYNC)
                .containsEntry("c", ReplicaState.IN_SYNC);
        assertThat(next.replicas().keySet()).first().isEqualTo("b");
        assertThat(next.isServed()).isFalse(); // until the new owner has fenced the copies
        assertThatThrownBy(() -> next.withOwner("a", true)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("holds no in-sync copy");
    }

    @Test
    void aPlannedMoveKeepsTheOldOwnersCopyInSyncAndClearsTheRequest() {
        VolumeRecord r = ready("a", "b").withDesiredOwner("b");

        VolumeRecord next = r.withOwner("b", false);

        assertThat(next.replicas()).containsEntry("a", ReplicaState.IN_SYNC);
        assertThat(next.desiredOwner()).isNull();
    }

    @Test
    void copiesFollowTheirLifecycle() {
        VolumeRecord r = ready("a", "b");

        VolumeRecord stale = r.withReplica("b", ReplicaState.STALE);
        assertThat(stale.health()).isEqualTo("degraded");
        VolumeRecord rebuilding = stale.withReplica("b", ReplicaState.REBUILDING);
        assertThat(rebuilding.withReplica("b", ReplicaState.IN_SYNC).health()).isEqualTo("healthy");
        assertThat(rebuilding.withReplica("b", ReplicaState.STALE).replicas()).containsEntry("b", ReplicaState.STALE);
        assertThatThrownBy(() -> stale.withReplica("b", ReplicaState.IN_SYNC)).isInstanceOf(IllegalStateException.class)
                .hasMessage("a copy cannot go from stale to in-sync");
        assertThatThrownBy(() -> r.withNewReplica("a", ReplicaState.REBUILDING)).isInstanceOf(IllegalStateException.class);
        assertThat(r.withNewReplica("c", ReplicaState.REBUILDING).replicas()).containsEntry("c", ReplicaState.REBUILDING);
    }

    @Test
    void volumesFollowTheirLifecycle() {
        VolumeRecord pending = VolumeRecord.pending("v", "vd1", 1 << 20, 1);
        assertThat(pending.health()).isEqualTo("creating");
        assertThat(pending.failed("no room").error()).isEqualTo("no room");
        assertThatThrownBy(() -> pending.withState(VolumeState.READY)).isInstanceOf(IllegalStateException.class);
        VolumeRecord deleting = ready("a").withState(VolumeState.DELETING);
        assertThatThrownBy(() -> deleting.withState(VolumeState.READY)).isInstanceOf(IllegalStateException.class)
                .hasMessage("a volume cannot go from deleting to ready");
    }

    @Test
    void nodesFollowTheirLifecycle() {
        Member m = new Member("a", "v1", "127.0.0.11", NodeStatus.NORMAL, 1L << 30);
        assertThat(m.withStatus(NodeStatus.DRAINING).withStatus(NodeStatus.NORMAL).status()).isEqualTo(NodeStatus.NORMAL);
        assertThat(m.withStatus(NodeStatus.MAINTENANCE).withStatus(NodeStatus.NORMAL).status()).isEqualTo(NodeStatus.NORMAL);
        Member removed = m.withStatus(NodeStatus.REMOVED);
        assertThatThrownBy(() -> removed.withStatus(NodeStatus.DRAINING)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void rebuildChunksStaySmallForADeltaAndBoundedForHugeVolumes() {
        assertThat(Rebuild.chunkSize(1L << 30)).isEqualTo(4096);
        assertThat(Rebuild.chunkSize(10L << 30)).isEqualTo(64 << 10);
        assertThat((1L << 40) / Rebuild.chunkSize(1L << 40)).isLessThanOrEqualTo(256 << 10);
    }
}
