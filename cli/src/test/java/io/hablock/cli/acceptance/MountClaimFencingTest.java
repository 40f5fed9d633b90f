package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.TestCredentials;
import io.hablock.cli.acceptance.support.Waits;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Docker mount's host cut off from ZooKeeper only (nftables drops its port 2181; its copies and
 * its applications still reach it). Three nodes, each in a network namespace of its own on a
 * bridge, with ZooKeeper on the host side; the plugins are driven over their unix sockets.
 *
 * <p>The hazard: the mount's claim is an ephemeral znode of the plugin's session, so another host
 * may mount the volume once the cut outlasts the session timeout, while the file system of the
 * cut host still has writes to send, made from what it last read. When its ZooKeeper came back,
 * its node would learn the new owner and send them there, over the other host's file system.
 * The test checks, counting what clients were told and the volume's bytes:
 * <ol>
 * <li>a cut longer than the session timeout with no other mount meanwhile is a pause: the write
 *     made during the cut is acknowledged once the cut ends, and is there;
 * <li>a cut during which another host mounts the volume, writes and unmounts: the write made on
 *     the cut host during the cut fails, and not one byte of the volume changes when the cut
 *     ends; the fenced mount is refused to new containers until its own are gone, then the host
 *     mounts the volume again and sees the other host's file.
 * </ol>
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MountClaimFencingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SUBNET = "10.77.0";
    private static final String BRIDGE = "hbmf0";
    private static final int NODES = 3;
    private static final Duration SESSION = Duration.ofSeconds(4);
    private static final String VOLUME = "fenced";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path dir;
    static final List<Process> processes = new ArrayList<>();
    static final Process[] nodes = new Process[NODES + 1];

    @BeforeAll
    static void up() throws Exception {
        TestCredentials.secret();
        removeNetwork();
        sh("ip", "link", "add", BRIDGE, "type", "bridge");
        sh("ip", "addr", "add", SUBNET + ".1/24", "dev", BRIDGE);
        sh("ip", "link", "set", BRIDGE, "up");
        for (int k = 1; k <= NODES; k++) {
            sh("ip", "netns", "add", ns(k));
            sh("ip", "link", "add", ns(k) + "h", "type", "veth", "peer", "name", "eth0", "netns", ns(k));
            sh("ip", "link", "set", ns(k) + "h", "master", BRIDGE, "up");
            sh("ip", "-n", ns(k), "addr", "add", ip(k) + "/24", "dev", "eth0");
            sh("ip", "-n", ns(k), "link", "set", "eth0", "up");
            sh("ip", "-n", ns(k), "link", "set", "lo", "up");
        }
        processes.add(start(List.of(), hablock("zookeeper", "--listen", zk(), "--data-dir", dir.resolve("zookeeper").toString()),
                dir.resolve("zookeeper.log")));
        for (int k = 1; k <= NODES; k++) {
            Files.createDirectories(dir.resolve("v" + k));
            // nsenter, not `ip netns exec`: that one gives the command a mount namespace of its own,
            // where the mounts the node makes would stay, out of this test's sight.
            List<String> argv = new ArrayList<>(List.of("nsenter", "--net=/var/run/netns/" + ns(k), "env",
                    "HABLOCK_RUN_DIR=" + dir.resolve("v" + k + "/run")));
            argv.addAll(hablock("server", "--data-dir", dir.resolve("v" + k + "/data").toString(), "--name", "v" + k,
                    "--listen", ip(k) + ":10809", "--zk", zk(), "--session-timeout", SESSION.toMillis() + "ms",
                    "--docker-plugin", socket(k).toString(), "--locality", "auto"));
            nodes[k] = start(List.of(), argv, log(k));
            processes.add(nodes[k]);
        }
        for (int k = 1; k <= NODES; k++) {
            int node = k;
            Waits.until("node v" + k + "'s plugin", Duration.ofSeconds(60), () -> Files.exists(socket(node)) && logHas(node,
                    "hablock node ready"), () -> logTail(node));
        }
        JsonNode created = plugin(1, "/VolumeDriver.Create", "{\"Name\":\"" + VOLUME + "\",\"Opts\":{\"size\":\"64M\",\"copies\":\"3\"}}");
        assertThat(created.path("Err").asText("")).isEmpty();
    }

    @AfterAll
    static void down() throws Exception {
        for (int k = 1; k <= NODES; k++) {
            cutZooKeeper(k, false);
        }
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            if (!p.waitFor(15, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        // Mounts left by a failed run: the file system, its loop device, nbdfuse's FUSE mount.
        for (int k = 1; k <= NODES; k++) {
            Command.of("umount", "-l", dir.resolve("v" + k + "/run/docker/" + VOLUME).toString()).run();
        }
        for (String line : Command.of("losetup", "-a").run().stdout().lines().toList()) {
            if (line.contains(dir.toString())) {
                Command.of("losetup", "-d", line.substring(0, line.indexOf(':'))).run();
            }
        }
        for (int k = 1; k <= NODES; k++) {
            Command.of("umount", "-l", dir.resolve("v" + k + "/run/mounts/" + VOLUME + ".fuse").toString()).run();
        }
        removeNetwork();
    }

    @Test
    @Order(1)
    void aCutLongerThanTheSessionTimeoutWithNoOtherMountIsAPause() throws Exception {
        Path mount = Path.of(mount(1, "c1"));
        write(mount.resolve("before"), "before the cut\n");

        int suspended = count(1, SUSPENDED);
        int lost = count(1, LOST);
        cutZooKeeper(1, true);
        CompletableFuture<String> during;
        try {
            // The claim holds for half a session timeout after the plugin last heard from ZooKeeper:
            // a write within that time goes through, as it should. Past it:
            awaitPastTheClaim(suspended);
            during = CompletableFuture.supplyAsync(() -> writeOrError(mount.resolve("during"), "written during the cut\n"));
            Waits.until("v1 holding its mount's requests", SESSION.multipliedBy(5),
                    () -> logHas(1, "holding this host's mount's requests"), () -> logTail(1));
            // Past the session timeout: both sessions of v1 (its node's, its plugin's) lost, the claim gone.
            Waits.until("v1's ZooKeeper sessions lost", SESSION.multipliedBy(5), () -> count(1, LOST) >= lost + 2,
                    () -> logTail(1));
            assertThat(during).as("a write while the claim is not confirmed waits").isNotDone();
        } finally {
            cutZooKeeper(1, false);
        }

        assertThat(during.get(60, TimeUnit.SECONDS)).as("the write made during the cut, once it ended").isEqualTo("ok");
        Waits.until("v1's claim made again", Duration.ofSeconds(30), () -> logHas(1, "claimed the mount of volume " + VOLUME
                + " again"), () -> logTail(1));
        assertThat(Files.readString(mount.resolve("during"))).isEqualTo("written during the cut\n");
    }

    @Test
    @Order(2)
    void anotherHostsMountDuringTheCutFencesTheCutHostsWrites() throws Exception {
        Path mount1 = Path.of(mount(1, "c1b")); // a second container on v1: the same mount
        assertThat(Files.readString(mount1.resolve("during"))).isEqualTo("written during the cut\n");

        int suspended = count(1, SUSPENDED);
        cutZooKeeper(1, true);
        CompletableFuture<String> stale;
        String before;
        try {
            awaitPastTheClaim(suspended); // see the first test
            stale = CompletableFuture.supplyAsync(() -> writeOrError(mount1.resolve("stale"),
                    "written by the cut host after its claim expired\n".repeat(2000)));
            // v2 may mount once v1's claim expired with its session.
            String[] mount2 = new String[1];
            Waits.until("v2 mounts the volume", Duration.ofSeconds(90), () -> {
                JsonNode r = pluginUnchecked(2, "/VolumeDriver.Mount", "{\"Name\":\"" + VOLUME + "\",\"ID\":\"c2\"}");
                mount2[0] = r.path("Mountpoint").asText("");
                return r.path("Err").asText("").isEmpty() && !mount2[0].isEmpty();
            }, () -> logTail(2));
            assertThat(stale).as("the cut host's write, while another host mounts").isNotDone();
            Path m2 = Path.of(mount2[0]);
            assertThat(Files.readString(m2.resolve("during"))).as("v2 sees what v1 wrote before")
                    .isEqualTo("written during the cut\n");
            write(m2.resolve("other"), "written by the other host\n");
            JsonNode unmounted = plugin(2, "/VolumeDriver.Unmount", "{\"Name\":\"" + VOLUME + "\",\"ID\":\"c2\"}");
            assertThat(unmounted.path("Err").asText("")).isEmpty();
            before = volumeDigest(2);
        } finally {
            cutZooKeeper(1, false);
        }
        assertThat(stale.get(90, TimeUnit.SECONDS)).as("v1's write made from its stale file system").startsWith("error");
        Waits.until("v1's mount fenced", Duration.ofSeconds(30), () -> logHas(1, "is fenced"), () -> logTail(1));
        Thread.sleep(3000); // anything v1 still had to send would have landed by now
        assertThat(volumeDigest(2)).as("the volume's bytes after the cut host came back").isEqualTo(before);

        assertThat(plugin(1, "/VolumeDriver.Get", "{\"Name\":\"" + VOLUME + "\"}").path("Volume").path("Status")
                .path("io").asText()).as("docker volume inspect on v1").startsWith("fenced");
        JsonNode refused = plugin(1, "/VolumeDriver.Mount", "{\"Name\":\"" + VOLUME + "\",\"ID\":\"c3\"}");
        assertThat(refused.path("Err").asText("")).contains("fenced").contains("c1");
        for (String id : List.of("c1", "c1b")) {
            assertThat(plugin(1, "/VolumeDriver.Unmount", "{\"Name\":\"" + VOLUME + "\",\"ID\":\"" + id + "\"}")
                    .path("Err").asText("")).isEmpty();
        }
        Path again = Path.of(mount(1, "c3"));
        assertThat(Files.readString(again.resolve("other"))).isEqualTo("written by the other host\n");
        assertThat(again.resolve("stale")).doesNotExist();
        assertThat(plugin(1, "/VolumeDriver.Unmount", "{\"Name\":\"" + VOLUME + "\",\"ID\":\"c3\"}").path("Err").asText(""))
                .isEmpty();
    }

    // ---- helpers -------------------------------------------------------------------------------

    /** What ZooKeeper's client logs when a session's connection goes quiet past two thirds of its timeout. */
    private static final String SUSPENDED = "have not heard from server";
    /** What Curator logs when a session stayed disconnected for a whole timeout (it is then expired). */
    private static final String LOST = "Session timeout has elapsed while SUSPENDED";

    /**
     * Waits until both of v1's ZooKeeper sessions (its node's and its plugin's) went quiet since
     * {@code suspendedBefore} such lines: at two thirds of the session timeout, after the claim's
     * confirmation ran out at one half.
     */
    private static void awaitPastTheClaim(int suspendedBefore) {
        Waits.until("v1's ZooKeeper sessions suspended", SESSION.multipliedBy(5), () -> count(1, SUSPENDED) >= suspendedBefore + 2,
                () -> logTail(1));
    }

    private static int count(int k, String text) {
        try {
            return (int) Files.readAllLines(log(k)).stream().filter(l -> l.contains(text)).count();
        } catch (IOException e) {
            return 0;
        }
    }

    private static String mount(int k, String id) throws IOException {
        JsonNode r = plugin(k, "/VolumeDriver.Mount", "{\"Name\":\"" + VOLUME + "\",\"ID\":\"" + id + "\"}");
        assertThat(r.path("Err").asText("")).as("mount on v" + k).isEmpty();
        return r.path("Mountpoint").asText();
    }

    private static void write(Path file, String text) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        }
    }

    /** "ok" once the file is written and synced (what an application takes as acknowledged), else "error: ...". */
    private static String writeOrError(Path file, String text) {
        System.out.println(java.time.LocalTime.now() + " writing " + file);
        try {
            write(file, text);
            System.out.println(java.time.LocalTime.now() + " written " + file);
            return "ok";
        } catch (IOException e) {
            System.out.println(java.time.LocalTime.now() + " failed " + file + ": " + e);
            return "error: " + e;
        }
    }

    /** The MD5 of the volume's bytes, read through node k. */
    private static String volumeDigest(int k) throws Exception {
        Process p = new ProcessBuilder("nbdcopy", "nbd://" + ip(k) + ":10809/" + VOLUME, "-")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        try (InputStream in = p.getInputStream()) {
            byte[] b = new byte[1 << 20];
            for (int n; (n = in.read(b)) > 0; ) {
                md5.update(b, 0, n);
            }
        }
        assertThat(p.waitFor()).as("nbdcopy exit").isZero();
        return HexFormat.of().formatHex(md5.digest());
    }

    private static JsonNode plugin(int k, String method, String body) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket(k)));
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            String request = "POST " + method + " HTTP/1.1\r\nHost: plugin\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\nConnection: close\r\n\r\n" + body;
            ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
            String response = new String(Channels.newInputStream(ch).readAllBytes(), StandardCharsets.UTF_8);
            return JSON.readTree(response.substring(response.indexOf("\r\n\r\n") + 4));
        }
    }

    private static JsonNode pluginUnchecked(int k, String method, String body) {
        try {
            return plugin(k, method, body);
        } catch (IOException e) {
            return JSON.createObjectNode().put("Err", e.toString());
        }
    }

    private static void cutZooKeeper(int k, boolean cut) {
        System.out.println(java.time.LocalTime.now() + (cut ? " cut " : " heal ") + k);
        if (cut) {
            sh("ip", "netns", "exec", ns(k), "nft", "add table inet zkcut; "
                    + "add chain inet zkcut out { type filter hook output priority 0; }; "
                    + "add rule inet zkcut out tcp dport 2181 drop; "
                    + "add chain inet zkcut in { type filter hook input priority 0; }; "
                    + "add rule inet zkcut in tcp sport 2181 drop");
        } else {
            Command.of("ip", "netns", "exec", ns(k), "nft", "delete table inet zkcut").run();
        }
    }

    private static List<String> hablock(String... args) {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:MaxDirectMemorySize=512m", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), "io.hablock.cli.Main"));
        argv.addAll(List.of(args));
        return argv;
    }

    private static Process start(List<String> prefix, List<String> argv, Path log) throws IOException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(argv);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    }

    private static void removeNetwork() {
        Command.of("ip", "link", "del", BRIDGE).run();
        for (int k = 1; k <= NODES; k++) {
            Command.of("ip", "netns", "del", ns(k)).run();
            Command.of("ip", "link", "del", ns(k) + "h").run(); // gone with its namespace, unless something holds that
        }
    }

    private static void sh(String... argv) {
        CommandResult r = Command.of(argv).run();
        assertThat(r.exitCode()).as(r.describe()).isZero();
    }

    private static boolean logHas(int k, String text) {
        try {
            return Files.readString(log(k)).contains(text);
        } catch (IOException e) {
            return false;
        }
    }

    private static String logTail(int k) {
        try {
            List<String> lines = Files.readAllLines(log(k));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static Path log(int k) {
        return dir.resolve("v" + k + ".log");
    }

    private static Path socket(int k) {
        return dir.resolve("v" + k + "/plugin.sock");
    }

    private static String ns(int k) {
        return "hbmf" + k;
    }

    private static String ip(int k) {
        return SUBNET + ".1" + k;
    }

    private static String zk() {
        return SUBNET + ".1:2181";
    }
}
