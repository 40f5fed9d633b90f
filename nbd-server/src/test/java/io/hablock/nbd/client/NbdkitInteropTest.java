package io.hablock.nbd.client;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.hablock.nbd.Extent;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The clients against an independent server, {@code nbdkit memory 64M} (with and without
 * structured replies): proves they speak the protocol and not only our server's reading of it.
 */
class NbdkitInteropTest {
    private static final int MIB = 1 << 20;
    private static Nbdkit nbdkit;
    private static InetSocketAddress address;

    /** A running nbdkit and where it listens. */
    private record Nbdkit(Process process, InetSocketAddress address) {
        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    @BeforeAll
    static void startNbdkit() throws IOException {
        nbdkit = nbdkit("nbdkit-interop.log");
        address = nbdkit.address();
    }

    /** {@code nbdkit memory 64M} with {@code options} on a free loopback port, once it takes connections. */
    private static Nbdkit nbdkit(String log, String... options) throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        List<String> command = new ArrayList<>(List.of("nbdkit", "-f", "-p", String.valueOf(port), "-i", "127.0.0.1"));
        command.addAll(List.of(options));
        command.addAll(List.of("memory", "64M"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(new File("target/" + log));
        pb.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        Process process = pb.start();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
            assertThat(process.isAlive()).as("nbdkit running (see nbd-server/target/" + log + ")").isTrue();
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return true;
            }
        });
        return new Nbdkit(process, new InetSocketAddress("127.0.0.1", port));
    }

    @AfterAll
    static void stopNbdkit() throws InterruptedException {
        if (nbdkit != null) {
            nbdkit.stop();
        }
    }

    @Test
    void writesReadsAndFlushes() throws IOException {
        byte[] data = pattern(5 * MIB + 4096, 11);
        byte[] back = new byte[data.length];
        try (NbdClient client = NbdClient.connect(address, "")) {
            assertThat(client.size()).isEqualTo(64L * MIB);
            client.write(7 * MIB, data);
            client.flush();
        }
        try (NbdClient client = NbdClient.connect(address, "")) {
            client.read(7 * MIB, back);
        }
        assertThat(Arrays.equals(back, data)).as("read back through a second connection").isTrue();
    }

    @Test
    void errorsFromNbdkitAreNamed() throws IOException {
        try (NbdClient client = NbdClient.connect(address, "")) {
            assertThatThrownBy(() -> client.read(64L * MIB, new byte[512]))
                    .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("EINVAL"));
            assertThatThrownBy(() -> client.write(64L * MIB, new byte[512]))
                    .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("ENOSPC"));
            byte[] zeros = new byte[4096];
            client.read(60L * MIB, zeros);
            assertThat(zeros).containsOnly(0);
        }
    }

    private static NbdPipelinedClient pipelined(InetSocketAddress at, EventLoopGroup group) {
        return NbdPipelinedClient.connect(at, "", Duration.ofSeconds(5), null, group.next(), NioSocketChannel.class).join();
    }

    /** nbdkit's structured replies and base:allocation, as another server than ours sends them. */
    @Test
    void aPipelinedClientReadsAndAsksBlockStatusWithStructuredReplies() throws Exception {
        EventLoopGroup group = NbdPipelinedClient.group(1, "test-nbdkit");
        try {
            NbdPipelinedClient client = pipelined(address, group);
            assertThat(client.hasBlockStatus()).isTrue();
            long base = 32L * MIB;
            byte[] data = pattern(64 << 10, 12);
            client.write(base, new ByteBuffer[] {ByteBuffer.wrap(data)}, false).get(5, TimeUnit.SECONDS);
            ByteBuffer back = ByteBuffer.allocateDirect(MIB);
            client.read(base, back).get(5, TimeUnit.SECONDS);
            byte[] got = new byte[MIB];
            back.get(got);
            byte[] expected = Arrays.copyOf(data, MIB);
            assertThat(Arrays.equals(got, expected)).as("data, then zeros").isTrue();

            List<Extent> map = client.blockStatus(base, 4L * MIB).get(5, TimeUnit.SECONDS);
            assertThat(map.get(0).offset()).isEqualTo(base);
            for (int i = 1; i < map.size(); i++) {
                assertThat(map.get(i).offset()).as("contiguous: %s", map).isEqualTo(map.get(i - 1).end());
            }
            assertThat(map.get(map.size() - 1).end()).isLessThanOrEqualTo(base + 4L * MIB);
            assertThat(map.get(0).hole()).as("the written 64 KiB: %s", map).isFalse();
            assertThat(map.get(0).end()).isGreaterThanOrEqualTo(base + data.length);
            assertThat(map).as("the rest of the 4 MiB was never written").anySatisfy(e -> {
                assertThat(e.hole()).isTrue();
                assertThat(e.end()).isEqualTo(base + 4L * MIB);
            });

            CompletableFuture<Void> beyond = client.read(64L * MIB, ByteBuffer.allocate(512));
            assertThatThrownBy(() -> beyond.get(5, TimeUnit.SECONDS)).cause()
                    .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("EINVAL"));
            assertThat(client.isOpen()).isTrue();
            client.close();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** A server that refuses structured replies is served with simple ones, and has no block status. */
    @Test
    void aPipelinedClientSpeaksSimpleRepliesToAServerWithoutStructuredReplies() throws Exception {
        Nbdkit simple = nbdkit("nbdkit-interop-no-sr.log", "--no-sr");
        EventLoopGroup group = NbdPipelinedClient.group(1, "test-nbdkit");
        try {
            NbdPipelinedClient client = pipelined(simple.address(), group);
            assertThat(client.hasBlockStatus()).isFalse();
            assertThatThrownBy(() -> client.blockStatus(0, 4096).get(5, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(IllegalStateException.class);
            byte[] data = pattern(8192, 13);
            client.write(MIB, new ByteBuffer[] {ByteBuffer.wrap(data)}, false).get(5, TimeUnit.SECONDS);
            ByteBuffer back = ByteBuffer.allocate(8192);
            client.read(MIB, back).get(5, TimeUnit.SECONDS);
            assertThat(back.array()).isEqualTo(data);
            client.close();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            simple.stop();
        }
    }
}
