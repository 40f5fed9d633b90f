package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.nbd.client.NbdClient;
import io.hablock.nbd.client.NbdOptionException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * An export name that is not a volume name is refused at once. ZooKeeper paths normalize
 * slashes, so "v1/" and "/v1" used to find v1's record; the owner then waited, under that name,
 * for a volume it never serves by it, and a client's first request hung for a minute.
 */
class ExportNamesTest {
    @Test
    void namesThatAreNotVolumeNamesAreRefusedAtOnce() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("n1").forwarding())) {
            c.admin().createVolume("v1", 16 * MIB, 1, 1, Duration.ofSeconds(30));
            ClusterNode n = c.byName("n1");
            for (String name : new String[] {"v1/", "/v1", "/v1/", "v1//", "v1/@owner", "./v1"}) {
                long start = System.nanoTime();
                assertThatThrownBy(() -> TestCluster.connect(n, name, Duration.ofSeconds(10)).close())
                        .as("export '%s'", name).isInstanceOf(NbdOptionException.class);
                assertThat((System.nanoTime() - start) / 1e9).as("seconds to refuse '%s'", name).isLessThan(2.0);
            }
            try (NbdClient nbd = TestCluster.connect(n, "v1", Duration.ofSeconds(10))) {
                nbd.read(0, new byte[4096]);
            }
        }
    }
}
