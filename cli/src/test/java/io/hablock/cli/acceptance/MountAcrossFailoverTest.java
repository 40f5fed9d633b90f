package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.HablockCli;
import io.hablock.cli.acceptance.support.LocalClusterProcesses;
import io.hablock.cli.acceptance.support.LoopMount;
import io.hablock.cli.acceptance.support.Mounts;
import io.hablock.cli.acceptance.support.NbdFuseDisk;
import io.hablock.cli.acceptance.support.Waits;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A volume mounted with {@code volume mount} through the host endpoint of a node that does not
 * own it: an application keeps writing files (each one fsync'ed) while the owner is killed with
 * SIGKILL. It sees a pause, no error; afterwards the file system is clean and every file
 * written before and after the kill reads back with its checksum.
 */
class MountAcrossFailoverTest {
    private static final String VOLUME = "files";
    private static final long SIZE = 512L << 20;
    private static final Duration TIMEOUT = Duration.ofMinutes(2);

    @TempDir
    static Path dir;
    static LocalClusterProcesses cluster;

    @BeforeAll
    static void up() {
        cluster = LocalClusterProcesses.up(dir.resolve("cluster"), 3, "127.0.9");
    }

    @AfterAll
    static void down() {
        if (cluster != null) {
            if (Mounts.isMounted(dir.resolve("mnt"))) {
                HablockCli.run("volume", "unmount", VOLUME);
            }
            cluster.close();
        }
    }

    @Test
    void aWriterOnAMountedVolumeKeepsWritingThroughAFailoverOfTheOwner() throws Exception {
        cluster.cliOk("volume", "create", VOLUME, "--size", "512M", "--copies", "3");
        String owner = cluster.json("volume", "info", VOLUME, "--json").get("owner").asText();
        String host = List.of("v1", "v2", "v3").stream().filter(n -> !n.equals(owner)).findFirst().orElseThrow();
        String endpoint = cluster.uri(host, VOLUME).replaceFirst("^nbd://", "").replaceFirst("/.*", "");
        Path mnt = dir.resolve("mnt");

        CommandResult mount = cluster.cliOk("volume", "mount", VOLUME, mnt.toString(), "--via", "fuse", "--endpoint", endpoint);

        assertThat(mount.stdout()).contains(VOLUME + " is blank: making an ext4 file system")
                .contains("volume " + VOLUME + " mounted at " + mnt + " (ext4 on /dev/loop");
        assertThat(cluster.cliOk("volume", "ls").stdout()).contains(host + ":" + mnt + " (fuse)");

        Writer writer = new Writer(mnt);
        Thread writing = new Thread(writer, "application");
        writing.start();
        try {
            Waits.until("20 files written before the kill", TIMEOUT, () -> writer.files.size() >= 20,
                    () -> "", () -> writer.failure != null);
            cluster.kill(owner);
            Waits.until("another owner", TIMEOUT,
                    () -> !cluster.json("volume", "info", VOLUME, "--json").get("owner").asText().equals(owner),
                    () -> cluster.cli("volume", "ls").stdout(), () -> writer.failure != null);
            int atFailover = writer.files.size();
            Waits.until("20 more files written after the failover", TIMEOUT, () -> writer.files.size() >= atFailover + 20,
                    () -> "", () -> writer.failure != null);
        } finally {
            writer.stop = true;
            writing.join(TIMEOUT.toMillis());
        }
        assertThat(writer.failure).as("the application's I/O error").isNull();
        System.out.printf("MountAcrossFailoverTest: %d files written, longest fsync'ed write %d ms (the failover)%n",
                writer.files.size(), writer.longestMillis);
        assertThat(writer.longestMillis).as("the writer waited for the failover").isGreaterThan(1000);
        Map<String, String> written = new TreeMap<>(writer.files);

        CommandResult unmount = HablockCli.run("volume", "unmount", mnt.toString());
        assertThat(unmount.exitCode()).as(unmount.describe()).isZero();
        assertThat(unmount.stdout()).contains("volume " + VOLUME + " unmounted from " + mnt);
        assertThat(Mounts.isMounted(mnt)).isFalse();

        // A fresh look at the volume, through the endpoint again: file system clean, every file intact.
        try (NbdFuseDisk fuse = NbdFuseDisk.attach(dir.resolve("fuse"), cluster.uri(host, VOLUME), SIZE)) {
            CommandResult fsck = Command.of("e2fsck", "-f", "-n", fuse.disk().toString()).timeout(TIMEOUT).run();
            assertThat(fsck.exitCode()).as("e2fsck -fn exit status (0 = clean)%s", fsck.describe()).isZero();
            try (LoopMount again = LoopMount.mount(fuse.disk(), dir.resolve("check"))) {
                Map<String, String> read = new TreeMap<>();
                for (String name : written.keySet()) {
                    Path f = again.dir().resolve(name);
                    read.put(name, Files.exists(f) ? sha256(Files.readAllBytes(f)) : "missing");
                }
                assertThat(read).isEqualTo(written);
            }
        }
        assertThat(cluster.cliOk("volume", "verify", VOLUME).stdout()).contains("ok: all compared copies are identical");
    }

    /** Writes files of 64 KiB to 1 MiB of random data, each fsync'ed before it counts as written. */
    private static final class Writer implements Runnable {
        private final Path root;
        final Map<String, String> files = new ConcurrentSkipListMap<>();
        volatile boolean stop;
        volatile IOException failure;
        volatile long longestMillis;

        Writer(Path root) {
            this.root = root;
        }

        @Override
        public void run() {
            Random random = new Random(11);
            try {
                for (int i = 0; !stop; i++) {
                    byte[] data = new byte[(64 << 10) + random.nextInt(960 << 10)];
                    random.nextBytes(data);
                    String name = "file-" + i + ".bin";
                    long start = System.nanoTime();
                    try (FileChannel ch = FileChannel.open(root.resolve(name), StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE)) {
                        ByteBuffer buf = ByteBuffer.wrap(data);
                        while (buf.hasRemaining()) {
                            ch.write(buf);
                        }
                        ch.force(true);
                    }
                    longestMillis = Math.max(longestMillis, (System.nanoTime() - start) / 1_000_000);
                    files.put(name, sha256(data));
                    Thread.sleep(50);
                }
            } catch (IOException e) {
                failure = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
