package io.hablock.cli.acceptance.support;

import io.hablock.blockstore.VolumeMetadata;
import io.hablock.cli.node.HablockNode;
import io.hablock.nbd.server.NbdServerConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;

/** A hablock node in the test JVM, on free ports of 127.0.0.1, for tests that need no signals. */
public final class InProcessNode implements AutoCloseable {
    private final HablockNode node;

    private InProcessNode(HablockNode node) {
        this.node = node;
    }

    public static InProcessNode start(Path dataDir) throws IOException {
        InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
        return new InProcessNode(HablockNode.start(
                new HablockNode.Config(dataDir, NbdServerConfig.defaults(any), any, false)));
    }

    /** Creates a volume directly in the store and returns its NBD URI. */
    public String createVolume(String name, long sizeBytes) {
        try {
            node.store().create(name, sizeBytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return nbdUri(name);
    }

    /** The volume's metadata as the store has it, if the volume exists. */
    public Optional<VolumeMetadata> volume(String name) {
        return node.store().find(name);
    }

    public String nbdUri(String volume) {
        return "nbd://127.0.0.1:" + node.nbdAddress().getPort() + "/" + volume;
    }

    public String adminEndpoint() {
        return "127.0.0.1:" + node.adminAddress().getPort();
    }

    @Override
    public void close() {
        node.close();
    }
}
