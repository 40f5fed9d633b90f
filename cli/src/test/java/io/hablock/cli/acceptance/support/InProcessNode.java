package io.hablock.cli.acceptance.support;

import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.ClusterNode;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.server.NbdServerConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * A one-node cluster in the test JVM (a node with its embedded ZooKeeper), on free ports of
 * 127.0.0.1, for tests that need no signals.
 */
public final class InProcessNode implements AutoCloseable {
    private final ClusterNode node;

    private InProcessNode(ClusterNode node) {
        this.node = node;
    }

    public static InProcessNode start(Path dataDir) throws IOException {
        InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
        return new InProcessNode(ClusterNode.start(new ClusterNode.Config(dataDir, "test", "127.0.0.1",
                NbdServerConfig.defaults(any), any, null, null, any, "default", Duration.ofSeconds(5), 0,
                Duration.ofSeconds(5), false, 0)));
    }

    /** Creates a 1-copy volume through the cluster, as {@code volume create} does, and returns its NBD URI. */
    public String createVolume(String name, long sizeBytes) {
        try {
            new ClusterAdmin(node.cluster()).createVolume(name, sizeBytes, 1, Duration.ofSeconds(60));
        } catch (ClusterException e) {
            throw new UncheckedIOException(e);
        }
        return nbdUri(name);
    }

    /** The volume as the catalogue has it, if it exists. */
    public Optional<VolumeRecord> volume(String name) {
        try {
            return node.cluster().volume(name).map(Versioned::value);
        } catch (ClusterException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String nbdUri(String volume) {
        return "nbd://127.0.0.1:" + node.nbdAddress().getPort() + "/" + volume;
    }

    /** {@code --zk} for the CLI. */
    public String zk() {
        return node.zkConnectString();
    }

    @Override
    public void close() {
        node.close();
    }
}
