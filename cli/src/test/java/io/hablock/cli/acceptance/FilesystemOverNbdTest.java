package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Checksums;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.LoopMount;
import io.hablock.cli.acceptance.support.NbdFuseDisk;
import io.hablock.cli.acceptance.support.ServerProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ext4 on a hablock volume, through nbdfuse and a loop mount: files written, synced and
 * unmounted pass e2fsck and read back the same, also after the server was killed with
 * SIGKILL and restarted on the same data directory.
 */
class FilesystemOverNbdTest {
    private static final long SIZE = 512L * 1024 * 1024;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void filesSurviveUnmountFsckAndRemount() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"))) {
            server.createVolume("fs", "512M");
            Map<String, String> written;
            try (NbdFuseDisk fuse = NbdFuseDisk.attach(dir.resolve("fuse"), server.nbdUri("fs"), SIZE)) {
                Command.of("mkfs.ext4", "-F", "-q", fuse.disk().toString()).timeout(TIMEOUT).runOk();
                try (LoopMount mnt = LoopMount.mount(fuse.disk(), dir.resolve("mnt"))) {
                    written = writeRandomFiles(mnt.dir());
                    Command.of("sync").timeout(TIMEOUT).runOk();
                    mnt.unmount();
                }
            }

            // A new nbdfuse, so nothing below is answered from the old one's page cache.
            try (NbdFuseDisk fuse = NbdFuseDisk.attach(dir.resolve("fuse"), server.nbdUri("fs"), SIZE)) {
                fsckIsClean(fuse.disk());
                try (LoopMount mnt = LoopMount.mount(fuse.disk(), dir.resolve("mnt"))) {
                    assertThat(checksums(mnt.dir(), written)).isEqualTo(written);
                }
            }
        }
    }

    @Test
    void syncedFilesSurviveSigkillOfTheServerAndARestart() throws Exception {
        Map<String, String> written;
        ServerProcess restarted;
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"))) {
            server.createVolume("fs", "512M");
            try (NbdFuseDisk fuse = NbdFuseDisk.attach(dir.resolve("fuse"), server.nbdUri("fs"), SIZE)) {
                Command.of("mkfs.ext4", "-F", "-q", fuse.disk().toString()).timeout(TIMEOUT).runOk();
                try (LoopMount mnt = LoopMount.mount(fuse.disk(), dir.resolve("mnt"))) {
                    written = writeRandomFiles(mnt.dir());
                    Command.of("sync").timeout(TIMEOUT).runOk();
                    mnt.unmount();
                }
                // nbdfuse is still connected: the server dies under it, with no chance to clean up.
                assertThat(server.kill()).as("exit status after SIGKILL%s", server.describe()).isEqualTo(137);
            }
            restarted = server.restart();
        }

        try (ServerProcess server = restarted;
             NbdFuseDisk fuse = NbdFuseDisk.attach(dir.resolve("fuse"), server.nbdUri("fs"), SIZE)) {
            fsckIsClean(fuse.disk());
            try (LoopMount mnt = LoopMount.mount(fuse.disk(), dir.resolve("mnt"))) {
                assertThat(checksums(mnt.dir(), written)).isEqualTo(written);
            }
        }
    }

    private static void fsckIsClean(Path disk) {
        CommandResult fsck = Command.of("e2fsck", "-f", "-n", disk.toString()).timeout(TIMEOUT).run();
        assertThat(fsck.exitCode()).as("e2fsck -fn exit status (0 = clean)%s", fsck.describe()).isZero();
    }

    /** Several files of random data (a few MiB in all), one in a subdirectory; their SHA-256 by path. */
    private static Map<String, String> writeRandomFiles(Path root) throws IOException {
        Random random = new Random(7);
        Files.createDirectories(root.resolve("sub"));
        int[] sizes = {1, 4096, 1_000_000, 2 * 1024 * 1024 + 17, 3 * 1024 * 1024};
        Map<String, String> sums = new TreeMap<>();
        for (int i = 0; i < sizes.length; i++) {
            byte[] data = new byte[sizes[i]];
            random.nextBytes(data);
            String name = (i == 2 ? "sub/" : "") + "file-" + i + ".bin";
            Files.write(root.resolve(name), data);
            sums.put(name, Checksums.sha256(root.resolve(name)));
        }
        return sums;
    }

    private static Map<String, String> checksums(Path root, Map<String, String> expected) throws IOException {
        Map<String, String> sums = new TreeMap<>();
        for (String name : expected.keySet()) {
            Path file = root.resolve(name);
            sums.put(name, Files.exists(file) ? Checksums.sha256(file) : "missing");
        }
        return sums;
    }
}
