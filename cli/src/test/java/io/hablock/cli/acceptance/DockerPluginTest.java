package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.DockerEngine;
import io.hablock.cli.acceptance.support.InProcessCli;
import io.hablock.cli.acceptance.support.ServerProcess;
import io.hablock.cli.acceptance.support.Waits;
import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Docker volume plugin driven by the real {@code docker} CLI against a real {@code dockerd}:
 * {@code docker volume create -d DRIVER --opt size=...}, a container that writes through the
 * volume, another that reads the same bytes back, {@code docker volume rm}. The node serves the
 * plugin on a unix socket in {@code /run/docker/plugins}, where the engine finds it by name. On
 * this machine (no nbd kernel module) the mount goes through nbdfuse and a loop device.
 */
class DockerPluginTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path dir;
    static DockerEngine docker;
    static ServerProcess node;
    static String driver;

    @BeforeAll
    static void up() throws Exception {
        driver = "hablock-test-" + ProcessHandle.current().pid();
        Path socket = Path.of("/run/docker/plugins", driver + ".sock");
        node = ServerProcess.startNamed("d1", dir.resolve("node"), dir.resolve("run"), "--docker-plugin", socket.toString());
        docker = DockerEngine.start(dir.resolve("docker"));
    }

    @AfterAll
    static void down() {
        try {
            if (docker != null) {
                docker.close();
            }
        } finally {
            if (node != null) {
                node.close();
            }
        }
    }

    @Test
    void aContainerWritesAVolumeAnotherReadsItBackAndTheVolumeIsRemoved() throws Exception {
        docker.dockerOk("volume", "create", "-d", driver, "--opt", "size=64M", "--opt", "copies=1", "data");
        assertThat(docker.dockerOk("volume", "ls", "--format", "{{.Driver}} {{.Name}}").stdout())
                .contains(driver + " data");
        assertThat(hablock("volume", "info", "data", "--zk", node.zk()).stdout()).contains("64M");

        CommandResult wrote = docker.dockerOk("run", "--rm", "--network", "none", "-v", "data:/data", DockerEngine.IMAGE,
                "sh", "-c", "dd if=/dev/urandom of=/data/blob bs=64k count=16 2>/dev/null && sync && md5sum /data/blob");
        String sum = wrote.stdout().strip().split("\\s+")[0];
        assertThat(sum).matches("[0-9a-f]{32}");
        // The last container gone, the file system is unmounted and the claim released.
        Waits.until("data unmounted once its container left", Duration.ofSeconds(20),
                () -> !Files.exists(dir.resolve("run/mounts/data.json")), node::log);

        CommandResult read = docker.dockerOk("run", "--rm", "--network", "none", "-v", "data:/data", DockerEngine.IMAGE,
                "md5sum", "/data/blob");
        assertThat(read.stdout().strip().split("\\s+")[0]).as("checksum read back by another container").isEqualTo(sum);

        JsonNode inspect = JSON.readTree(docker.dockerOk("volume", "inspect", "data").stdout()).get(0);
        assertThat(inspect.get("Driver").asText()).isEqualTo(driver);
        assertThat(inspect.get("Status").get("size").asText()).isEqualTo("64M");
        assertThat(inspect.get("Status").get("health").asText()).isEqualTo("healthy");

        docker.dockerOk("volume", "rm", "data");
        assertThat(docker.dockerOk("volume", "ls", "-q").stdout()).doesNotContain("data");
        assertThat(hablock("volume", "info", "data", "--zk", node.zk()).exitCode()).isNotZero();
    }

    /** Two containers share the mount; a removal while one runs is refused with the plugin's reason. */
    @Test
    void aMountedVolumeIsSharedOnThisHostAndCannotBeRemoved() throws Exception {
        docker.dockerOk("volume", "create", "-d", driver, "--opt", "size=32M", "shared");
        docker.dockerOk("run", "-d", "--name", "holder", "--network", "none", "-v", "shared:/data", DockerEngine.IMAGE,
                "sh", "-c", "echo first > /data/f && sync && sleep 600");
        try {
            CommandResult second = docker.dockerOk("run", "--rm", "--network", "none", "-v", "shared:/data", DockerEngine.IMAGE,
                    "cat", "/data/f");
            assertThat(second.stdout().strip()).isEqualTo("first");
            assertThat(Files.exists(dir.resolve("run/mounts/shared.json"))).as("still mounted for the first container").isTrue();

            CommandResult rm = docker.docker("volume", "rm", "-f", "shared");
            assertThat(rm.exitCode()).as(rm.describe()).isNotZero();
            assertThat(rm.stderr()).as(rm.describe()).contains("in use");
        } finally {
            docker.dockerOk("rm", "-f", "holder");
        }
        Waits.until("shared unmounted after the last container", Duration.ofSeconds(20),
                () -> !Files.exists(dir.resolve("run/mounts/shared.json")), node::log);
        docker.dockerOk("volume", "rm", "shared");
    }

    /**
     * Automatic locality: a volume owned by d1 and mounted through d2's plugin stays on d1 while
     * its own locality is off ({@code volume ls}: mounted on d2, data not local); turned to auto,
     * it moves to d2 (a copy built there first) while a container writes to it, {@code volume ls}
     * says its data is local, and the container's files check out afterwards.
     */
    @Test
    void aVolumeMountedOnAnotherNodesHostMovesThereWhileItsContainerWrites() throws Exception {
        String driver2 = driver + "-2";
        try (ServerProcess d2 = ServerProcess.startNamed("d2", dir.resolve("node2"), dir.resolve("run2"),
                "--zk", node.zk(), "--docker-plugin", "/run/docker/plugins/" + driver2 + ".sock")) {
            // Locality off for this volume first: mounted through d2, it stays on d1, and says so.
            assertThat(hablock("volume", "create", "near", "--size", "32M", "--locality", "off", "--zk", node.zk())
                    .exitCode()).isZero();
            if (!owner("near").equals("d1")) {
                CommandResult moved = hablock("volume", "move", "near", "--to", "d1", "--zk", node.zk());
                assertThat(moved.exitCode()).as(moved.describe()).isZero();
            }
            docker.dockerOk("volume", "create", "-d", driver2, "near"); // the existing volume, through d2's plugin
            docker.dockerOk("run", "-d", "--name", "near-writer", "--network", "none", "-v", "near:/data", DockerEngine.IMAGE,
                    "sh", "-c", "dd if=/dev/urandom of=/data/a bs=64k count=32 2>/dev/null && sync && md5sum /data/a > /data/a.md5"
                            + " && n=0 && while true; do dd if=/dev/urandom of=/data/b bs=4k count=64 2>/dev/null; sync;"
                            + " md5sum /data/b > /data/b.md5; n=$((n+1)); echo $n > /data/count; sleep 0.2; done");
            try {
                Waits.until("the writer's first rounds", Duration.ofSeconds(60), () -> count() >= 25, d2::log);
                JsonNode far = volumeLs("near");
                assertThat(far.get("owner").asText()).as("locality off: not moved").isEqualTo("d1");
                assertThat(far.get("mounted").asText()).startsWith("d2:");
                assertThat(far.get("local").asBoolean()).as("data local").isFalse();
                assertThat(far.get("locality").asText()).isEqualTo("off");
                CommandResult auto = hablock("volume", "locality", "near", "auto", "--zk", node.zk());
                assertThat(auto.exitCode()).as(auto.describe()).isZero();
                // Turned on while mounted: d2's plugin finds it elsewhere at its next check.
                Waits.until("near owned by d2, where it is mounted", Duration.ofSeconds(90), () -> owner("near").equals("d2"),
                        () -> hablock("events", "--zk", node.zk()).stdout() + d2.log());
                // Writes go on after the move: the writer's count moves on by several rounds.
                int atMove = count();
                Waits.until("writes after the move", Duration.ofSeconds(30), () -> count() >= atMove + 5, d2::log);
                CommandResult check = docker.dockerOk("exec", "near-writer", "sh", "-c",
                        "md5sum -c /data/a.md5 && cp /data/b.md5 /tmp/b.md5 && md5sum -c /tmp/b.md5 || true");
                assertThat(check.stdout()).contains("/data/a: OK");
                assertThat(volumeLs("near").get("local").asBoolean()).as("data local after the move").isTrue();
            } finally {
                docker.dockerOk("rm", "-f", "near-writer");
            }
            // Recorded once the move is done: a poll of the owner may come first.
            Waits.until("the move's event", Duration.ofSeconds(10),
                    () -> hablock("events", "--zk", node.zk()).stdout().contains("locality rebuild completed"),
                    () -> hablock("events", "--zk", node.zk()).stdout());
            CommandResult read = docker.dockerOk("run", "--rm", "--network", "none", "-v", "near:/data", DockerEngine.IMAGE,
                    "md5sum", "-c", "/data/a.md5");
            assertThat(read.stdout()).contains("/data/a: OK");
            docker.dockerOk("volume", "rm", "near");
        }
    }

    /** The near-writer container's rounds so far. */
    private static int count() {
        String out = docker.docker("exec", "near-writer", "cat", "/data/count").stdout().strip();
        return out.matches("\\d+") ? Integer.parseInt(out) : 0;
    }

    /** The volume's entry in {@code volume ls --json}. */
    private static JsonNode volumeLs(String volume) throws java.io.IOException {
        for (JsonNode v : JSON.readTree(hablock("volume", "ls", "--json", "--zk", node.zk()).stdout())) {
            if (v.get("name").asText().equals(volume)) {
                return v;
            }
        }
        throw new AssertionError("no volume " + volume + " in volume ls");
    }

    private static String owner(String volume) {
        try {
            return JSON.readTree(hablock("volume", "info", volume, "--json", "--zk", node.zk()).stdout())
                    .get("owner").asText();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Bad options reach the user as the plugin's one-line error. */
    @Test
    void aBadOptionIsRefusedWithThePluginsReason() {
        CommandResult r = docker.docker("volume", "create", "-d", driver, "--opt", "size=12Q", "bad");
        assertThat(r.exitCode()).as(r.describe()).isNotZero();
        assertThat(r.stderr()).as(r.describe()).contains("12Q");
        CommandResult unknown = docker.docker("volume", "create", "-d", driver, "--opt", "colour=blue", "bad");
        assertThat(unknown.stderr()).as(unknown.describe()).contains("unknown option 'colour'");
        CommandResult locality = docker.docker("volume", "create", "-d", driver, "--opt", "locality=sometimes", "bad");
        assertThat(locality.stderr()).as(locality.describe()).contains("locality must be auto or off, not 'sometimes'");
    }

    /** {@code hablock ARGS} in this JVM: the test polls it, and checks the plugin, not the command line. */
    private static CommandResult hablock(String... args) {
        return InProcessCli.run(java.util.List.of(args));
    }
}
