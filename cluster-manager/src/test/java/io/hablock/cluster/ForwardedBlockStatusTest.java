package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.Extent;
import io.hablock.nbd.client.NbdClient;
import io.hablock.nbd.client.NbdPipelinedClient;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * BLOCK_STATUS through a forwarding node answers with the owner's allocation map (it used to say
 * "all data"), and, like a read, waits while no owner serves the volume and is sent to the owner
 * that comes next.
 */
class ForwardedBlockStatusTest {
    private static final String VOLUME = "mapped";
    private static final int KIB = 1024;

    private static NbdPipelinedClient connect(ClusterNode node, EventLoopGroup group) throws Exception {
        InetSocketAddress endpoint = new InetSocketAddress("127.0.0.1", node.nbdAddress().getPort());
        return NbdPipelinedClient.connect(endpoint, VOLUME, Duration.ofSeconds(5), null, group.next(),
                NioSocketChannel.class).get(10, TimeUnit.SECONDS);
    }

    @Test
    void aForwardingNodeGivesTheOwnersMapAndKeepsTheRequestWhileNoOwnerServes() throws Exception {
        EventLoopGroup group = NbdPipelinedClient.group(1, "test-client");
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("owner"),
                NodeSpec.of("host").forwarding().noCopies())) {
            VolumeRecord v = c.admin().createVolume(VOLUME, 16 * MIB, 1, 1, Duration.ofSeconds(30));
            ClusterNode host = c.byName("host");
            assertThat(v.owner()).isEqualTo(c.byName("owner").nodeId());
            try (NbdClient nbd = TestCluster.connect(host, VOLUME, Duration.ofSeconds(10))) {
                for (int i = 0; i < 64; i++) { // 256 KiB of data
                    nbd.write(i * 4096L, block(i, 1), 0, 4096, false);
                }
                nbd.trim(64 * KIB, 64 * KIB, true);
            }
            List<Extent> expected = List.of(new Extent(0, 64 * KIB, false), new Extent(64 * KIB, 64 * KIB, true),
                    new Extent(128 * KIB, 128 * KIB, false), new Extent(256 * KIB, 16 * MIB - 256 * KIB, true));

            NbdPipelinedClient owner = connect(c.byName("owner"), group);
            assertThat(owner.blockStatus(0, 16 * MIB).get(10, TimeUnit.SECONDS)).as("through the owner").isEqualTo(expected);
            owner.close();
            NbdPipelinedClient forwarded = connect(host, group);
            assertThat(forwarded.blockStatus(0, 16 * MIB).get(10, TimeUnit.SECONDS)).as("through the forwarding node")
                    .isEqualTo(expected);

            c.stop(c.byName("owner")); // its only copy is gone with it: nobody serves the volume
            CompletableFuture<List<Extent>> waits = forwarded.blockStatus(0, 16 * MIB);
            Thread.sleep(1000);
            assertThat(waits).as("BLOCK_STATUS while no owner serves").isNotDone();
            c.restart("owner");
            assertThat(waits.get(30, TimeUnit.SECONDS)).as("sent to the owner once it serves again").isEqualTo(expected);
            forwarded.close();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
