package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.model.RebuildProgress;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.server.NbdServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A rebuild under its rate limit, shown in progress, interrupted by a failure of its target, and resumed. */
class RebuildTest {
    private static final long MIB = 1 << 20;
    private static final long RATE = 8 * MIB;

    private Path dir;
    private TestingServer zk;
    private final List<ClusterNode> nodes = new ArrayList<>();

    @BeforeEach
    void startCluster() throws Exception {
        dir = Files.createTempDirectory(Path.of("/dev/shm"), "rebuild-test");
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
                false, RATE).withSecretFile(io.hablock.cluster.security.TestSecrets.file()));
    }

    @AfterEach
    void stopCluster() throws Exception {
        nodes.forEach(ClusterNode::close);
        zk.close();
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private ClusterClient client() {
        return nodes.get(0).cluster();
    }

    private ClusterNode node(String id) {
        return nodes.stream().filter(n -> n.nodeId().equals(id)).findFirst().orElseThrow();
    }

    private VolumeRecord record() throws ClusterException {
        return client().volume("r").orElseThrow().value();
    }

    private String dirName(ClusterNode n) {
        return n.store().dataDir().getFileName().toString();
    }

    @Test
    void aRebuildKeepsToItsRateShowsProgressAndAnInterruptedOneNeverCountsAsInSync() throws Exception {
        VolumeRecord v = new ClusterAdmin(client()).createVolume("r", 64 * MIB, 2, Duration.ofSeconds(30));
        ClusterNode owner = node(v.owner());
        Process fio = new ProcessBuilder("fio", "--name=fill", "--ioengine=nbd",
                "--uri=nbd://127.0.0.1:" + owner.nbdAddress().getPort() + "/r", "--rw=write", "--bs=1M", "--size=48M",
                "--buffer_compress_percentage=0", "--refill_buffers").redirectErrorStream(true).start();
        String out = new String(fio.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(fio.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(fio.exitValue()).as(out).isZero();
        ClusterNode copy = node(v.replicas().keySet().stream().filter(id -> !id.equals(v.owner())).findFirst().orElseThrow());
        ClusterNode spare = nodes.stream().filter(n -> n != owner && n != copy).findFirst().orElseThrow();
        nodes.remove(copy);
        copy.close();

        // The spare node gets a new copy: 48 MiB at 8 MiB/s takes about 6 s, so it is seen in progress.
        long start = System.nanoTime();
        RebuildProgress seen = await().atMost(Duration.ofSeconds(20)).until(
                () -> client().rebuild("r").filter(p -> p.chunksDone() > 0 && p.percent() < 100).orElse(null),
                p -> p != null);
        assertThat(seen.target()).isEqualTo(spare.nodeId());
        assertThat(record().replicas().get(spare.nodeId())).isEqualTo(ReplicaState.REBUILDING);
        double secondsSoFar = (System.nanoTime() - start) / 1e9;
        assertThat(seen.bytesSent()).as("bytes sent after %.1f s", secondsSoFar)
                .isLessThanOrEqualTo((long) (RATE * (secondsSoFar + 1)));

        // The target fails halfway: its partial copy must never count as in sync.
        String spareId = spare.nodeId();
        String spareDir = dirName(spare);
        nodes.remove(spare);
        spare.close();
        await().atMost(Duration.ofSeconds(20)).until(() -> record().replicas().get(spareId) == ReplicaState.STALE);
        assertThat(record().inSync()).containsExactly(owner.nodeId());
        assertThat(record().health()).isEqualTo("degraded");

        // It comes back: the rebuild starts again from what it has, and completes.
        ClusterNode back = startNode(spareDir);
        nodes.add(back);
        await().atMost(Duration.ofSeconds(60)).until(() -> record().health().equals("healthy")
                && record().replicas().get(spareId) == ReplicaState.IN_SYNC);
        try (LocalVolume a = owner.store().open("r"); LocalVolume b = back.store().open("r")) {
            assertThat(Arrays.equals(a.checksums(MIB), b.checksums(MIB))).isTrue();
        }
    }
}
