package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.server.NbdServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Nodes in this JVM on a real ZooKeeper: failover, rebuild, rejoin with a delta resync. */
class FailoverTest {
    private static final long MIB = 1 << 20;

    /** On tmpfs: the tests write gigabytes, which on a disk would stall ZooKeeper's fsyncs. */
    Path dir;
    private TestingServer zk;
    private final List<ClusterNode> nodes = new ArrayList<>();

    @BeforeEach
    void startCluster() throws Exception {
        dir = java.nio.file.Files.createTempDirectory(Path.of("/dev/shm"), "failover-test");
        zk = new TestingServer(true);
        for (int i = 1; i <= 3; i++) {
            nodes.add(startNode("n" + i));
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> nodes.stream().filter(ClusterNode::isController).count() == 1);
    }

    private ClusterNode startNode(String name) throws IOException {
        InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
        return ClusterNode.start(new ClusterNode.Config(dir.resolve(name), name, "127.0.0.1", NbdServerConfig.defaults(any),
                any, null, zk.getConnectString(), null, "test", Duration.ofSeconds(2), 64L << 30, Duration.ofSeconds(2),
                false, 0).withSecretFile(io.hablock.cluster.security.TestSecrets.file()));
    }

    @AfterEach
    void stopCluster() throws Exception {
        nodes.forEach(ClusterNode::close);
        zk.close();
        try (var files = java.nio.file.Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private ClusterClient client() {
        return nodes.get(0).cluster();
    }

    private ClusterNode node(String id) {
        return nodes.stream().filter(n -> n.nodeId().equals(id)).findFirst().orElseThrow();
    }

    private VolumeRecord record(String name) throws ClusterException {
        return client().volume(name).orElseThrow().value();
    }

    private static String run(ProcessBuilder b) throws Exception {
        b.redirectErrorStream(true).environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        Process p = b.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    private static String uri(ClusterNode n, String volume) {
        return "nbd://127.0.0.1:" + n.nbdAddress().getPort() + "/" + volume;
    }

    private static byte[] readCopy(ClusterNode node, String volume, long offset, int length) throws IOException {
        try (LocalVolume v = node.store().open(volume)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            v.read(b, offset);
            return b.array();
        }
    }

    @Test
    void whenTheOwnerGoesACurrentCopyTakesOverAndTheLostCopyIsRebuilt() throws Exception {
        VolumeRecord v = new ClusterAdmin(client()).createVolume("db", 64 * MIB, 2, Duration.ofSeconds(30));
        ClusterNode owner = node(v.owner());
        run(new ProcessBuilder("nbdsh", "-u", uri(owner, "db"), "-c", "h.pwrite(b'\\x42' * 1048576, 8388608); h.flush()"));
        String oldOwner = owner.nodeId();
        nodes.remove(owner);
        long start = System.nanoTime();
        owner.close();

        await().atMost(Duration.ofSeconds(15)).until(() -> {
            VolumeRecord r = record("db");
            return r.isServed() && !r.owner().equals(oldOwner);
        });
        Duration failover = Duration.ofNanos(System.nanoTime() - start);
        VolumeRecord after = record("db");
        assertThat(after.epoch()).isEqualTo(v.epoch() + 1);
        assertThat(after.replicas().get(oldOwner)).isIn(ReplicaState.STALE, null);
        ClusterNode newOwner = node(after.owner());
        String read = run(new ProcessBuilder("nbdsh", "-u", uri(newOwner, "db"), "-c",
                "print(h.pread(1048576, 8388608) == b'\\x42' * 1048576)"));
        assertThat(read.strip()).isEqualTo("True");
        assertThat(failover).isLessThan(Duration.ofSeconds(10));

        // The third node gets a new copy; the volume is healthy again, and the copies are identical.
        await().atMost(Duration.ofSeconds(30)).until(() -> record("db").health().equals("healthy"));
        VolumeRecord healed = record("db");
        assertThat(healed.inSync()).hasSize(2).doesNotContain(oldOwner);
        for (String id : healed.inSync()) {
            assertThat(readCopy(node(id), "db", 8 * MIB, (int) MIB)).containsOnly((byte) 0x42);
        }
        List<String> events = client().events(100).stream().map(Event::message).toList();
        assertThat(events).anyMatch(m -> m.contains("failover completed: volume db"))
                .anyMatch(m -> m.matches("volume db \\(vd\\d+\\) rebuilding on node [0-9a-f]{8}"))
                .anyMatch(m -> m.contains("volume db (" + v.vdisk() + ")"));
        await().atMost(Duration.ofSeconds(10)).until(() -> client().events(100).stream().map(Event::message)
                .anyMatch(m -> m.contains("volume db (" + v.vdisk() + ") volume rebuild completed")));
    }

    @Test
    void afterAFailoverTheCopiesAreMadeIdenticalToTheNewOwner() throws Exception {
        VolumeRecord v = new ClusterAdmin(client()).createVolume("torn", 64 * MIB, 3, Duration.ofSeconds(30));
        ClusterNode owner = node(v.owner());
        // As if the owner died with a write sent to one copy and not the other: the copies differ.
        ClusterNode torn = nodes.stream().filter(n -> n != owner).findFirst().orElseThrow();
        try (LocalVolume copy = torn.store().open("torn")) {
            copy.write(ByteBuffer.wrap(new byte[65536]).put(0, (byte) 1).put(65535, (byte) 2), 5 * MIB);
        }
        nodes.remove(owner);
        owner.close();

        await().atMost(Duration.ofSeconds(30)).until(() -> {
            VolumeRecord r = record("torn");
            if (!r.isServed() || r.owner().equals(v.owner())) {
                return false;
            }
            List<long[]> sums = new ArrayList<>();
            for (String id : r.inSync()) {
                try (LocalVolume copy = node(id).store().open("torn")) {
                    sums.add(copy.checksums(MIB));
                }
            }
            return sums.size() == 2 && java.util.Arrays.equals(sums.get(0), sums.get(1));
        });
    }

    @Test
    void aNodeThatComesBackIsResyncedWithOnlyTheChangedRegions() throws Exception {
        long size = 1024 * MIB;
        VolumeRecord v = new ClusterAdmin(client()).createVolume("big", size, 3, Duration.ofSeconds(30));
        ClusterNode owner = node(v.owner());
        // Fill the whole volume, so that a full copy would be 1 GiB.
        run(new ProcessBuilder("fio", "--name=fill", "--ioengine=nbd", "--uri=" + uri(owner, "big"), "--rw=write",
                "--bs=1M", "--iodepth=8", "--size=" + size, "--buffer_compress_percentage=0", "--refill_buffers"));
        ClusterNode away = nodes.stream().filter(n -> n != owner).findFirst().orElseThrow();
        String awayId = away.nodeId();
        Path awayDir = dir.resolve(nameOf(away));
        nodes.remove(away);
        away.close();
        await().atMost(Duration.ofSeconds(15)).until(() -> record("big").replicas().get(awayId) == ReplicaState.STALE);

        // 1 % of the volume changes while it is away: 10 MiB in random 4 KiB blocks.
        run(new ProcessBuilder("fio", "--name=change", "--ioengine=nbd", "--uri=" + uri(owner, "big"), "--rw=randwrite",
                "--bs=4k", "--iodepth=16", "--size=" + size, "--io_size=" + (size / 100), "--randrepeat=0",
                "--buffer_compress_percentage=0", "--refill_buffers"));
        long sentBefore = client().events(1000).size();
        ClusterNode back = startNode(nameOf(awayDir));
        nodes.add(back);
        assertThat(back.nodeId()).isEqualTo(awayId);

        await().atMost(Duration.ofSeconds(60)).until(() -> record("big").health().equals("healthy")
                && record("big").replicas().get(awayId) == ReplicaState.IN_SYNC);
        // The event follows the compare-and-set that made the copy in sync.
        String done = await().atMost(Duration.ofSeconds(10)).until(() -> client().events(1000).stream().skip(sentBefore)
                .map(Event::message).filter(m -> m.contains("volume rebuild completed on node " + awayId)).findFirst()
                .orElse(null), java.util.Objects::nonNull);
        long sent = sentBytes(done);
        assertThat(sent).as(done).isLessThan(size / 10);
        System.out.println("delta resync after 1% of 1 GiB changed: " + done);
        for (ClusterNode n : nodes) {
            assertThat(readCopy(n, "big", 0, 4096)).isEqualTo(readCopy(owner, "big", 0, 4096));
        }
        assertThat(node(record("big").owner()).cluster()).isNotNull();
    }

    private String nameOf(ClusterNode n) {
        return "n" + (nodes.indexOf(n) + 1 > 0 ? findName(n) : "?");
    }

    private String findName(ClusterNode n) {
        for (int i = 1; i <= 3; i++) {
            if (n.store().dataDir().equals(dir.resolve("n" + i).toAbsolutePath())) {
                return String.valueOf(i);
            }
        }
        throw new IllegalStateException();
    }

    private static String nameOf(Path p) {
        return p.getFileName().toString();
    }

    /** "... 12.3 MiB sent in ..." or "... 512 KiB sent in ..." in bytes. */
    private static long sentBytes(String event) {
        var m = java.util.regex.Pattern.compile("([\\d.]+) (KiB|MiB) sent").matcher(event);
        assertThat(m.find()).as(event).isTrue();
        double n = Double.parseDouble(m.group(1));
        return (long) (m.group(2).equals("KiB") ? n * 1024 : n * MIB);
    }
}
