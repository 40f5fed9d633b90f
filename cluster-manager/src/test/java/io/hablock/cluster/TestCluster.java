package io.hablock.cluster;

import static org.awaitility.Awaitility.await;

import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import io.hablock.nbd.server.NbdServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.apache.curator.test.TestingServer;

/**
 * Nodes in this JVM on a real ZooKeeper (curator-test), with data on tmpfs, for the safety
 * tests: each node may get its own test delays. Closing a node is a clean stop; the tests that
 * need a process to die or freeze run real processes instead.
 */
final class TestCluster implements AutoCloseable {
    static final long MIB = 1 << 20;

    /** How a node is started. */
    record NodeSpec(String name, TestDelays delays, boolean forward, long capacityBytes, boolean readOnly) {
        static NodeSpec of(String name) {
            return new NodeSpec(name, TestDelays.NONE, false, 64L << 30, false);
        }

        NodeSpec withDelays(String... specs) {
            return new NodeSpec(name, TestDelays.parse(List.of(specs)), forward, capacityBytes, readOnly);
        }

        NodeSpec forwarding() {
            return new NodeSpec(name, delays, true, capacityBytes, readOnly);
        }

        NodeSpec noCopies() {
            return new NodeSpec(name, delays, forward, -1, readOnly);
        }

        /** The node serves its volumes read-only (hablock server --read-only). */
        NodeSpec servingReadOnly() {
            return new NodeSpec(name, delays, forward, capacityBytes, true);
        }
    }

    private final Path dir;
    private final TestingServer zk;
    private final Duration sessionTimeout;
    private final long rebuildRate;
    private final List<ClusterNode> nodes = new ArrayList<>();
    private final Map<String, NodeSpec> specs = new java.util.HashMap<>();

    private TestCluster(Path dir, TestingServer zk, Duration sessionTimeout, long rebuildRate) {
        this.dir = dir;
        this.zk = zk;
        this.sessionTimeout = sessionTimeout;
        this.rebuildRate = rebuildRate;
    }

    static TestCluster start(Duration sessionTimeout, long rebuildRate, NodeSpec... nodes) throws Exception {
        TestCluster c = new TestCluster(Files.createTempDirectory(Path.of("/dev/shm"), "hablock-test"), new TestingServer(true),
                sessionTimeout, rebuildRate);
        try {
            for (NodeSpec n : nodes) {
                c.startNode(n);
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> c.nodes.stream().filter(ClusterNode::isController).count() == 1);
            return c;
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
    }

    ClusterNode startNode(NodeSpec spec) throws IOException {
        specs.put(spec.name(), spec);
        InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
        ClusterNode n = ClusterNode.start(new ClusterNode.Config(dir.resolve(spec.name()), spec.name(), "127.0.0.1",
                NbdServerConfig.defaults(any), any, null, zk.getConnectString(), null, "test", sessionTimeout,
                spec.capacityBytes(), Duration.ofSeconds(2), spec.readOnly(), rebuildRate, spec.forward(), spec.delays(),
                io.hablock.cluster.security.TestSecrets.file(), null));
        nodes.add(n);
        return n;
    }

    /** Starts a stopped node again, with its data directory and settings. */
    ClusterNode restart(String name) throws IOException {
        return startNode(specs.get(name));
    }

    TestingServer zooKeeper() {
        return zk;
    }

    ClusterClient client() {
        return nodes.stream().filter(n -> n.cluster().curator().getZookeeperClient().isConnected()).findFirst()
                .orElse(nodes.get(0)).cluster();
    }

    ClusterAdmin admin() {
        return new ClusterAdmin(client());
    }

    ClusterNode node(String id) {
        return nodes.stream().filter(n -> n.nodeId().equals(id)).findFirst().orElseThrow();
    }

    ClusterNode byName(String name) {
        return nodes.stream().filter(n -> n.store().dataDir().getFileName().toString().equals(name)).findFirst().orElseThrow();
    }

    List<ClusterNode> nodes() {
        return List.copyOf(nodes);
    }

    /** The nodes other than those given. */
    List<ClusterNode> others(ClusterNode... not) {
        return nodes.stream().filter(n -> !List.of(not).contains(n)).toList();
    }

    VolumeRecord record(String volume) throws ClusterException {
        return client().volume(volume).orElseThrow().value();
    }

    /** A clean stop of the node (it leaves the cluster); its data stays. */
    void stop(ClusterNode n) {
        nodes.remove(n);
        n.close();
    }

    /** An NBD connection to the volume on the node's endpoint. */
    static NbdClient connect(ClusterNode n, String volume, Duration timeout) throws IOException {
        return NbdClient.connect(new InetSocketAddress("127.0.0.1", n.nbdAddress().getPort()), volume, timeout);
    }

    /** {@code length} bytes of the node's own copy at {@code offset}, read from its file. */
    static byte[] readCopy(ClusterNode node, String volume, long offset, int length) throws IOException {
        try (LocalVolume v = node.store().open(volume)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            v.read(b, offset);
            return b.array();
        }
    }

    /** A block of 4 KiB: its number and a version, repeated. */
    static byte[] block(int number, int version) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        while (b.hasRemaining()) {
            b.putInt(number).putInt(version);
        }
        return b.array();
    }

    /** The version of a block made by {@link #block}, or -1 when the bytes are not such a block of {@code number}. */
    static int versionOf(int number, byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(data);
        int version = b.getInt(4);
        return java.util.Arrays.equals(data, block(number, version)) ? version : -1;
    }

    /** Waits until the volume is served by a node matching {@code which}, and returns that node. */
    ClusterNode awaitServedBy(String volume, Duration limit, Function<VolumeRecord, Boolean> which) {
        await().atMost(limit).until(() -> {
            Optional<VolumeRecord> r = client().volume(volume).map(io.hablock.cluster.model.Versioned::value);
            return r.isPresent() && r.get().isServed() && which.apply(r.get())
                    && nodes.stream().anyMatch(n -> n.nodeId().equals(r.get().owner()));
        });
        try {
            return node(record(volume).owner());
        } catch (ClusterException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws java.io.IOException {
        for (ClusterNode n : nodes) {
            n.close();
        }
        nodes.clear();
        zk.close();
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
