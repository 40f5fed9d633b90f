package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Point 1 of the safety issue: the owner's set of copies it writes to never loses a copy the
 * catalogue lists in sync. The race, made to happen on every run: a pass of the owner reads its
 * cached catalogue while a copy is being rebuilt, is held for a few seconds (test delay), and
 * the rebuild ends and records the copy in sync meanwhile. The pass must not act on its old view
 * (it used to drop the copy from the writes: every later write reached the owner only, and was
 * lost when the owner died).
 */
class ServingSetTest {
    private static final String VOLUME = "set";
    private static final int BLOCKS = 256;

    @Test
    void aCopyRecordedInSyncWhileAPassHeldAnOlderViewKeepsGettingEveryWrite() throws Exception {
        String[] delays = {TestDelays.PASS_WITH_REBUILD + "=6s", TestDelays.REBUILD_BEFORE_PROMOTE + "=3s"};
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0,
                NodeSpec.of("n1").withDelays(delays), NodeSpec.of("n2").withDelays(delays), NodeSpec.of("n3").withDelays(delays))) {
            VolumeRecord v = c.admin().createVolume(VOLUME, 64 * MIB, 2, 1, Duration.ofSeconds(30));
            ClusterNode owner = c.node(v.owner());
            ClusterNode copy = c.node(v.inSync().stream().filter(n -> !n.equals(v.owner())).findFirst().orElseThrow());
            ClusterNode spare = c.others(owner, copy).get(0);
            byte[] data = new byte[(int) (8 * MIB)];
            new Random(1).nextBytes(data);
            try (NbdClient nbd = TestCluster.connect(owner, VOLUME, Duration.ofSeconds(30))) {
                nbd.write(0, data, 0, data.length, true);
            }

            // The copy's node leaves: the owner takes it out of sync, the controller has a new
            // copy built on the spare node by the owner.
            c.stop(copy);
            await().atMost(Duration.ofSeconds(30)).until(() -> c.record(VOLUME).replicas().get(spare.nodeId()) == ReplicaState.REBUILDING
                    && c.client().rebuild(VOLUME).isPresent());
            // A pass of the owner now: it sees the copy rebuilding and is held (6 s); the rebuild
            // ends within it (held 3 s before its promotion) and records the copy in sync.
            c.client().updateVolume(VOLUME, cur -> cur.withDesiredOwner(null)); // a change: every node passes
            await().atMost(Duration.ofSeconds(10)).until(() -> owner.delays().entered(TestDelays.PASS_WITH_REBUILD) >= 1);
            assertThat(c.record(VOLUME).replicas().get(spare.nodeId())).as("promoted during the held pass, not before")
                    .isEqualTo(ReplicaState.REBUILDING);
            await().atMost(Duration.ofSeconds(30)).until(() -> c.record(VOLUME).replicas().get(spare.nodeId()) == ReplicaState.IN_SYNC);
            assertThat(owner.delays().completed(TestDelays.PASS_WITH_REBUILD)).as("the held pass is still held").isZero();
            await().atMost(Duration.ofSeconds(20)).until(() -> owner.delays().completed(TestDelays.PASS_WITH_REBUILD) >= 1);
            // Whatever that pass did is done once no rebuild runs any more.
            await().atMost(Duration.ofSeconds(30)).until(() -> c.client().rebuild(VOLUME).isEmpty()
                    && c.record(VOLUME).health().equals("healthy"));

            // Writes after that pass, acknowledged; then the owner dies and the rebuilt copy takes over.
            try (NbdClient nbd = TestCluster.connect(owner, VOLUME, Duration.ofSeconds(30))) {
                for (int b = 0; b < BLOCKS; b++) {
                    nbd.write(16 * MIB + b * 4096L, block(b, 2), 0, 4096, true);
                }
            }
            c.stop(owner);
            ClusterNode next = c.awaitServedBy(VOLUME, Duration.ofSeconds(30), r -> !r.owner().equals(owner.nodeId()));
            assertThat(next).isSameAs(spare);
            try (NbdClient nbd = TestCluster.connect(next, VOLUME, Duration.ofSeconds(30))) {
                int lost = 0;
                for (int b = 0; b < BLOCKS; b++) {
                    byte[] got = new byte[4096];
                    nbd.read(16 * MIB + b * 4096L, got);
                    lost += java.util.Arrays.equals(got, block(b, 2)) ? 0 : 1;
                }
                assertThat(lost).as("acknowledged blocks missing on the copy that took over").isZero();
                byte[] back = new byte[data.length];
                nbd.read(0, back);
                assertThat(back).isEqualTo(data);
            }
        }
    }
}
