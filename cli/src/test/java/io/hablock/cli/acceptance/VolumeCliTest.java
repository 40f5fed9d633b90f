package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.acceptance.support.BackgroundProcess;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.FreePorts;
import io.hablock.cli.acceptance.support.HablockCli;
import io.hablock.cli.acceptance.support.SharedNodeTest;
import io.hablock.cli.acceptance.support.Waits;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code hablock volume ...} run as a user would, against a running node: what works prints
 * its result, every mistake ends in exactly one "error:" line on stderr and a non-zero exit.
 */
class VolumeCliTest extends SharedNodeTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static String zk;

    @BeforeAll
    static void zk() {
        zk = node.zk();
    }

    /** {@code hablock volume ARGS --zk <the test's node>}. */
    private static CommandResult volume(String... args) {
        return volumeAt(zk, args);
    }

    private static CommandResult volumeAt(String zk, String... args) {
        List<String> argv = new ArrayList<>(List.of("volume"));
        argv.addAll(List.of(args));
        argv.addAll(List.of("--zk", zk));
        return HablockCli.run(argv);
    }

    private static CommandResult volumeOk(String... args) {
        CommandResult r = volume(args);
        assertThat(r.exitCode()).as("exit status%s", r.describe()).isZero();
        assertThat(r.stderr()).as("stderr%s", r.describe()).isEmpty();
        return r;
    }

    /** The contract for every user error: one line on stderr, "error: ...", nothing on stdout. */
    private static String assertOneLineError(CommandResult r) {
        assertThat(r.exitCode()).as("exit status%s", r.describe()).isNotZero();
        assertThat(r.stderrLines()).as("stderr%s", r.describe()).hasSize(1);
        assertThat(r.stderrLines().get(0)).as("stderr%s", r.describe()).startsWith("error: ");
        assertThat(r.stdout()).as("stdout%s", r.describe()).isEmpty();
        return r.stderrLines().get(0);
    }

    @Test
    void aHostEndpointWithoutCopiesNeedsAClusterToServe(@TempDir Path data) {
        assertThat(assertOneLineError(HablockCli.run("server", "--no-copies", "--data-dir", data.toString())))
                .isEqualTo("error: --no-copies needs --zk (a cluster to serve) and forwarding, and takes no --capacity");
        assertThat(assertOneLineError(HablockCli.run("server", "--no-copies", "--zk", "127.0.0.1:1", "--no-forward",
                "--data-dir", data.toString()))).startsWith("error: --no-copies needs --zk");
    }

    @ParameterizedTest
    @ValueSource(strings = {"bogus", "0", "1000"}) // not a size, not positive, not a multiple of 512
    void createWithABadSizeIsOneLineError(String size) {
        String name = "bad-size-" + size;

        String error = assertOneLineError(volume("create", name, "--size", size));

        assertThat(error).contains("invalid size").contains(size);
        assertThat(node.volume(name)).isEmpty();
    }

    @Test
    void aBadLocalityIsOneLineErrorAndAGoodOneIsKept() throws IOException {
        assertThat(assertOneLineError(volume("create", "far", "--size", "8M", "--locality", "sometimes")))
                .isEqualTo("error: locality must be auto, off or node, not 'sometimes'");
        assertThat(node.volume("far")).isEmpty();
        volumeOk("create", "far", "--size", "8M", "--locality", "off");
        assertThat(infoJson("far").get("locality").asText()).isEqualTo("off");
        assertThat(assertOneLineError(volume("locality", "far", "always")))
                .isEqualTo("error: locality must be auto, off or node, not 'always'");
        assertThat(volumeOk("locality", "far", "node").stdout())
                .isEqualTo("volume far follows the locality setting of the node that mounts it\n");
        assertThat(infoJson("far").get("locality").asText()).isEqualTo("node");
    }

    @Test
    void createWithAnExistingNameIsOneLineErrorAndLeavesTheVolumeAlone() {
        node.createVolume("dup", 1L << 30);

        String error = assertOneLineError(volume("create", "dup", "--size", "2G"));

        assertThat(error).isEqualTo("error: volume 'dup' already exists");
        assertThat(node.volume("dup")).hasValueSatisfying(v -> assertThat(v.sizeBytes()).isEqualTo(1L << 30));
    }

    @Test
    void rmOfAnUnknownVolumeIsOneLineError() {
        assertThat(assertOneLineError(volume("rm", "no-such-volume")))
                .isEqualTo("error: no volume named 'no-such-volume'");
    }

    @Test
    void infoOfAnUnknownVolumeIsOneLineError() {
        assertThat(assertOneLineError(volume("info", "no-such-volume")))
                .isEqualTo("error: no volume named 'no-such-volume'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"ls", "create x --size 1G"})
    void anUnreachableZooKeeperIsOneLineErrorWithinSeconds(String command) {
        String closed = "127.0.0.1:" + FreePorts.next();

        long start = System.nanoTime();
        String error = assertOneLineError(volumeAt(closed, command.split(" ")));

        assertThat(error).startsWith("error: cannot reach ZooKeeper at " + closed);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
    }

    @Test
    void lsListsVolumesAndInfoJsonDescribesOne() throws IOException {
        CommandResult created = volumeOk("create", "listed-a", "--size", "10G");
        assertThat(created.stdout()).matches("volume listed-a \\(vd\\d+\\) created: 10G, 1-copy on test, owner test, uuid \\S+\\s*");
        node.createVolume("listed-b", 512L << 20);

        CommandResult ls = volumeOk("ls");

        assertThat(ls.stdout().lines().findFirst()).as(ls.describe()).hasValueSatisfying(
                header -> assertThat(header.split("\\s+")).containsExactly("NODENAME", "VDISK", "TYPE", "SIZE", "UUID",
                        "VOLUMENAME", "COPIES", "HEALTH", "ATTACHED", "LOCAL"));
        assertThat(ls.stdout().lines().map(l -> l.split("\\s+")))
                .as(ls.describe())
                .anySatisfy(row -> assertThat(row).containsExactly("test", row[1], "1-copy", "10G", row[4], "listed-a",
                        "test", "healthy", "-", "-"))
                .anySatisfy(row -> assertThat(row).containsExactly("test", row[1], "1-copy", "512M", row[4], "listed-b",
                        "test", "healthy", "-", "-"));

        JsonNode info = infoJson("listed-a");
        assertThat(info.get("name").asText()).isEqualTo("listed-a");
        assertThat(info.get("sizeBytes").asLong()).isEqualTo(10L << 30);
        assertThat(UUID.fromString(info.get("uuid").asText()).toString()).isEqualTo(info.get("uuid").asText());
        assertThat(ls.stdout()).contains(info.get("uuid").asText().substring(0, 8));
        assertThat(info.get("type").asText()).isEqualTo("1-copy");
        assertThat(info.get("health").asText()).isEqualTo("healthy");
        assertThat(info.get("copyNodes").get("test").asText()).isEqualTo("in-sync");
    }

    @Test
    void rmIsRefusedWhileAClientIsConnectedAndWorksOnceItLeaves() {
        node.createVolume("busy", 64L << 20);
        // A real NBD client that stays connected until its stdin is closed.
        try (BackgroundProcess client = Command.of("nbdsh", "-u", node.nbdUri("busy"),
                "-c", "print('connected', flush=True)", "-c", "import sys; sys.stdin.read()").start()) {
            client.awaitOutput("connected", Duration.ofSeconds(30));

            String error = assertOneLineError(volume("rm", "busy"));
            assertThat(error).startsWith("error: volume 'busy' has 1 connected client(s) (127.0.0.1:")
                    .endsWith("): disconnect them first");
            assertThat(node.volume("busy")).isPresent();
            assertThat(volumeOk("ls").stdout()).as("ATTACHED: the node whose endpoint the client uses, and the client;"
                            + " LOCAL: that node owns the volume")
                    .containsPattern("(?m)\\sbusy\\s+test\\s+healthy\\s+test:127\\.0\\.0\\.1:\\d+\\s+yes$");

            client.closeStdin();
            assertThat(client.exitCode(Duration.ofSeconds(30))).as(client.describe()).isZero();
        }

        // The server lets go of the volume when it sees the disconnect, which may lag the client's exit.
        CommandResult[] last = new CommandResult[1];
        Waits.until("volume rm to succeed", Duration.ofSeconds(20), () -> (last[0] = volume("rm", "busy")).succeeded(),
                () -> last[0] == null ? "" : last[0].describe());
        assertThat(last[0].stdout().strip()).isEqualTo("volume busy removed");
        assertThat(node.volume("busy")).isEmpty();
    }

    @Test
    void eventsTellWhatHappenedAndFollowPrintsNewOnes() throws IOException {
        volumeOk("create", "evented", "--size", "1G");
        try (BackgroundProcess follow = Command.of(HablockCli.argv(List.of("events", "--follow", "-n", "50", "--zk", zk)))
                .start()) {
            // The history first (so the follower is surely reading), then what happens after it started.
            follow.awaitOutput("volume evented (vd", Duration.ofSeconds(30));
            assertThat(follow.stdout()).containsPattern(
                    "\\d\\d/\\d\\d/\\d{4}-\\d\\d:\\d\\d:\\d\\d \\[info\\] \\[CLUSTER\\] volume evented \\(vd\\d+\\) created on node [0-9a-f]{8}");
            volumeOk("create", "evented-later", "--size", "1G");
            follow.awaitOutput("volume evented-later (vd", Duration.ofSeconds(30));
        }
        CommandResult json = HablockCli.run("events", "-n", "2", "--json", "--zk", zk);
        assertThat(json.exitCode()).as(json.describe()).isZero();
        List<String> lines = json.stdout().lines().toList();
        assertThat(lines).hasSize(2);
        for (String line : lines) {
            JsonNode e = JSON.readTree(line);
            assertThat(e.get("level").asText()).isIn("info", "warn");
            assertThat(e.get("source").asText()).isNotEmpty();
            assertThat(e.get("time").asLong()).isPositive();
        }
        assertThat(JSON.readTree(lines.get(1)).get("message").asText()).contains("evented");
    }

    private static JsonNode infoJson(String name) throws IOException {
        CommandResult r = volumeOk("info", name, "--json");
        return JSON.readTree(r.stdout());
    }
}
