package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static io.hablock.cluster.TestCluster.block;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.blockstore.Generation;
import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Generations: a copy that comes back with older data than the catalogue says every in-sync copy
 * holds (a data directory restored from a backup, or a disk that lost its last writes) never
 * serves. It proves what it holds with the generation it persisted; it is taken out of sync, and
 * a copy that holds everything serves instead.
 */
class LostStateTest {
    private static final String VOLUME = "restored";

    @Test
    void aCopyRestartedWithOlderDataIsNotServedAndACurrentOneIs() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("n1"), NodeSpec.of("n2"),
                NodeSpec.of("n3"))) {
            VolumeRecord v = c.admin().createVolume(VOLUME, 16 * MIB, 3, 1, Duration.ofSeconds(30));
            ClusterNode owner = c.node(v.owner());
            try (NbdClient nbd = TestCluster.connect(owner, VOLUME, Duration.ofSeconds(30))) {
                nbd.write(0, block(0, 1), 0, 4096, true);
            }
            ClusterNode failing = c.others(owner).get(0);
            ClusterNode restored = c.others(owner).get(1);
            Path backup = Files.createTempDirectory(Path.of("/dev/shm"), "backup");
            copyTree(restored.store().dataDir(), backup); // generation 1.1, block 0 at version 1

            // A copy fails: the others move to a newer generation, then take version 2.
            c.stop(failing);
            await().atMost(Duration.ofSeconds(20)).until(() -> c.record(VOLUME).replicas().get(failing.nodeId()) == ReplicaState.STALE
                    && c.record(VOLUME).generation().compareTo(new Generation(1, 2)) >= 0);
            try (NbdClient nbd = TestCluster.connect(owner, VOLUME, Duration.ofSeconds(30))) {
                nbd.write(0, block(0, 2), 0, 4096, true);
            }

            // Everything stops at once (ZooKeeper first, so the catalogue keeps its last state),
            // and the third node's data directory is replaced by the backup.
            String restoredName = restored.store().dataDir().getFileName().toString();
            String ownerName = owner.store().dataDir().getFileName().toString();
            c.zooKeeper().stop();
            c.stop(owner);
            c.stop(restored);
            copyTree(backup, restored.store().dataDir());
            c.zooKeeper().restart();

            // Alone, it is the only live copy the catalogue calls in sync: it must not serve.
            ClusterNode back = c.restart(restoredName);
            await().atMost(Duration.ofSeconds(30)).until(() -> c.record(VOLUME).replicas().get(back.nodeId()) == ReplicaState.STALE);
            assertThat(c.record(VOLUME).isServed()).isFalse();
            assertThat(c.client().events(50)).anyMatch(e -> e.message().contains("copy on node " + back.nodeId()
                    + " out of sync: its copy holds generation 1.1"));

            // The old owner comes back: it holds everything, and serves version 2.
            c.restart(ownerName);
            ClusterNode serving = c.awaitServedBy(VOLUME, Duration.ofSeconds(30), r -> !r.owner().equals(back.nodeId()));
            try (NbdClient nbd = TestCluster.connect(serving, VOLUME, Duration.ofSeconds(30))) {
                byte[] got = new byte[4096];
                nbd.read(0, got);
                assertThat(TestCluster.versionOf(0, got)).isEqualTo(2);
            }
            deleteTree(backup);
        }
    }

    private static void copyTree(Path from, Path to) throws java.io.IOException {
        if (Files.exists(to)) {
            deleteTree(to);
        }
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().equals(".lock")) {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static void deleteTree(Path dir) throws java.io.IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
