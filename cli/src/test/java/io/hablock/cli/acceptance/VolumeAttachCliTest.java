package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.HablockCli;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code volume attach/detach} on a machine without the nbd kernel module (these machines, see
 * TESTING.md): one clear line, exit 1, and nothing done first. The "ZooKeeper" is a plain listening
 * socket: had the command tried to reach the cluster, a connection would be waiting in its backlog.
 */
class VolumeAttachCliTest {
    private static final String NOT_LOADED = "error: the nbd kernel module is not loaded: modprobe nbd";

    @BeforeAll
    static void noNbdModule() {
        assumeFalse(Files.exists(Path.of("/sys/module/nbd")) || Files.exists(Path.of("/dev/nbd0")),
                "this kernel has the nbd module");
    }

    @Test
    void attachFailsWithOneLineBeforeReachingTheCluster() throws Exception {
        try (ServerSocket zk = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            CommandResult r = HablockCli.run("volume", "attach", "x", "--zk", "127.0.0.1:" + zk.getLocalPort());

            assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
            assertThat(r.stderrLines()).as(r.describe()).containsExactly(NOT_LOADED);
            assertThat(r.stdout()).as(r.describe()).isEmpty();
            assertNoConnection(zk);
        }
    }

    @Test
    void attachWithTheDefaultClusterAndADeviceFailsTheSameWay() {
        CommandResult r = HablockCli.run("volume", "attach", "x", "--device", "/dev/nbd3");
        assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
        assertThat(r.stderrLines()).as(r.describe()).containsExactly(NOT_LOADED);
    }

    @Test
    void detachByDeviceOrNameFailsTheSameWay() throws Exception {
        try (ServerSocket zk = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            for (String target : new String[] {"/dev/nbd0", "x"}) {
                CommandResult r = HablockCli.run("volume", "detach", target, "--zk", "127.0.0.1:" + zk.getLocalPort());
                assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
                assertThat(r.stderrLines()).as(r.describe()).containsExactly(NOT_LOADED);
            }
            assertNoConnection(zk);
        }
    }

    @Test
    void mountThroughTheKernelFailsTheSameWayAndPointsToFuse(@TempDir Path dir) throws Exception {
        try (ServerSocket zk = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Path mnt = dir.resolve("mnt");
            CommandResult r = HablockCli.run("volume", "mount", "x", mnt.toString(), "--zk", "127.0.0.1:" + zk.getLocalPort());

            assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
            assertThat(r.stderrLines()).as(r.describe()).containsExactly(NOT_LOADED + " (or mount through FUSE: --via fuse)");
            assertThat(mnt).doesNotExist();
            assertNoConnection(zk);
        }
    }

    @Test
    void helpExplains() {
        CommandResult attach = HablockCli.run("volume", "attach", "--help");
        assertThat(attach.exitCode()).as(attach.describe()).isZero();
        assertThat(attach.stdout()).contains("/dev/nbdN", "--device", "--timeout", "--zk", "modprobe nbd");
        CommandResult detach = HablockCli.run("volume", "detach", "--help");
        assertThat(detach.exitCode()).as(detach.describe()).isZero();
        assertThat(detach.stdout()).contains("NAME|/dev/nbdN", "modprobe nbd");
        CommandResult volume = HablockCli.run("volume", "--help");
        assertThat(volume.stdout()).contains("attach", "detach", "mount", "unmount");
        CommandResult mount = HablockCli.run("volume", "mount", "--help");
        assertThat(mount.stdout()).contains("NAME", "PATH", "--fs", "--via", "kernel|fuse", "blank", "docker run -v");
    }

    private static void assertNoConnection(ServerSocket zk) throws Exception {
        zk.setSoTimeout(200);
        assertThatThrownBy(() -> zk.accept().close()).isInstanceOf(SocketTimeoutException.class);
    }
}
