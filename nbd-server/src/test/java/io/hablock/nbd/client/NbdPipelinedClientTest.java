package io.hablock.nbd.client;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The pipelined client against hablock's own NBD server (and a server that dies), over TCP. */
class NbdPipelinedClientTest extends ServerTest {
    private final EventLoopGroup group = NbdPipelinedClient.group(1, "test-pipelined");

    @AfterEach
    void stopGroup() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private NbdPipelinedClient connect() throws IOException {
        return NbdPipelinedClient.connect(fixture.address(), ServerFixture.VOLUME, Duration.ofSeconds(5), null, group.next(),
                io.netty.channel.socket.nio.NioSocketChannel.class).join();
    }

    @Test
    void manyRequestsInFlightOnOneConnectionEachGetTheirOwnAnswer() throws Exception {
        NbdPipelinedClient client = connect();
        assertThat(client.size()).isEqualTo(ServerFixture.VOLUME_SIZE);
        int blocks = 256;
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            ByteBuffer data = ByteBuffer.wrap(pattern(4096, i));
            // split in two parts: one request all the same
            ByteBuffer head = data.duplicate().limit(1000);
            ByteBuffer tail = data.duplicate().position(1000);
            writes.add(client.write(i * 65536L, new ByteBuffer[] {head, tail}, i % 7 == 0));
        }
        CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        List<CompletableFuture<Void>> reads = new ArrayList<>();
        List<ByteBuffer> back = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            ByteBuffer dst = ByteBuffer.allocateDirect(4096);
            back.add(dst);
            reads.add(client.read(i * 65536L, dst));
        }
        reads.add(client.flush());
        CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        for (int i = 0; i < blocks; i++) {
            byte[] got = new byte[4096];
            back.get(i).get(got);
            assertThat(got).as("block %d", i).isEqualTo(pattern(4096, i));
        }
        assertThat(client.inFlight()).isZero();
        client.close();
    }

    @Test
    void anErrorAnswersOneRequestAndTheConnectionGoesOn() throws Exception {
        NbdPipelinedClient client = connect();
        CompletableFuture<Void> bad = client.read(ServerFixture.VOLUME_SIZE - 512, ByteBuffer.allocate(4096));
        assertThatThrownBy(() -> bad.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(NbdCommandException.class)
                .hasMessageContaining("EINVAL");
        client.write(0, new ByteBuffer[] {ByteBuffer.wrap(pattern(512, 9))}, false).get(5, TimeUnit.SECONDS);
        ByteBuffer back = ByteBuffer.allocate(512);
        client.read(0, back).get(5, TimeUnit.SECONDS);
        assertThat(back.array()).isEqualTo(pattern(512, 9));
        assertThat(client.isOpen()).isTrue();
        client.close();
    }

    @Test
    void anUnknownExportIsRefusedWithTheServersMessage() {
        CompletableFuture<NbdPipelinedClient> refused = NbdPipelinedClient.connect(fixture.address(), "no-such-volume",
                Duration.ofSeconds(5), null, group.next(), io.netty.channel.socket.nio.NioSocketChannel.class);
        assertThatThrownBy(() -> refused.get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(NbdOptionException.class, e -> assertThat(e.replyName()).isEqualTo("NBD_REP_ERR_UNKNOWN"))
                .hasMessageContaining("no volume named 'no-such-volume' on this node");
    }
}
