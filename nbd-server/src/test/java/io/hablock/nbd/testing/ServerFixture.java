package io.hablock.nbd.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.blockstore.BlockStore;
import io.hablock.nativeio.PosixFs;
import io.hablock.nativeio.testing.FaultInjectingPosixFs;
import io.hablock.nbd.server.NbdServer;
import io.hablock.nbd.server.NbdServerConfig;
import io.hablock.nbd.tls.ServerTls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * A real NBD server on a free loopback port, serving the volume {@value #VOLUME} of a real block
 * store in a temporary directory. Native calls go through a {@link FaultInjectingPosixFs}, so a
 * test can count fdatasync calls or make them fail.
 */
public final class ServerFixture implements AutoCloseable {
    public static final String VOLUME = "vol";
    public static final long VOLUME_SIZE = 64L << 20;
    /** The last MiB of the volume is where {@link #assertServesNewClient()} writes. */
    private static final long PROBE_AREA = VOLUME_SIZE - (1 << 20);

    private final FaultInjectingPosixFs fs;
    private final BlockStore store;
    private final TestExports exports;
    private final NbdServer server;
    private final boolean readOnly;
    private final AtomicInteger probes = new AtomicInteger();

    private ServerFixture(FaultInjectingPosixFs fs, BlockStore store, TestExports exports, NbdServer server,
                          boolean readOnly) {
        this.fs = fs;
        this.store = store;
        this.exports = exports;
        this.server = server;
        this.readOnly = readOnly;
    }

    public static ServerFixture start(Path dir) throws IOException {
        return start(dir, false);
    }

    public static ServerFixture start(Path dir, boolean readOnly) throws IOException {
        return start(dir, readOnly, UnaryOperator.identity());
    }

    /** A server whose settings {@code tune} adjusts from the defaults. */
    public static ServerFixture start(Path dir, boolean readOnly, UnaryOperator<NbdServerConfig> tune)
            throws IOException {
        return start(dir, readOnly, tune, ServerTls.off());
    }

    /** A server with default settings that does TLS as {@code tls} says. */
    public static ServerFixture start(Path dir, ServerTls tls) throws IOException {
        return start(dir, false, UnaryOperator.identity(), tls);
    }

    private static ServerFixture start(Path dir, boolean readOnly, UnaryOperator<NbdServerConfig> tune,
            ServerTls tls) throws IOException {
        FaultInjectingPosixFs fs = new FaultInjectingPosixFs(PosixFs.system());
        BlockStore store = BlockStore.open(dir, fs);
        try {
            store.create(VOLUME, VOLUME_SIZE);
            TestExports exports = new TestExports(new BlockStoreExports(store, readOnly));
            NbdServer server = new NbdServer(tune.apply(NbdServerConfig.defaults(new InetSocketAddress("127.0.0.1", 0))),
                    exports, tls).start();
            return new ServerFixture(fs, store, exports, server, readOnly);
        } catch (IOException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    public InetSocketAddress address() {
        return server.localAddress();
    }

    public NbdServer server() {
        return server;
    }

    public BlockStore store() {
        return store;
    }

    public TestExports exports() {
        return exports;
    }

    public FaultInjectingPosixFs fs() {
        return fs;
    }

    /** A new connection past the greeting, with client flags FIXED_NEWSTYLE | NO_ZEROES sent. */
    public RawNbdClient handshake() throws IOException {
        RawNbdClient client = RawNbdClient.connect(address());
        assertThat(client.readGreeting()).as("handshake flags")
                .isEqualTo(Wire.FLAG_FIXED_NEWSTYLE | Wire.FLAG_NO_ZEROES);
        return client.sendClientFlags(Wire.FLAG_FIXED_NEWSTYLE | Wire.FLAG_NO_ZEROES);
    }

    /** A new connection in the transmission phase on {@value #VOLUME}, through NBD_OPT_GO. */
    public RawNbdClient transmission(boolean structured, boolean baseAllocation) throws IOException {
        RawNbdClient client = handshake();
        if (structured) {
            assertThat(RawNbdClient.last(client.option(Wire.OPT_STRUCTURED_REPLY)).type()).isEqualTo(Wire.REP_ACK);
        }
        if (baseAllocation) {
            assertThat(client.option(Wire.OPT_SET_META_CONTEXT, Options.metaContext(VOLUME, "base:allocation")))
                    .extracting(OptionReply::type).containsExactly(Wire.REP_META_CONTEXT, Wire.REP_ACK);
        }
        assertThat(RawNbdClient.last(client.go(VOLUME)).type()).as("GO").isEqualTo(Wire.REP_ACK);
        return client;
    }

    /**
     * Proves the server still serves: a new client writes a random block and reads it back (a
     * read-only export is only read), then disconnects cleanly.
     */
    public void assertServesNewClient() throws IOException {
        try (RawNbdClient client = transmission(false, false)) {
            long offset = PROBE_AREA + (probes.getAndIncrement() % 256) * 4096L;
            byte[] data = new byte[4096];
            if (!readOnly) {
                ThreadLocalRandom.current().nextBytes(data);
                assertThat(client.write(offset, data).error()).as("probe write").isZero();
                assertThat(client.read(offset, data.length).data()).as("probe read").isEqualTo(data);
            } else {
                assertThat(client.read(offset, data.length).error()).as("probe read").isZero();
            }
            client.disconnect();
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } finally {
            store.close();
        }
    }
}
