package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An owner answers only while its lease holds, measured on the monotonic clock from its last
 * confirmed ZooKeeper round trip, whatever the order of connection events (points 2, 3(a) and
 * 3(e) of the safety issue; the pause of a whole process is in the acceptance tests). While it
 * waits, its network threads stay free: other connections, and new ones, are served.
 */
class LeaseTest {
    private static final String VOLUME = "leased";

    @Test
    void withoutZooKeeperReadsWaitOffTheNetworkThreadAndResumeWhenTheLeaseIsBack() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(10), 0, NodeSpec.of("n1"))) {
            ClusterNode node = c.nodes().get(0);
            VolumeRecord v = c.admin().createVolume(VOLUME, 16 * MIB, 1, 1, Duration.ofSeconds(30));
            assertThat(v.owner()).isEqualTo(node.nodeId());
            byte[] big = new byte[(int) MIB];
            new java.util.Random(3).nextBytes(big);
            try (NbdClient nbd = TestCluster.connect(node, VOLUME, Duration.ofSeconds(10))) {
                nbd.write(0, block(0, 1), 0, 4096, true);
                nbd.write(MIB, big, 0, big.length, true);
            }
            NbdClient small = TestCluster.connect(node, VOLUME, Duration.ofSeconds(60));
            NbdClient large = TestCluster.connect(node, VOLUME, Duration.ofSeconds(60));
            try {
                c.zooKeeper().stop();
                await().atMost(Duration.ofSeconds(15)).until(() -> !node.holdsLease());

                // A small read (served on the network thread when all is well) and a large one
                // (once sent straight from the file) must wait: this node cannot prove it owns the volume.
                CompletableFuture<byte[]> smallRead = CompletableFuture.supplyAsync(() -> read(small, 0, 4096));
                CompletableFuture<byte[]> largeRead = CompletableFuture.supplyAsync(() -> read(large, MIB, (int) MIB));
                // Meanwhile the network threads answer others: new connections get through their
                // handshake (some of them on the thread the small read came in on).
                for (int i = 0; i < 4; i++) {
                    try (NbdClient other = TestCluster.connect(node, VOLUME, Duration.ofSeconds(2))) {
                        assertThat(other.size()).isEqualTo(16 * MIB);
                    }
                }
                assertThat(node.holdsLease()).as("still without ZooKeeper").isFalse();
                assertThat(smallRead).as("answered without a lease").isNotDone();
                assertThat(largeRead).as("answered without a lease").isNotDone();

                c.zooKeeper().restart();
                assertThat(smallRead.get(20, TimeUnit.SECONDS)).isEqualTo(block(0, 1));
                assertThat(largeRead.get(20, TimeUnit.SECONDS)).isEqualTo(big);
            } finally {
                small.close();
                large.close();
            }
        }
    }

    @Test
    void aZooKeeperConnectionThatFlapsLeavesNoWindowWithoutALease() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(10), 0, NodeSpec.of("n1"))) {
            ClusterNode node = c.nodes().get(0);
            c.admin().createVolume(VOLUME, 16 * MIB, 1, 1, Duration.ofSeconds(30));
            try (NbdClient nbd = TestCluster.connect(node, VOLUME, Duration.ofSeconds(10))) {
                nbd.write(0, block(0, 1), 0, 4096, true);
            }
            // Down, back, and down again right away: whatever order the connection events come
            // in, once the last confirmation is older than the lease, nothing is answered.
            c.zooKeeper().stop();
            await().atMost(Duration.ofSeconds(15)).until(() -> !node.holdsLease());
            c.zooKeeper().restart();
            await().atMost(Duration.ofSeconds(15)).until(node::holdsLease);
            c.zooKeeper().stop();
            await().atMost(Duration.ofSeconds(15)).until(() -> !node.holdsLease());
            List<Throwable> outcomes = new ArrayList<>();
            try (NbdClient nbd = TestCluster.connect(node, VOLUME, Duration.ofSeconds(1))) {
                nbd.read(0, new byte[4096]);
                outcomes.add(null);
            } catch (Exception e) {
                outcomes.add(e);
            }
            assertThat(outcomes.get(0)).as("a read without a lease").isNotNull()
                    .satisfies(e -> assertThat(e).hasRootCauseInstanceOf(SocketTimeoutException.class));
            c.zooKeeper().restart();
            await().atMost(Duration.ofSeconds(15)).until(node::holdsLease);
            try (NbdClient nbd = TestCluster.connect(node, VOLUME, Duration.ofSeconds(10))) {
                byte[] got = new byte[4096];
                nbd.read(0, got);
                assertThat(got).isEqualTo(block(0, 1));
            }
        }
    }

    private static byte[] read(NbdClient nbd, long offset, int length) {
        try {
            byte[] b = new byte[length];
            nbd.read(offset, b);
            return b;
        } catch (Exception e) {
            throw new java.util.concurrent.CompletionException(e);
        }
    }
}
