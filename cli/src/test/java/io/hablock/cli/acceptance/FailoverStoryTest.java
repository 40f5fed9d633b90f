package io.hablock.cli.acceptance;

import io.hablock.cli.acceptance.support.TestCredentials;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.LocalClusterProcesses;
import io.hablock.cli.acceptance.support.Waits;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.model.VolumeRecord;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reference walkthrough on 4 real node processes: the owner of wp_mysql-data is killed with
 * SIGKILL, a node with a current copy serves it within the session timeout + 2 s, the lost copy
 * is rebuilt, the node comes back and is normal again, a move builds a local copy first
 * (locality rebuild), a drain empties a node; every byte written is read back and every volume
 * verifies. The tests run in order on one cluster.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FailoverStoryTest {
    private static final Duration SESSION_TIMEOUT = Duration.ofSeconds(5);
    private static final String DB = "wp_mysql-data";

    @TempDir
    static Path dir;
    static LocalClusterProcesses cluster;
    static ClusterClient zk;
    static String killed;

    @BeforeAll
    static void up() throws Exception {
        cluster = LocalClusterProcesses.up(dir.resolve("cluster"), 4, "127.0.6");
        zk = ClusterClient.connect(cluster.zk(), "default", Duration.ofSeconds(10), Duration.ofSeconds(5),
                TestCredentials.secret());
    }

    @AfterAll
    static void down() {
        if (zk != null) {
            zk.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    private static JsonNode volume(String name) {
        return cluster.json("volume", "info", name, "--json");
    }

    private static List<JsonNode> nodes() {
        return StreamSupport.stream(cluster.json("node", "ls", "--json").spliterator(), false).toList();
    }

    private static String status(String node) {
        return nodes().stream().filter(n -> n.get("name").asText().equals(node)).findFirst().orElseThrow()
                .get("status").asText();
    }

    private static void qemuIo(String uri, String command) {
        CommandResult r = Command.of("qemu-io", "-f", "raw", uri, "-c", command).timeout(Duration.ofMinutes(2)).runOk();
        assertThat(r.stdout()).as(r.describe()).doesNotContain("Pattern verification failed").doesNotContain("failed");
    }

    private static VolumeRecord record(String name) throws Exception {
        return zk.volume(name).orElseThrow().value();
    }

    @Test
    @Order(1)
    void twoVolumesAreCreatedAndWritten() {
        cluster.cliOk("volume", "create", "portainer", "--size", "20G", "--copies", "2");
        cluster.cliOk("volume", "create", DB, "--size", "10G", "--copies", "3");
        qemuIo(cluster.uri(volume(DB).get("owner").asText(), DB), "write -P 0x5a 0 32M");
        qemuIo(cluster.uri(volume("portainer").get("owner").asText(), "portainer"), "write -P 0x33 1G 4M");
        assertThat(cluster.cliOk("volume", "ls").stdout()).containsPattern(DB + "\\s+v\\d,v\\d,v\\d\\s+healthy");
    }

    @Test
    @Order(2)
    void whenTheOwnerIsKilledANodeWithACurrentCopyServesWithinTheSessionTimeoutPlusTwoSeconds() throws Exception {
        VolumeRecord before = record(DB);
        killed = volume(DB).get("owner").asText();

        long start = System.nanoTime();
        cluster.kill(killed);
        Waits.until("a new owner serving " + DB, SESSION_TIMEOUT.plusSeconds(10), () -> {
            try {
                VolumeRecord r = record(DB);
                return r.isServed() && !r.owner().equals(before.owner());
            } catch (Exception e) {
                return false;
            }
        }, () -> "");
        String owner = zk.members().get(record(DB).owner()).name();
        qemuIo(cluster.uri(owner, DB), "read -P 0x5a 0 4k");
        Duration failover = Duration.ofNanos(System.nanoTime() - start);
        System.out.println("failover of " + DB + " (owner killed -> new owner served a read): " + failover.toMillis() + " ms");

        assertThat(failover).isLessThan(SESSION_TIMEOUT.plusSeconds(2));
        qemuIo(cluster.uri(owner, DB), "read -P 0x5a 0 32M");
        assertThat(record(DB).epoch()).isEqualTo(before.epoch() + 1);
        Waits.until(killed + " in maintenance", Duration.ofSeconds(20), () -> status(killed).equals("maintenance"),
                () -> cluster.cli("node", "ls").stdout());
        cluster.awaitEvent("failover completed: volume " + java.util.regex.Pattern.quote(DB));
    }

    @Test
    @Order(3)
    void theLostCopyIsRebuiltOnAnotherNode() {
        Waits.until(DB + " healthy again", Duration.ofSeconds(60), () -> {
            JsonNode v = volume(DB);
            return v.get("health").asText().equals("healthy") && !v.get("copyNodes").has(killed);
        }, () -> cluster.cli("volume", "ls").stdout());
        String events = cluster.cliOk("events", "-n", "200").stdout();
        assertThat(events).containsPattern("volume " + DB + " \\(vd\\d+\\) rebuilding on node [0-9a-f]{8}")
                .containsPattern("volume " + DB + " \\(vd\\d+\\) volume rebuild completed on node [0-9a-f]{8}, ret:0");
        String owner = volume(DB).get("owner").asText();
        qemuIo(cluster.uri(owner, DB), "read -P 0x5a 0 32M");
    }

    @Test
    @Order(4)
    void theKilledNodeComesBackNormalAndItsStaleCopyIsRemoved() {
        cluster.start(killed);

        Waits.until(killed + " normal", Duration.ofSeconds(60), () -> status(killed).equals("normal"),
                () -> cluster.cli("node", "ls").stdout());
        Waits.until("the stale copy on " + killed + " removed", Duration.ofSeconds(30),
                () -> !cluster.copyFile(killed, DB).toFile().exists(), () -> cluster.cli("events").stdout());
        cluster.awaitEvent("volume " + DB + " \\(vd\\d+\\) removed on node [0-9a-f]{8}");
        cluster.awaitEvent("is back: status normal");
    }

    @Test
    @Order(5)
    void movingTheVolumeToTheReturnedNodeBuildsALocalCopyFirst() {
        CommandResult move = cluster.cliOk("volume", "move", DB, "--to", killed);

        assertThat(move.stdout()).contains("building a local copy there first")
                .contains("volume " + DB + " is now served by node " + killed);
        cluster.awaitEvent("locality rebuild completed, ret:0");
        Waits.until("3 copies again", Duration.ofSeconds(30), () -> volume(DB).get("copyNodes").size() == 3,
                () -> cluster.cli("volume", "ls").stdout());
        qemuIo(cluster.uri(killed, DB), "read -P 0x5a 0 32M");
    }

    @Test
    @Order(6)
    void aDrainedNodeHoldsNoCopyAndEveryVolumeVerifies() {
        String victim = volume("portainer").get("owner").asText();

        CommandResult drain = cluster.cliOk("node", "drain", victim);

        assertThat(drain.stdout()).contains("holds no copy any more");
        assertThat(status(victim)).isEqualTo("draining");
        for (String v : List.of(DB, "portainer")) {
            assertThat(volume(v).get("copyNodes").has(victim)).isFalse();
            assertThat(volume(v).get("health").asText()).isEqualTo("healthy");
            assertThat(cluster.cliOk("volume", "verify", v).stdout()).contains("ok: all compared copies are identical");
        }
        qemuIo(cluster.uri(volume("portainer").get("owner").asText(), "portainer"), "read -P 0x33 1G 4M");
        cluster.cliOk("node", "uncordon", victim);
        assertThat(status(victim)).isEqualTo("normal");
    }
}
