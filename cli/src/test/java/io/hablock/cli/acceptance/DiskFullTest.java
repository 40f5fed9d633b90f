package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.blockstore.SpaceReserve;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.HablockCli;
import io.hablock.cli.acceptance.support.LoopMount;
import io.hablock.cli.acceptance.support.QemuIo;
import io.hablock.cli.acceptance.support.ServerProcess;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.model.NodeInfo;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node whose data directory is a small ext4 file system of its own (a loop mount of 64 MiB),
 * filled through a real NBD client (issue 14, finding 7): the client is told ENOSPC before the
 * file system is full, the embedded ZooKeeper on the same file system lives on, the CLI keeps
 * working, reads go on; the capacity a node publishes is what its file system can still take;
 * and a volume that does not fit is refused at once rather than left half made.
 */
class DiskFullTest {
    private static final long MIB = 1L << 20;
    private static final Duration QUICK = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    /** A fresh ext4 file system of {@code mib} MiB mounted at DIR/mnt. */
    private LoopMount smallFileSystem(int mib) throws IOException {
        Path image = dir.resolve("fs.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(mib * MIB);
        }
        Command.of("mkfs.ext4", "-F", "-q", image.toString()).timeout(Duration.ofSeconds(60)).runOk();
        return LoopMount.mount(image, dir.resolve("mnt"));
    }

    private static CommandResult cli(String zk, String... args) {
        List<String> argv = new ArrayList<>(List.of(args));
        argv.addAll(List.of("--zk", zk));
        return HablockCli.run(argv);
    }

    @Test
    void fillingAVolumeStopsAtTheReserveWithEnospcAndZooKeeperLives() throws IOException {
        try (LoopMount fs = smallFileSystem(64);
                ServerProcess node = ServerProcess.start(fs.dir().resolve("data"))) {
            String zk = node.zk();
            CommandResult created = cli(zk, "volume", "create", "fill", "--size", "32M");
            assertThat(created.exitCode()).as("create%s", created.describe()).isZero();
            String uri = node.nbdUri("fill");
            // Something else fills the file system (the volume fitted when it was placed): 8 MiB stay
            // free. (Before the first write: the node looks at its free space at most 100 ms after its
            // last look, and only what others take meanwhile may eat into the reserve.)
            FileStore store = Files.getFileStore(fs.dir());
            long filler = store.getUsableSpace() - 8 * MIB;
            Command.of("fallocate", "-l", Long.toString(filler), fs.dir().resolve("filler").toString()).runOk();
            QemuIo.verify(uri, List.of(QemuIo.write(0xab, 0, MIB), "flush"));
            List<String> writes = new ArrayList<>();
            for (long off = MIB; off < 32 * MIB; off += MIB) {
                writes.add(QemuIo.write(0xcd, off, MIB));
            }
            writes.add("flush");

            CommandResult fill = QemuIo.run(uri, writes);

            assertThat(fill.stdout() + fill.stderr()).as("qemu-io filling the volume%s", fill.describe())
                    .contains("No space left on device");
            long reserve = SpaceReserve.defaultFor(store.getTotalSpace());
            assertThat(store.getUsableSpace()).as("bytes left free (reserve %d)", reserve)
                    .isGreaterThan(reserve - MIB);
            // ZooKeeper (on the same file system) and the CLI work; the node serves reads and overwrites.
            CommandResult ls = cli(zk, "volume", "ls");
            assertThat(ls.exitCode()).as("volume ls%s", ls.describe()).isZero();
            assertThat(ls.stdout()).contains("fill");
            QemuIo.verify(uri, List.of(QemuIo.read(0xab, 0, MIB), QemuIo.read(0xcd, MIB, MIB)));
            QemuIo.verify(uri, List.of(QemuIo.write(0xee, 0, 64 * 1024), "flush", QemuIo.read(0xee, 0, 64 * 1024),
                    QemuIo.read(0xab, 64 * 1024, MIB - 64 * 1024)));

            // A new volume on the full node fails at once, with the reason, and leaves nothing behind.
            CommandResult more = cli(zk, "volume", "create", "more", "--size", "8M");

            assertThat(more.exitCode()).as("create on a full node%s", more.describe()).isNotZero();
            assertThat(more.stderrLines()).as("create on a full node%s", more.describe()).hasSize(1);
            assertThat(more.stderr()).contains("room");
            assertThat(more.elapsed()).isLessThan(QUICK);
            CommandResult after = cli(zk, "volume", "ls");
            assertThat(after.exitCode()).as("volume ls%s", after.describe()).isZero();
            assertThat(after.stdout()).doesNotContain("more");
            assertThat(node.log()).doesNotContain("Severe unrecoverable error").doesNotContain("Input/output error");
            assertThat(node.terminate(Duration.ofSeconds(30))).isZero();
        }
    }

    @Test
    void aNodeOffersItsFreeSpaceLessTheReserveAndAVolumeBeyondItIsRefused() throws Exception {
        Path zkData = dir.resolve("zookeeper"); // off the small file system
        try (LoopMount fs = smallFileSystem(64);
                ServerProcess node = ServerProcess.start(fs.dir().resolve("data"),
                        List.of("--zk-data-dir", zkData.toString()));
                ClusterClient cluster = ClusterClient.connect(node.zk(), "default", Duration.ofSeconds(10),
                        Duration.ofSeconds(5), io.hablock.cli.acceptance.support.TestCredentials.secret())) {
            assertThat(zkData.resolve("version-2")).isDirectory();
            assertThat(fs.dir().resolve("data").resolve("zookeeper")).doesNotExist();
            FileStore store = Files.getFileStore(fs.dir());
            long offered = cluster.liveNodes().values().stream().mapToLong(NodeInfo::capacityBytes).sum();
            long expected = store.getUsableSpace() - SpaceReserve.defaultFor(store.getTotalSpace());

            assertThat(offered).as("capacity published (file system: %d total, %d usable)", store.getTotalSpace(),
                    store.getUsableSpace()).isBetween(expected - MIB, expected + MIB);
            // Bigger than the room, smaller than the file system (what was offered before).
            long tooBig = (offered / MIB + 2) * MIB;
            assertThat(tooBig).isLessThan(store.getTotalSpace());

            CommandResult refused = cli(node.zk(), "volume", "create", "big", "--size", tooBig / MIB + "M");

            assertThat(refused.exitCode()).as("create%s", refused.describe()).isNotZero();
            assertThat(refused.stderrLines()).hasSize(1);
            assertThat(refused.stderr()).contains("have room");
            assertThat(refused.elapsed()).isLessThan(QUICK);
            assertThat(cluster.volume("big")).isEmpty();
            CommandResult fits = cli(node.zk(), "volume", "create", "fits", "--size", (offered / MIB - 2) + "M");
            assertThat(fits.exitCode()).as("create%s", fits.describe()).isZero();
        }
    }
}
