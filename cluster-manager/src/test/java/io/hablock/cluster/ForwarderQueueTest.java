package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import io.hablock.nbd.client.NbdPipelinedClient;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The host endpoint's queue: while no owner serves a volume, a forwarding node holds its
 * clients' requests and sends them to the owner that comes next, but not those of a client that
 * disconnected meanwhile (its write must not land later, after whatever it did next elsewhere).
 */
class ForwarderQueueTest {
    private static final String VOLUME = "queued";

    @Test
    void requestsWaitForTheNextOwnerAndThoseOfAClientThatLeftAreDropped() throws Exception {
        EventLoopGroup group = NbdPipelinedClient.group(1, "test-client");
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("owner"),
                NodeSpec.of("host").forwarding().noCopies())) {
            VolumeRecord v = c.admin().createVolume(VOLUME, 16 * MIB, 1, 1, Duration.ofSeconds(30));
            ClusterNode host = c.byName("host");
            assertThat(v.owner()).isEqualTo(c.byName("owner").nodeId());
            try (NbdClient nbd = TestCluster.connect(host, VOLUME, Duration.ofSeconds(10))) {
                nbd.write(0, block(0, 1), 0, 4096, true);
                nbd.write(4096, block(1, 1), 0, 4096, true);
            }

            c.stop(c.byName("owner")); // its only copy is gone with it: nobody serves the volume
            InetSocketAddress endpoint = new InetSocketAddress("127.0.0.1", host.nbdAddress().getPort());
            NbdPipelinedClient leaving = NbdPipelinedClient.connect(endpoint, VOLUME, Duration.ofSeconds(5), null,
                    group.next(), NioSocketChannel.class).get(10, TimeUnit.SECONDS);
            NbdPipelinedClient staying = NbdPipelinedClient.connect(endpoint, VOLUME, Duration.ofSeconds(5), null,
                    group.next(), NioSocketChannel.class).get(10, TimeUnit.SECONDS);
            CompletableFuture<Void> dropped = leaving.write(0, new ByteBuffer[] {ByteBuffer.wrap(block(0, 2))}, true);
            CompletableFuture<Void> waits = staying.write(4096, new ByteBuffer[] {ByteBuffer.wrap(block(1, 2))}, true);
            Thread.sleep(1000);
            assertThat(dropped).as("a write while no owner serves").isNotDone();
            assertThat(waits).isNotDone();
            leaving.close();

            c.restart("owner");
            waits.get(30, TimeUnit.SECONDS); // sent to the owner once it serves again
            byte[] got = new byte[4096];
            try (NbdClient nbd = TestCluster.connect(host, VOLUME, Duration.ofSeconds(10))) {
                nbd.read(4096, got);
                assertThat(TestCluster.versionOf(1, got)).as("the waiting client's write").isEqualTo(2);
                await("block 0 keeps version 1: the write of the client that left was never sent")
                        .during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> {
                            nbd.read(0, got);
                            return TestCluster.versionOf(0, got) == 1;
                        });
            }
            staying.close();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
