package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Point 3(b) of the safety issue: a volume moved away from a live owner (a drain, a move) while
 * one of its writes is in flight there. That write used to be applied to the old owner's own copy
 * without any fencing, after the new owner had fenced that copy and acknowledged a newer write to
 * the same block: the in-sync copies then differed, and a failover to the old owner's copy lost
 * the newer write. Now the old owner stops and waits for its changes in flight before it names
 * the new owner (a handover), and its own copy is fenced like any other.
 */
class HandoverTest {
    @Test
    void aStillRunningOldOwnerCannotWriteItsOwnCopyOnceANewerOwnerFencedIt() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0,
                NodeSpec.of("n1").withDelays(TestDelays.OWNER_CHANGE + "=4sx1"), NodeSpec.of("n2"))) {
            VolumeRecord v = c.admin().createVolume("fenced", 16 * MIB, 1, 1, Duration.ofSeconds(30));
            ClusterNode owner = c.node(v.owner());
            assertThat(owner.store().dataDir().getFileName().toString()).isEqualTo("n1");
            // A write of version 1, held at the owner right before it applies it to its own copy.
            CompletableFuture<String> held = CompletableFuture.supplyAsync(() -> {
                try (NbdClient nbd = TestCluster.connect(owner, "fenced", Duration.ofSeconds(60))) {
                    nbd.write(0, block(0, 1), 0, 4096, true);
                    return "acknowledged";
                } catch (Exception e) {
                    return "failed: " + e.getMessage();
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> owner.delays().entered(TestDelays.OWNER_CHANGE) >= 1);
            // Meanwhile a newer owner (epoch + 1) fences this copy and writes version 2 to it, as
            // it does with every in-sync copy before and while it serves.
            try (io.hablock.cluster.replication.ReplicationClient newer = new io.hablock.cluster.replication.ReplicationClient(
                    Duration.ofSeconds(5), io.hablock.cluster.security.TestSecrets.node(v.owner()))) {
                io.hablock.blockstore.Generation g = new io.hablock.blockstore.Generation(v.epoch() + 1, 1);
                java.net.InetSocketAddress at = owner.replicationAddress();
                newer.fence(new java.net.InetSocketAddress("127.0.0.1", at.getPort()), v.uuid(), g).get(10, TimeUnit.SECONDS);
                newer.write(new java.net.InetSocketAddress("127.0.0.1", at.getPort()), v.uuid(), g, 0,
                        java.nio.ByteBuffer.wrap(block(0, 2)), true).get(10, TimeUnit.SECONDS);
            }
            assertThat(held.get(30, TimeUnit.SECONDS)).as("the held write").startsWith("failed");
            assertThat(TestCluster.versionOf(0, TestCluster.readCopy(owner, "fenced", 0, 4096)))
                    .as("version of block 0 on the old owner's own copy").isEqualTo(2);
        }
    }

    private static final String VOLUME = "moved";

    @Test
    void aDrainWaitsForTheOldOwnersWritesInFlightAndNothingLandsAfterTheNewOwnersWrites() throws Exception {
        String slowChange = TestDelays.OWNER_CHANGE + "=4sx1";
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("n1").withDelays(slowChange),
                NodeSpec.of("n2").withDelays(slowChange), NodeSpec.of("n3").withDelays(slowChange))) {
            VolumeRecord v = c.admin().createVolume(VOLUME, 16 * MIB, 2, 1, Duration.ofSeconds(30));
            ClusterNode oldOwner = c.node(v.owner());
            String other = v.inSync().stream().filter(n -> !n.equals(v.owner())).findFirst().orElseThrow();

            // A write of version 1 to block 0, held at the old owner after it was sent to the other
            // copy and before it is applied to its own.
            CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
                try (NbdClient nbd = TestCluster.connect(oldOwner, VOLUME, Duration.ofSeconds(60))) {
                    nbd.write(0, block(0, 1), 0, 4096, true);
                    return "acknowledged";
                } catch (Exception e) {
                    return "failed: " + e.getMessage();
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> oldOwner.delays().entered(TestDelays.OWNER_CHANGE) >= 1);

            // The old owner is drained meanwhile: the other copy's node takes the volume, and a
            // write of version 2 to the same block is acknowledged there.
            c.admin().setNodeStatus(oldOwner.nodeId(), NodeStatus.DRAINING);
            ClusterNode newOwner = c.awaitServedBy(VOLUME, Duration.ofSeconds(30), r -> r.owner().equals(other));
            try (NbdClient nbd = TestCluster.connect(newOwner, VOLUME, Duration.ofSeconds(30))) {
                nbd.write(0, block(0, 2), 0, 4096, true);
            }
            String first = slow.get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(10)).until(() -> oldOwner.delays().completed(TestDelays.OWNER_CHANGE) >= 1);

            // Every copy the catalogue calls in sync holds version 2, the old owner's included.
            VolumeRecord now = c.record(VOLUME);
            for (String id : now.inSync()) {
                assertThat(TestCluster.versionOf(0, TestCluster.readCopy(c.node(id), VOLUME, 0, 4096)))
                        .as("version of block 0 on the in-sync copy of %s (the held write was %s)", id, first).isEqualTo(2);
            }
            // And when the new owner goes, what the old owner serves is still version 2.
            if (now.inSync().contains(oldOwner.nodeId())) {
                c.admin().setNodeStatus(oldOwner.nodeId(), NodeStatus.NORMAL);
                c.stop(newOwner);
                ClusterNode back = c.awaitServedBy(VOLUME, Duration.ofSeconds(30), r -> !r.owner().equals(other));
                try (NbdClient nbd = TestCluster.connect(back, VOLUME, Duration.ofSeconds(30))) {
                    byte[] got = new byte[4096];
                    nbd.read(0, got);
                    assertThat(TestCluster.versionOf(0, got)).isEqualTo(2);
                }
            }
        }
    }
}
