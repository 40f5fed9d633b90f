package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Point 3(c) of the safety issue: a forwarding node (a host endpoint) sends a write to the owner,
 * which holds it longer than the forwarder's old reply timeout (10 s). The forwarder used to send
 * it again on a new connection: the retry was acknowledged, the client wrote a newer version of
 * the block, and then the first attempt, still queued at the owner, landed last (a lost update;
 * a lone copy took no range lock to order them). Now the forwarder waits for the owner it sent
 * the request to as long as the cluster names that owner, and never has two attempts in flight.
 */
class ExactlyOnceForwardingTest {
    private static final String VOLUME = "once";

    @Test
    void aWriteHeldAtTheOwnerIsNotSentTwiceAndNeverLandsAfterANewerOne() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0,
                NodeSpec.of("owner").withDelays(TestDelays.OWNER_CHANGE + "=13sx1"),
                NodeSpec.of("host").forwarding().noCopies())) {
            VolumeRecord v = c.admin().createVolume(VOLUME, 16 * MIB, 1, 1, Duration.ofSeconds(30));
            ClusterNode owner = c.node(v.owner());
            ClusterNode host = c.byName("host");
            assertThat(host).isNotSameAs(owner);

            try (NbdClient nbd = TestCluster.connect(host, VOLUME, Duration.ofSeconds(60))) {
                nbd.write(0, block(0, 1), 0, 4096, true); // held 13 s at the owner
                nbd.write(0, block(0, 2), 0, 4096, true);
                await().atMost(Duration.ofSeconds(30)).until(() -> owner.delays().completed(TestDelays.OWNER_CHANGE) >= 1);
                byte[] got = new byte[4096];
                nbd.read(0, got);
                assertThat(TestCluster.versionOf(0, got)).as("the block's version after version 2 was acknowledged").isEqualTo(2);
            }
            assertThat(TestCluster.versionOf(0, TestCluster.readCopy(owner, VOLUME, 0, 4096))).isEqualTo(2);
        }
    }
}
