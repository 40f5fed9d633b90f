package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The controller's decisions as pure functions of a snapshot: no ZooKeeper needed. */
class PlacementTest {
    private static final long GIB = 1L << 30;

    private final Map<String, NodeInfo> live = new LinkedHashMap<>();
    private final Map<String, Member> members = new LinkedHashMap<>();
    private final List<VolumeRecord> volumes = new ArrayList<>();

    private void node(String id, long capacity, NodeStatus status, boolean alive) {
        members.put(id, new Member(id, "v-" + id, "10.0.0." + id.length(), status, capacity));
        if (alive) {
            live.put(id, new NodeInfo(id, "v-" + id, "10.0.0.1", 10809, 10811, 0, capacity, 0, "test", 0));
        }
    }

    private Placement.Snapshot snapshot() {
        return new Placement.Snapshot(live, members, volumes);
    }

    private static VolumeRecord ready(String name, long size, int copies, String... nodes) {
        VolumeRecord r = VolumeRecord.pending(name, "vd1", size, copies).placed(List.of(nodes));
        for (String n : nodes) {
            r = r.withReplica(n, ReplicaState.IN_SYNC);
        }
        return r.withState(VolumeState.READY).withServed(1);
    }

    @Test
    void newCopiesGoToLiveNormalNodesWithRoomLeastProvisionedFirstAndTheOwnerOwnsTheFewest() {
        node("a", 10 * GIB, NodeStatus.NORMAL, true);
        node("b", 10 * GIB, NodeStatus.NORMAL, true);
        node("c", 10 * GIB, NodeStatus.CORDONED, true);
        node("d", 10 * GIB, NodeStatus.NORMAL, false);
        node("e", 10 * GIB, NodeStatus.NORMAL, true);
        volumes.add(ready("old", 8 * GIB, 1, "a"));

        Placement.Decision d = Placement.place(VolumeRecord.pending("new", "vd2", 2 * GIB, 2), snapshot());

        assertThat(d.refusal()).isNull();
        assertThat(d.nodes()).containsExactlyInAnyOrder("b", "e"); // a is fuller, c cordoned, d not live
        assertThat(Placement.place(VolumeRecord.pending("big", "vd3", 3 * GIB, 3), snapshot()).refusal())
                .isEqualTo("only 2 of 4 live node(s) have room");
    }

    @Test
    void failoverPicksALiveInSyncCopyOnlyWhenTheOwnerCannotServe() {
        node("a", 10 * GIB, NodeStatus.NORMAL, false);
        node("b", 10 * GIB, NodeStatus.NORMAL, true);
        node("c", 10 * GIB, NodeStatus.NORMAL, true);
        VolumeRecord v = ready("v", GIB, 3, "a", "b", "c").withReplica("c", ReplicaState.STALE);
        volumes.add(v);

        assertThat(Placement.ownerLost(v, snapshot())).isTrue();
        assertThat(Placement.failoverTarget(v, snapshot())).contains("b");

        live.put("a", new NodeInfo("a", "v-a", "10.0.0.1", 10809, 10811, 0, GIB, 0, "test", 0));
        assertThat(Placement.ownerLost(v, snapshot())).as("owner back").isFalse();
        VolumeRecord lostItsData = v.withReplica("a", ReplicaState.STALE);
        assertThat(Placement.ownerLost(lostItsData, snapshot())).as("owner's copy out of sync").isTrue();

        live.remove("b");
        assertThat(Placement.failoverTarget(lostItsData, snapshot())).as("no live in-sync copy: wait").isEmpty();
    }

    @Test
    void aStaleCopyOnALiveNodeIsResyncedBeforeANewOneIsBuiltAndSurplusCopiesGoDrainingFirst() {
        node("a", 10 * GIB, NodeStatus.NORMAL, true);
        node("b", 10 * GIB, NodeStatus.NORMAL, true);
        node("c", 10 * GIB, NodeStatus.DRAINING, true);
        node("d", 10 * GIB, NodeStatus.NORMAL, true);
        VolumeRecord v = ready("v", GIB, 2, "a", "b", "c").withReplica("b", ReplicaState.STALE);
        volumes.add(v);

        assertThat(Placement.staleCopyToResync(v, snapshot())).contains("b");
        assertThat(Placement.usableCopies(v, snapshot())).containsExactly("a");
        assertThat(Placement.newCopyNode(v, snapshot())).contains("d");

        VolumeRecord four = ready("w", GIB, 2, "a", "b", "c", "d");
        assertThat(Placement.surplusCopies(four, snapshot())).containsExactly("c", "b");
    }
}
