package io.hablock.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nbd.protocol.Nbd;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Servers that misbehave, scripted byte by byte on a real socket: silence, a stranger on the
 * port, a connection dropped mid-reply, a reply to the wrong request.
 */
class NbdClientFaultTest {
    private static final Duration SHORT = Duration.ofMillis(300);

    private final ServerSocket listener;
    private CompletableFuture<Void> script = CompletableFuture.completedFuture(null);

    NbdClientFaultTest() throws IOException {
        listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    }

    @AfterEach
    void stop() throws Exception {
        listener.close();
        script.get(5, TimeUnit.SECONDS); // the script's own assertions
    }

    private InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
    }

    /** The server side: accepts one connection and runs {@code body} on it. */
    private void serve(ServerScript body) {
        script = CompletableFuture.runAsync(() -> {
            try (Socket s = listener.accept()) {
                body.run(new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    interface ServerScript {
        void run(DataInputStream in, DataOutputStream out) throws IOException;
    }

    /**
     * Greeting, client flags, GO for a 1 MiB export; every option before GO (the pipelined
     * client's structured replies) refused as unsupported, so replies are simple ones.
     */
    private static void handshake(DataInputStream in, DataOutputStream out) throws IOException {
        out.writeLong(Nbd.NBDMAGIC);
        out.writeLong(Nbd.IHAVEOPT);
        out.writeShort(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
        out.flush();
        assertThat(in.readInt()).as("client flags").isEqualTo(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        while (true) {
            assertThat(in.readLong()).isEqualTo(Nbd.IHAVEOPT);
            int option = in.readInt();
            in.readFully(new byte[in.readInt()]);
            if (option == Nbd.OPT_GO) {
                break;
            }
            out.writeLong(Nbd.OPTION_REPLY_MAGIC);
            out.writeInt(option);
            out.writeInt(Nbd.REP_ERR_UNSUP);
            out.writeInt(0);
            out.flush();
        }
        out.writeLong(Nbd.OPTION_REPLY_MAGIC);
        out.writeInt(Nbd.OPT_GO);
        out.writeInt(Nbd.REP_INFO);
        out.writeInt(12);
        out.writeShort(Nbd.INFO_EXPORT);
        out.writeLong(1 << 20);
        out.writeShort(Nbd.TFLAG_HAS_FLAGS | Nbd.TFLAG_SEND_FLUSH);
        out.writeLong(Nbd.OPTION_REPLY_MAGIC);
        out.writeInt(Nbd.OPT_GO);
        out.writeInt(Nbd.REP_ACK);
        out.writeInt(0);
        out.flush();
    }

    /** Reads one request header; returns its cookie. */
    private static long readRequest(DataInputStream in) throws IOException {
        assertThat(in.readInt()).isEqualTo(Nbd.REQUEST_MAGIC);
        in.readInt(); // flags, type
        long cookie = in.readLong();
        in.readLong();
        in.readInt();
        return cookie;
    }

    /** A server that reads one request and never answers; complete the future to let it go. */
    private CompletableFuture<Void> serveSilentAfterOneRequest() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        serve((in, out) -> {
            handshake(in, out);
            readRequest(in);
            done.join();
        });
        return done;
    }

    @Test
    void aSilentServerTimesOut() {
        serve((in, out) -> in.read());
        long start = System.nanoTime();
        assertThatThrownBy(() -> NbdClient.connect(address(), "x", SHORT))
                .isInstanceOf(IOException.class).hasMessageContaining("timed out");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void somethingElseOnThePortIsNotAnNbdServer() {
        serve((in, out) -> {
            out.write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
        assertThatThrownBy(() -> NbdClient.connect(address(), "x", SHORT))
                .hasMessageStartingWith("NBD 127.0.0.1:" + listener.getLocalPort() + "/x: not an NBD server");
    }

    @Test
    void aServerThatClosesDuringTheHandshake() {
        serve((in, out) -> {
            out.writeLong(Nbd.NBDMAGIC);
            out.flush();
        });
        assertThatThrownBy(() -> NbdClient.connect(address(), "x", SHORT))
                .hasMessageEndingWith("the server closed the connection during the handshake");
    }

    @Test
    void aConnectionDroppedMidReplyBreaksTheClient() throws IOException {
        serve((in, out) -> {
            handshake(in, out);
            long cookie = readRequest(in);
            out.writeInt(Nbd.SIMPLE_REPLY_MAGIC);
            out.writeInt(0);
            out.writeLong(cookie);
            out.write(new byte[100]); // of 4096
            out.flush();
        });
        try (NbdClient client = NbdClient.connect(address(), "x", SHORT)) {
            assertThat(client.size()).isEqualTo(1 << 20);
            assertThatThrownBy(() -> client.read(0, new byte[4096]))
                    .hasMessage("NBD_CMD_READ of 4096 bytes at offset 0: the server closed the connection");
            assertThatThrownBy(client::flush).hasMessage("the connection to export 'x' is broken: "
                    + "NBD_CMD_READ of 4096 bytes at offset 0: the server closed the connection");
        }
    }

    @Test
    void aServerThatStopsAnsweringTimesOut() throws IOException {
        CompletableFuture<Void> done = serveSilentAfterOneRequest();
        try (NbdClient client = NbdClient.connect(address(), "x", SHORT)) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> client.read(0, new byte[4096]))
                    .hasMessage("NBD_CMD_READ of 4096 bytes at offset 0: no reply within 300 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(SHORT, Duration.ofSeconds(5));
        } finally {
            done.complete(null);
        }
    }

    @Test
    void aWaitEndsAsSoonAsTheAbandonCheckGivesAReason() throws IOException {
        CompletableFuture<Void> done = serveSilentAfterOneRequest();
        try (NbdClient client = NbdClient.connect(address(), "x", Duration.ofSeconds(30))) {
            long start = System.nanoTime();
            client.abandonWhen(() -> System.nanoTime() - start > 500_000_000L ? "the owner moved" : null);
            assertThatThrownBy(client::flush).hasMessage("NBD_CMD_FLUSH: the owner moved");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(500), Duration.ofSeconds(5));
            assertThatThrownBy(client::flush).hasMessageContaining("is broken");
        } finally {
            done.complete(null);
        }
    }

    @Test
    void aServerThatStopsReadingTimesOutAWrite() throws IOException {
        CompletableFuture<Void> done = new CompletableFuture<>();
        serve((in, out) -> {
            handshake(in, out);
            done.join(); // reads nothing more: the socket buffers fill
        });
        try (NbdClient client = NbdClient.connect(address(), "x", SHORT)) {
            long start = System.nanoTime();
            // 32 MiB: more than the socket buffers of both ends hold
            assertThatThrownBy(() -> client.write(0, ByteBuffer.allocateDirect(32 << 20)))
                    .hasMessage("NBD_CMD_WRITE of 33554432 bytes at offset 0: the server took no data for 300 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        } finally {
            done.complete(null);
        }
    }

    @Test
    void aReplyToAnotherRequestIsAProtocolError() throws IOException {
        serve((in, out) -> {
            handshake(in, out);
            long cookie = readRequest(in);
            out.writeInt(Nbd.SIMPLE_REPLY_MAGIC);
            out.writeInt(0);
            out.writeLong(cookie + 1);
            out.flush();
            in.read();
        });
        try (NbdClient client = NbdClient.connect(address(), "x", SHORT)) {
            assertThatThrownBy(client::flush).hasMessageContaining("protocol error: reply for cookie 2 while waiting for 1");
        }
    }

    @Test
    void aPipelinedClientFailsEveryRequestInFlightWhenTheServerDropsTheConnectionMidReply() throws Exception {
        serve((in, out) -> {
            handshake(in, out);
            long first = readRequest(in);
            for (int i = 1; i < 4; i++) {
                readRequest(in);
            }
            out.writeInt(Nbd.SIMPLE_REPLY_MAGIC);
            out.writeInt(0);
            out.writeLong(first);
            out.write(new byte[100]); // of 4096
            out.flush();
        });
        io.netty.channel.EventLoopGroup group = NbdPipelinedClient.group(1, "test-pipelined");
        try {
            NbdPipelinedClient client = NbdPipelinedClient.connect(address(), "x", SHORT, null, group.next(),
                    io.netty.channel.socket.nio.NioSocketChannel.class).join();
            List<CompletableFuture<Void>> sent = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                sent.add(client.read(i * 4096L, ByteBuffer.allocate(4096)));
            }
            for (CompletableFuture<Void> f : sent) {
                assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                        .hasMessageEndingWith("NBD 127.0.0.1:" + listener.getLocalPort() + "/x: the server closed the connection");
            }
            assertThat(client.isOpen()).isFalse();
            assertThatThrownBy(() -> client.flush().get(5, TimeUnit.SECONDS)).hasMessageContaining("closed the connection");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    @Test
    void aPipelinedClientLeavingAServerFailsWhatIsInFlightWithItsReasonAndSendsNothingMore() throws Exception {
        CompletableFuture<Void> done = serveSilentAfterOneRequest();
        io.netty.channel.EventLoopGroup group = NbdPipelinedClient.group(1, "test-pipelined");
        try {
            NbdPipelinedClient client = NbdPipelinedClient.connect(address(), "x", SHORT, null, group.next(),
                    io.netty.channel.socket.nio.NioSocketChannel.class).join();
            CompletableFuture<Void> write = client.write(0, new ByteBuffer[] {ByteBuffer.allocate(512)}, true);
            Thread.sleep(SHORT.toMillis()); // longer than the handshake's timeout: none applies to replies
            assertThat(write).isNotDone();
            assertThat(client.eventLoop().submit(client::oldestInFlightNanos).get()).isGreaterThan(SHORT.toNanos() / 2);
            client.close(new IOException("left on purpose"));
            assertThatThrownBy(() -> write.get(5, TimeUnit.SECONDS)).hasMessageEndingWith("left on purpose");
            assertThatThrownBy(() -> client.flush().get(5, TimeUnit.SECONDS)).hasMessageEndingWith("left on purpose");
        } finally {
            done.complete(null);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    @Test
    void aPipelinedClientGivesUpOnASilentServerAfterItsTimeout() {
        serve((in, out) -> in.read());
        io.netty.channel.EventLoopGroup group = NbdPipelinedClient.group(1, "test-pipelined");
        try {
            long start = System.nanoTime();
            CompletableFuture<NbdPipelinedClient> connecting = NbdPipelinedClient.connect(address(), "x", SHORT, null,
                    group.next(), io.netty.channel.socket.nio.NioSocketChannel.class);
            assertThatThrownBy(() -> connecting.get(5, TimeUnit.SECONDS))
                    .hasMessageEndingWith("/x: no handshake within 300 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(SHORT, Duration.ofSeconds(5));
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    @Test
    void somethingElseOnThePortIsNotAnNbdServerForThePipelinedClientEither() {
        serve((in, out) -> {
            out.write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
        io.netty.channel.EventLoopGroup group = NbdPipelinedClient.group(1, "test-pipelined");
        try {
            CompletableFuture<NbdPipelinedClient> connecting = NbdPipelinedClient.connect(address(), "x", SHORT, null,
                    group.next(), io.netty.channel.socket.nio.NioSocketChannel.class);
            assertThatThrownBy(() -> connecting.get(5, TimeUnit.SECONDS))
                    .hasMessageContaining("NBD 127.0.0.1:" + listener.getLocalPort() + "/x: not an NBD server");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
