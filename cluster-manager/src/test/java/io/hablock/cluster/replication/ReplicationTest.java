package io.hablock.cluster.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.hablock.blockstore.BlockStore;
import io.hablock.blockstore.Extent;
import io.hablock.blockstore.Generation;
import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.security.ClusterTls;
import io.hablock.cluster.security.TestSecrets;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** Client and server over real sockets on 127.0.0.1, applying to a real block store. */
class ReplicationTest {
    private static final long MIB = 1 << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    /** The node the copy's catalogue names as the volume's owner: the only one whose changes it takes. */
    private static final ClusterTls OWNER = TestSecrets.node("owner");
    private static final ChangeAuthorizer ONLY_OWNER = new ChangeAuthorizer() {
        @Override
        public boolean mayChangeCached(UUID volume, String nodeId) {
            return false; // always the slow path too
        }

        @Override
        public boolean mayChange(UUID volume, String nodeId) {
            return nodeId.equals("owner");
        }
    };

    @TempDir Path dir;
    private BlockStore store;
    private final Map<UUID, LocalVolume> copies = new ConcurrentHashMap<>();
    private ReplicationServer server;
    private ReplicationClient client;
    private InetSocketAddress peer;
    private UUID volume;

    @BeforeEach
    void start() throws IOException {
        store = BlockStore.open(dir.resolve("node"));
        volume = UUID.randomUUID();
        addCopy("vol", 16 * MIB, volume);
        server = startServer(0);
        peer = server.localAddress();
        client = new ReplicationClient(TIMEOUT, OWNER);
    }

    @AfterEach
    void stop() {
        client.close();
        server.close();
        copies.values().forEach(LocalVolume::close);
        store.close();
    }

    private void addCopy(String name, long size, UUID uuid) throws IOException {
        store.create(name, size, uuid);
        copies.put(uuid, store.open(name));
    }

    private ReplicationServer startServer(int port) throws IOException {
        return new ReplicationServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), port),
                copies::get, TestSecrets.node("copy"), ONLY_OWNER).start();
    }

    private LocalVolume copy() {
        return copies.get(volume);
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    private static Throwable failureOf(CompletableFuture<?> f) {
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        return e.getCause();
    }

    private byte[] read(long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        copy().read(b, offset);
        return b.array();
    }

    private static Generation g(long epoch) {
        return Generation.of(epoch);
    }

    private static byte[] random(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void writeTrimZeroesAndFlushAreApplied() throws Exception {
        byte[] data = random((int) MIB, 1);
        ByteBuffer direct = ByteBuffer.allocateDirect(data.length).put(data).flip();
        get(client.write(peer, volume, g(1), 3 * MIB, direct, false));
        assertThat(direct.position()).as("caller's buffer untouched").isZero();
        get(client.write(peer, volume, g(1), 0, ByteBuffer.wrap(data, 100, 4096), false));
        get(client.flush(peer, volume, g(1)));
        assertThat(read(3 * MIB, data.length)).isEqualTo(data);
        assertThat(read(0, 4096)).isEqualTo(Arrays.copyOfRange(data, 100, 4196));

        get(client.trim(peer, volume, g(1), 3 * MIB, 64 * 1024, false));
        get(client.writeZeroes(peer, volume, g(1), 3 * MIB + 128 * 1024, 4096, false, false));
        get(client.writeZeroes(peer, volume, g(1), 3 * MIB + 256 * 1024, 8192, true, true));
        byte[] expected = data.clone();
        Arrays.fill(expected, 0, 64 * 1024, (byte) 0);
        Arrays.fill(expected, 128 * 1024, 132 * 1024, (byte) 0);
        Arrays.fill(expected, 256 * 1024, 264 * 1024, (byte) 0);
        assertThat(read(3 * MIB, data.length)).isEqualTo(expected);
        assertThat(copy().extents(3 * MIB, 64 * 1024)).extracting(Extent::hole).containsOnly(true);
    }

    @Test
    void aWriteGivenInPartsIsOneMessageAndLandsInOrder() throws Exception {
        byte[] data = random(300_000, 3);
        ByteBuffer[] parts = {ByteBuffer.wrap(data, 0, 65536), ByteBuffer.allocateDirect(200_000).put(data, 65536, 200_000).flip(),
            ByteBuffer.wrap(data, 265_536, 300_000 - 265_536)};
        get(client.write(peer, volume, g(1), 5 * MIB, parts, true));
        assertThat(read(5 * MIB, data.length)).isEqualTo(data);
        assertThat(parts[1].position()).as("caller's buffers untouched").isZero();
    }

    @Test
    void fuaWritesAndTrimsComplete() throws Exception {
        byte[] data = random(8192, 2);
        get(client.write(peer, volume, g(0), 8192, ByteBuffer.wrap(data), true));
        get(client.trim(peer, volume, g(0), 0, 4096, true));
        get(client.writeZeroes(peer, volume, g(0), 4096, 4096, false, true));
        assertThat(read(8192, 8192)).isEqualTo(data);
        assertThat(read(0, 8192)).containsOnly(0);
    }

    @Test
    void thousandPipelinedWritesFromSeveralThreads() throws Exception {
        int threads = 4;
        int perThread = 250;
        int block = 4096;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<CompletableFuture<Void>>>> submitted = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                submitted.add(pool.submit(() -> {
                    List<CompletableFuture<Void>> mine = new ArrayList<>();
                    for (int i = 0; i < perThread; i++) {
                        int n = thread * perThread + i;
                        mine.add(client.write(peer, volume, g(5), (long) n * block,
                                ByteBuffer.wrap(random(block, n)), false));
                    }
                    return mine;
                }));
            }
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (Future<List<CompletableFuture<Void>>> f : submitted) {
                all.addAll(f.get(30, TimeUnit.SECONDS));
            }
            assertThat(all).hasSize(1000);
            get(CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)));
            get(client.flush(peer, volume, g(5)));
        } finally {
            pool.shutdownNow();
        }
        for (int n = 0; n < 1000; n++) {
            assertThat(read((long) n * block, block)).as("block %d", n).isEqualTo(random(block, n));
        }
    }

    @Test
    void staleEpochIsRefusedAndChangesNothing() throws Exception {
        byte[] data = random(4096, 3);
        get(client.fence(peer, volume, g(7)));
        assertThat(copy().epoch()).isEqualTo(7);
        get(client.write(peer, volume, g(7), 0, ByteBuffer.wrap(data), false));

        List<CompletableFuture<?>> stale = List.of(
                client.write(peer, volume, g(6), 0, ByteBuffer.wrap(random(4096, 4)), true),
                client.trim(peer, volume, g(6), 0, 4096, false),
                client.writeZeroes(peer, volume, g(2), 0, 4096, true, false),
                client.flush(peer, volume, g(0)),
                client.fence(peer, volume, g(6)));
        for (CompletableFuture<?> f : stale) {
            assertThat(failureOf(f))
                    .isInstanceOfSatisfying(ReplicaRefusedException.class, e -> {
                        assertThat(e.reason()).isEqualTo(ReplicaRefusedException.Reason.STALE_EPOCH);
                        assertThat(e.peer()).isEqualTo(peer);
                        assertThat(e.getMessage()).doesNotContain("\n").contains("below");
                    });
        }
        assertThat(read(0, 4096)).isEqualTo(data);
        assertThat(copy().epoch()).isEqualTo(7);
    }

    @Test
    void higherEpochIsPersistedBeforeApplyingAndSurvivesReopen() throws Exception {
        get(client.write(peer, volume, g(3), 0, ByteBuffer.wrap(random(512, 5)), false));
        assertThat(copy().epoch()).isEqualTo(3);
        get(client.flush(peer, volume, g(9)));
        assertThat(copy().epoch()).isEqualTo(9);

        server.close();
        copies.values().forEach(LocalVolume::close);
        copies.clear();
        store.close();
        store = BlockStore.open(dir.resolve("node"));
        copies.put(volume, store.open("vol"));
        assertThat(copy().epoch()).isEqualTo(9);
        server = startServer(0);
        peer = server.localAddress();

        assertThat(failureOf(client.write(peer, volume, g(8), 0, ByteBuffer.wrap(new byte[512]), false)))
                .isInstanceOfSatisfying(ReplicaRefusedException.class,
                        e -> assertThat(e.reason()).isEqualTo(ReplicaRefusedException.Reason.STALE_EPOCH));
        assertThat(read(0, 512)).isEqualTo(random(512, 5));
        get(client.write(peer, volume, g(9), 0, ByteBuffer.wrap(new byte[512]), false));
        assertThat(read(0, 512)).containsOnly(0);
    }

    @Test
    void unknownVolumeIsRefused() throws Exception {
        UUID other = UUID.randomUUID();
        assertThat(failureOf(client.write(peer, other, g(1), 0, ByteBuffer.wrap(new byte[512]), false)))
                .isInstanceOfSatisfying(ReplicaRefusedException.class,
                        e -> assertThat(e.reason()).isEqualTo(ReplicaRefusedException.Reason.UNKNOWN_VOLUME));
        assertThat(failureOf(client.checksums(peer, other, MIB)))
                .isInstanceOf(ReplicaRefusedException.class);
        assertThat(copy().epoch()).isZero();
        assertThat(store.findByUuid(other)).isEmpty();
    }

    @Test
    void outOfRangeIsAnInvalidRequest() throws Exception {
        assertThat(failureOf(client.write(peer, volume, g(1), 16 * MIB - 100, ByteBuffer.wrap(new byte[512]), false)))
                .isInstanceOfSatisfying(ReplicaRefusedException.class,
                        e -> assertThat(e.reason()).isEqualTo(ReplicaRefusedException.Reason.INVALID_REQUEST));
        get(client.ping(peer)); // the connection is still fine
    }

    @Test
    void checksumsIgnoreAllocation() throws Exception {
        UUID second = UUID.randomUUID();
        addCopy("vol2", 16 * MIB, second);
        byte[] data = random((int) (2 * MIB), 6);
        for (UUID v : List.of(volume, second)) {
            get(client.write(peer, v, g(1), MIB, ByteBuffer.wrap(data), false));
        }
        // same content, different allocation: a punched hole against written zeros
        get(client.trim(peer, volume, g(1), MIB + 4096, MIB, false));
        get(client.write(peer, second, g(1), MIB + 4096, ByteBuffer.wrap(new byte[(int) MIB]), false));
        get(client.writeZeroes(peer, volume, g(1), 8 * MIB, 4 * MIB, true, false));
        get(client.write(peer, second, g(1), 8 * MIB, ByteBuffer.wrap(new byte[(int) (4 * MIB)]), false));

        long[] a = get(client.checksums(peer, volume, 256 * 1024));
        long[] b = get(client.checksums(peer, second, 256 * 1024));
        assertThat(a).hasSize(64).containsExactly(b);
        assertThat(a).isEqualTo(copy().checksums(256 * 1024));
        get(client.write(peer, second, g(1), 15 * MIB, ByteBuffer.wrap(new byte[] {1}), false));
        long[] c = get(client.checksums(peer, second, 256 * 1024));
        assertThat(c[60]).isNotEqualTo(a[60]);
    }

    @Test
    void serverClosedMidStreamFailsPendingRequestsPromptly() throws Exception {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            all.add(client.write(peer, volume, g(1), (i % 16) * MIB, ByteBuffer.wrap(new byte[(int) MIB]), true));
        }
        server.close();
        long started = System.nanoTime();
        for (CompletableFuture<Void> f : all) {
            try {
                f.get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                assertThat(e.getCause()).isInstanceOf(ReplicaUnreachableException.class);
            }
        }
        assertThat(all).anyMatch(CompletableFuture::isCompletedExceptionally);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        // and the next request reconnects, to a new server on another port here, or fails fast
        assertThat(failureOf(client.ping(peer))).isInstanceOf(ReplicaUnreachableException.class);
    }

    @Test
    void reconnectsAfterTheServerComesBack() throws Exception {
        get(client.ping(peer));
        int port = peer.getPort();
        server.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            try {
                client.ping(peer).get(10, TimeUnit.SECONDS);
                return false;
            } catch (ExecutionException e) {
                return e.getCause() instanceof ReplicaUnreachableException;
            }
        });
        server = startServer(port);
        get(client.write(peer, volume, g(1), 0, ByteBuffer.wrap(random(512, 7)), false));
        assertThat(read(0, 512)).isEqualTo(random(512, 7));
    }

    @Test
    void connectionRefusedIsUnreachable() throws Exception {
        InetSocketAddress nobody;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            nobody = new InetSocketAddress(InetAddress.getLoopbackAddress(), s.getLocalPort());
        }
        assertThat(failureOf(client.flush(nobody, volume, g(1))))
                .isInstanceOf(ReplicaUnreachableException.class)
                .hasMessageContaining("cannot connect");
    }

    @Test
    void silentPeerTimesOutAndClosesTheConnection() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
                ReplicationClient quick = new ReplicationClient(Duration.ofMillis(500), OWNER)) {
            InetSocketAddress addr = (InetSocketAddress) silent.getLocalSocketAddress();
            CompletableFuture<Void> first = quick.flush(addr, volume, g(1));
            Socket accepted = silent.accept();
            CompletableFuture<Void> second = quick.write(addr, volume, g(1), 0, ByteBuffer.wrap(new byte[512]), false);
            long started = System.nanoTime();
            assertThat(failureOf(first)).isInstanceOf(ReplicaUnreachableException.class)
                    .hasMessageContaining("within 500 ms"); // "not connected": its TLS handshake never ends
            assertThat(failureOf(second)).isInstanceOf(ReplicaUnreachableException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
            // the client reset that connection (an abandoned connection must deliver nothing more)
            accepted.setSoTimeout(10_000);
            try (InputStream in = accepted.getInputStream()) {
                byte[] sink = new byte[4096];
                while (in.read(sink) >= 0) {
                    // drain until EOF
                }
            } catch (java.net.SocketException reset) {
                assertThat(reset).hasMessageContaining("reset");
            }
            accepted.close();
        }
    }

    /** Like {@code in.read}, with a connection reset (how the client abandons it) as the end. */
    private static int readOrReset(InputStream in, byte[] sink) throws IOException {
        try {
            return in.read(sink);
        } catch (java.net.SocketException | javax.net.ssl.SSLException e) {
            if (e instanceof javax.net.ssl.SSLException || String.valueOf(e.getMessage()).contains("reset")) {
                return -1; // over TLS: the connection cut without a close_notify
            }
            throw e;
        }
    }

    @Test
    void writeBufferIsNotReadAfterTheFutureCompletes() throws Exception {
        int size = 16 << 20; // far beyond socket buffers: most of it still queued at the timeout
        ByteBuffer data = ByteBuffer.allocateDirect(size);
        while (data.hasRemaining()) {
            data.put((byte) 0x11);
        }
        data.flip();
        try (ServerSocket slow = TestSecrets.listen(TestSecrets.node("slow"));
                ReplicationClient quick = new ReplicationClient(Duration.ofSeconds(2), OWNER)) {
            // The peer completes the TLS handshake, then reads nothing until the write timed out.
            CompletableFuture<Socket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) slow.accept();
                    s.startHandshake();
                    return s;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            CompletableFuture<Void> f = quick.write((InetSocketAddress) slow.getLocalSocketAddress(),
                    volume, g(1), 0, data, false);
            try (Socket s = accepted.get(10, TimeUnit.SECONDS); InputStream in = s.getInputStream()) {
                assertThat(failureOf(f)).isInstanceOf(ReplicaUnreachableException.class);
                // The caller now owns the buffer again and scribbles over it.
                for (int i = 0; i < size; i++) {
                    data.put(i, (byte) 0xEE);
                }
                byte[] sink = new byte[64 * 1024];
                long total = 0;
                for (int n; (n = readOrReset(in, sink)) >= 0; ) {
                    for (int i = 0; i < n; i++) {
                        if (total + i >= 68) { // the payload, after the length and the 64-byte header (a random uuid)
                            assertThat(sink[i]).as("byte %d on the wire", total + i).isNotEqualTo((byte) 0xEE);
                        }
                    }
                    total += n;
                }
                assertThat(total).isLessThan(size + 68L);
            }
        }
    }

    @Test
    void aFenceReturnsWhatTheCopyHeldAndAnOlderMembershipOfTheSameEpochIsRefused() throws Exception {
        assertThat(get(client.fence(peer, volume, new Generation(3, 1)))).isEqualTo(Generation.ZERO);
        assertThat(get(client.fence(peer, volume, new Generation(3, 4)))).isEqualTo(new Generation(3, 1));
        assertThat(copy().generation()).isEqualTo(new Generation(3, 4));
        List<CompletableFuture<?>> older = List.of(
                client.write(peer, volume, new Generation(3, 3), 0, ByteBuffer.wrap(random(4096, 9)), false),
                client.fence(peer, volume, new Generation(3, 2)));
        for (CompletableFuture<?> f : older) {
            assertThat(failureOf(f)).isInstanceOfSatisfying(ReplicaRefusedException.class, e -> {
                assertThat(e.reason()).as("same epoch: not a deposed owner").isEqualTo(ReplicaRefusedException.Reason.STALE_GENERATION);
                assertThat(e.getMessage()).contains("generation 3.");
            });
        }
        assertThat(read(0, 4096)).containsOnly(0);
    }

    /**
     * Point 3(d) of the safety issue: bytes of a change still on their way from a connection the
     * owner abandoned (the copy fell out of sync, was rebuilt since, on a new connection) must
     * not land after the rebuild's data. The owner raised the copy's generation when it started
     * the rebuild; the old connection's frames carry the older one and are refused, also when
     * they were already in the copy's receive queue. (With the epoch alone, as before, they
     * landed: same epoch.)
     */
    @Test
    void aChangeStillInFlightOnAnAbandonedConnectionDoesNotLandAfterTheCopyWasRebuilt() throws Exception {
        get(client.fence(peer, volume, new Generation(2, 1)));
        byte[] stale = random(4096, 10);
        byte[] rebuilt = random(4096, 11);
        try (Socket old = TestSecrets.connect(OWNER, peer)) {
            // The abandoned connection: a WRITE at 2.1, of which only the header and half the data
            // got through before the owner gave up on it.
            ByteBuffer frame = ByteBuffer.allocate(4 + WireFormat.REQUEST_HEADER + stale.length);
            frame.putInt(WireFormat.REQUEST_HEADER + stale.length).putInt(WireFormat.REQUEST_MAGIC).put(WireFormat.VERSION)
                    .put((byte) MessageType.WRITE.code).putShort((short) 0).putLong(99)
                    .putLong(volume.getMostSignificantBits()).putLong(volume.getLeastSignificantBits())
                    .putLong(2).putLong(1).putLong(8192).putLong(stale.length).put(stale);
            OutputStream out = old.getOutputStream();
            out.write(frame.array(), 0, frame.capacity() - 2048);
            out.flush();

            // The rebuild, on a new connection: a new generation first, then the data.
            assertThat(get(client.fence(peer, volume, new Generation(2, 2)))).isEqualTo(new Generation(2, 1));
            get(client.write(peer, volume, new Generation(2, 2), 8192, ByteBuffer.wrap(rebuilt), true));

            // The rest of the abandoned change arrives.
            out.write(frame.array(), frame.capacity() - 2048, 2048);
            out.flush();
            old.setSoTimeout(10_000);
            byte[] reply = old.getInputStream().readNBytes(4 + WireFormat.REPLY_HEADER);
            assertThat(reply).hasSize(4 + WireFormat.REPLY_HEADER);
            assertThat(ReplyStatus.of(reply[4 + 6])).isEqualTo(ReplyStatus.STALE_GENERATION);
        }
        assertThat(read(8192, 4096)).isEqualTo(rebuilt);
    }

    @Test
    void oversizeFrameClosesTheConnection() throws Exception {
        try (Socket s = TestSecrets.connect(OWNER, peer)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            ByteBuffer header = ByteBuffer.allocate(4 + WireFormat.REQUEST_HEADER);
            header.putInt(WireFormat.REQUEST_HEADER + WireFormat.MAX_PAYLOAD + 1);
            header.putInt(WireFormat.REQUEST_MAGIC).put(WireFormat.VERSION)
                    .put((byte) MessageType.WRITE.code).putShort((short) 0).putLong(1)
                    .putLong(volume.getMostSignificantBits()).putLong(volume.getLeastSignificantBits())
                    .putLong(1).putLong(0).putLong(0).putLong(WireFormat.MAX_PAYLOAD + 1);
            out.write(header.array());
            out.flush();
            assertThat(s.getInputStream().read()).as("closed without a reply").isEqualTo(-1);
        }
        assertThat(read(0, 4096)).containsOnly(0);
        get(client.ping(peer)); // other connections are unaffected
    }

    @Test
    void closedClientFailsRequests() throws Exception {
        client.close();
        assertThat(failureOf(client.flush(peer, volume, g(1))))
                .isInstanceOf(ReplicaUnreachableException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void rejectsOversizeWritesUpFront() {
        assertThatThrownBy(() -> client.write(peer, volume, g(1), 0,
                ByteBuffer.allocate(WireFormat.MAX_PAYLOAD + 1), false))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---- who may send what (issue 14, finding 1) ------------------------------------------------

    /** A valid WRITE frame, as a hand-written client would send it (the format of {@link WireFormat}). */
    private byte[] forgedWrite(long epoch, byte[] data) {
        ByteBuffer frame = ByteBuffer.allocate(4 + WireFormat.REQUEST_HEADER + data.length);
        frame.putInt(WireFormat.REQUEST_HEADER + data.length).putInt(WireFormat.REQUEST_MAGIC).put(WireFormat.VERSION)
                .put((byte) MessageType.WRITE.code).putShort((short) 0).putLong(7)
                .putLong(volume.getMostSignificantBits()).putLong(volume.getLeastSignificantBits())
                .putLong(epoch).putLong(1).putLong(0).putLong(data.length).put(data);
        return frame.array();
    }

    @Test
    void aFrameOnAPlainConnectionChangesNothing() throws Exception {
        byte[] forged = "FORGED..".repeat(512).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try (Socket s = new Socket(peer.getAddress(), peer.getPort())) {
            s.setSoTimeout(15_000);
            s.getOutputStream().write(forgedWrite(1, forged));
            s.getOutputStream().flush();
            byte[] answer = s.getInputStream().readNBytes(4 + WireFormat.REPLY_HEADER);
            assertThat(answer.length).as("bytes of a replication reply").isLessThan(4 + WireFormat.REPLY_HEADER);
        } catch (java.net.SocketException reset) {
            // closed on it: as good
        }
        assertThat(read(0, 4096)).containsOnly(0);
        assertThat(copy().generation()).isEqualTo(Generation.ZERO);
    }

    @Test
    void aCertificateOfAnotherClusterIsRefusedAtTheHandshake() throws Exception {
        ClusterTls stranger = ClusterTls.of(io.hablock.cluster.security.ClusterSecret.generate(),
                io.hablock.cluster.security.Certificates.NODE, "owner");
        try (ReplicationClient theirs = new ReplicationClient(Duration.ofSeconds(5), stranger)) {
            assertThat(failureOf(theirs.write(peer, volume, g(1), 0, ByteBuffer.wrap(random(4096, 1)), true)))
                    .isInstanceOf(ReplicaUnreachableException.class).hasMessageContaining("TLS handshake failed");
            assertThat(failureOf(theirs.fence(peer, volume, new Generation(Long.MAX_VALUE, 0))))
                    .isInstanceOf(ReplicaUnreachableException.class);
        }
        assertThat(read(0, 4096)).containsOnly(0);
        assertThat(copy().generation()).isEqualTo(Generation.ZERO);
    }

    @Test
    void aNodeThatIsNotTheOwnerCanNeitherWriteNorFenceAndLearnsNothing() throws Exception {
        get(client.fence(peer, volume, new Generation(3, 1)));
        try (ReplicationClient other = new ReplicationClient(Duration.ofSeconds(5), TestSecrets.node("intruder"))) {
            for (CompletableFuture<?> f : List.of(
                    other.fence(peer, volume, new Generation(Long.MAX_VALUE, 0)),
                    other.write(peer, volume, new Generation(3, 1), 0, ByteBuffer.wrap(random(4096, 2)), true),
                    other.trim(peer, volume, new Generation(3, 1), 0, 4096, false))) {
                assertThat(failureOf(f)).isInstanceOfSatisfying(ReplicaRefusedException.class, e -> {
                    assertThat(e.reason()).isEqualTo(ReplicaRefusedException.Reason.STALE_EPOCH);
                    assertThat(e.getMessage()).doesNotContain("3.1").doesNotContain("generation 3");
                });
            }
        }
        assertThat(copy().generation()).as("the fence of epoch 2^63-1 was not persisted").isEqualTo(new Generation(3, 1));
        assertThat(read(0, 4096)).containsOnly(0);
        get(client.write(peer, volume, new Generation(3, 1), 0, ByteBuffer.wrap(random(4096, 3)), true)); // the owner still can
    }

    @Test
    void checksumsOfChunksUnder64KiBAreForTheOwnerAndAnAdministratorMayAskButNotWrite() throws Exception {
        get(client.write(peer, volume, g(1), 0, ByteBuffer.wrap(random(4096, 4)), true));
        ClusterTls admin = ClusterTls.forAdmin(TestSecrets.secret(), "verify");
        try (ReplicationClient cli = new ReplicationClient(Duration.ofSeconds(5), admin)) {
            assertThat(failureOf(cli.checksums(peer, volume, 1))).isInstanceOfSatisfying(ReplicaRefusedException.class,
                    e -> assertThat(e.reason()).isEqualTo(ReplicaRefusedException.Reason.INVALID_REQUEST));
            assertThat(failureOf(cli.checksums(peer, volume, 32 * 1024))).isInstanceOf(ReplicaRefusedException.class);
            assertThat(get(cli.checksums(peer, volume, 64 * 1024))).isEqualTo(copy().checksums(64 * 1024));
            try (ReplicationClient other = new ReplicationClient(Duration.ofSeconds(5), TestSecrets.node("intruder"))) {
                assertThat(failureOf(other.checksums(peer, volume, 4096))).isInstanceOf(ReplicaRefusedException.class);
                assertThat(get(other.checksums(peer, volume, 64 * 1024))).isEqualTo(copy().checksums(64 * 1024));
            }
            assertThat(get(client.checksums(peer, volume, 4096))).as("the owner's delta resync")
                    .isEqualTo(copy().checksums(4096));
            assertThat(failureOf(cli.write(peer, volume, g(1), 0, ByteBuffer.wrap(random(4096, 5)), true)))
                    .isInstanceOfSatisfying(ReplicaRefusedException.class,
                            e -> assertThat(e.reason()).isEqualTo(ReplicaRefusedException.Reason.STALE_EPOCH));
        }
        assertThat(read(0, 4096)).isEqualTo(random(4096, 4));
    }

    @Test
    void aConnectionThatNeverCompletesItsHandshakeIsClosed() throws Exception {
        try (Socket idle = new Socket(peer.getAddress(), peer.getPort())) {
            idle.setSoTimeout(30_000);
            long start = System.nanoTime();
            assertThat(idle.getInputStream().read()).isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofSeconds(8), Duration.ofSeconds(20));
        }
    }

}
