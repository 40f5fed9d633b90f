package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import io.hablock.nbd.client.NbdCommandException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * An owner's final error answer reaches the client of a forwarding node as that error: a write
 * that a read-only owner refuses is EPERM there too (it was EIO), and nothing is retried.
 */
class ForwardedErrorTest {
    private static final String VOLUME = "refused";

    @Test
    void aForwardedWriteTheOwnerRefusesIsEpermForTheClient() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("owner").servingReadOnly(),
                NodeSpec.of("host").forwarding().noCopies())) {
            VolumeRecord v = c.admin().createVolume(VOLUME, 16 * MIB, 1, 1, Duration.ofSeconds(30));
            assertThat(v.owner()).isEqualTo(c.byName("owner").nodeId());
            try (NbdClient nbd = TestCluster.connect(c.byName("host"), VOLUME, Duration.ofSeconds(10))) {
                assertThatThrownBy(() -> nbd.write(0, block(0, 1), 0, 4096, true))
                        .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("EPERM"));
                nbd.read(0, new byte[4096]); // the connection goes on
            }
        }
    }
}
