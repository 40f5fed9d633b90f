package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import io.hablock.nbd.client.NbdCommandException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * {@code --min-copies}: below that many in-sync copies the owner refuses writes (EIO) instead of
 * acknowledging them on too few disks, keeps serving reads, and takes writes again once copies
 * are rebuilt.
 */
class MinCopiesTest {
    private static final String VOLUME = "careful";

    @Test
    void belowMinCopiesWritesAreRefusedReadsServedAndWritesComeBackWithTheCopies() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("n1"), NodeSpec.of("n2"),
                NodeSpec.of("n3"))) {
            VolumeRecord v = c.admin().createVolume(VOLUME, 16 * MIB, 3, 2, Duration.ofSeconds(30));
            assertThat(v.minCopies()).isEqualTo(2);
            ClusterNode owner = c.node(v.owner());
            try (NbdClient nbd = TestCluster.connect(owner, VOLUME, Duration.ofSeconds(30))) {
                nbd.write(0, block(0, 1), 0, 4096, true);
            }
            ClusterNode second = c.others(owner).get(0);
            ClusterNode third = c.others(owner).get(1);
            c.stop(second);
            await().atMost(Duration.ofSeconds(20)).until(() -> c.record(VOLUME).health().equals("degraded"));
            try (NbdClient nbd = TestCluster.connect(owner, VOLUME, Duration.ofSeconds(30))) {
                nbd.write(0, block(0, 2), 0, 4096, true); // 2 copies in sync: still acknowledged
            }
            c.stop(third);
            await().atMost(Duration.ofSeconds(20)).until(() -> c.record(VOLUME).health().equals("read-only"));
            try (NbdClient nbd = TestCluster.connect(owner, VOLUME, Duration.ofSeconds(30))) {
                assertThatThrownBy(() -> nbd.write(0, block(0, 3), 0, 4096, true)).isInstanceOf(NbdCommandException.class)
                        .hasMessageContaining("EIO");
                byte[] got = new byte[4096];
                nbd.read(0, got);
                assertThat(TestCluster.versionOf(0, got)).as("reads go on").isEqualTo(2);
            }

            // A node comes back: its stale copy is resynced, and writes are acknowledged again.
            c.restart("n" + second.store().dataDir().getFileName().toString().substring(1));
            await().atMost(Duration.ofSeconds(30)).until(() -> c.record(VOLUME).health().equals("degraded"));
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                try (NbdClient nbd = TestCluster.connect(owner, VOLUME, Duration.ofSeconds(30))) {
                    nbd.write(0, block(0, 4), 0, 4096, true);
                }
            });
        }
    }
}
