package io.hablock.cli.acceptance;

import io.hablock.cli.acceptance.support.TestCredentials;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.hablock.cli.acceptance.support.BackgroundProcess;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.LocalClusterProcesses;
import io.hablock.cli.acceptance.support.Waits;
import io.hablock.cluster.ClusterClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.StandardOpenOption;
import java.nio.file.Files;
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
 * A 3-node cluster of real processes, started with {@code hablock cluster up}: membership,
 * a 3-copy volume written by fio with verification, a copy killed during writes, the
 * controller killed. The tests run in order and share the cluster (the later ones kill nodes).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTest {
    @TempDir
    static Path dir;
    static LocalClusterProcesses cluster;

    @BeforeAll
    static void up() {
        cluster = LocalClusterProcesses.up(dir.resolve("cluster"), 3);
    }

    @AfterAll
    static void down() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static List<JsonNode> nodes() {
        return StreamSupport.stream(cluster.json("node", "ls", "--json").spliterator(), false).toList();
    }

    private static JsonNode volume(String name) {
        return cluster.json("volume", "info", name, "--json");
    }

    @Test
    @Order(1)
    void threeNormalNodesAndOneController() {
        CommandResult ls = cluster.cliOk("node", "ls");

        assertThat(ls.stdout().lines().findFirst().orElseThrow().split("\\s+"))
                .containsExactly("NODENAME", "IP", "NODE_ID", "ROLE", "STATUS", "CAPACITY");
        List<JsonNode> nodes = nodes();
        assertThat(nodes).extracting(n -> n.get("name").asText()).containsExactly("v1", "v2", "v3");
        assertThat(nodes).extracting(n -> n.get("ip").asText()).containsExactly("127.0.0.11", "127.0.0.12", "127.0.0.13");
        assertThat(nodes).extracting(n -> n.get("status").asText()).containsOnly("normal");
        assertThat(nodes).filteredOn(n -> n.get("role").asText().equals("controller")).hasSize(1);
        assertThat(nodes).allSatisfy(n -> assertThat(n.get("id").asText()).matches("[0-9a-f]{8}"));
    }

    @Test
    @Order(2)
    void aThreeCopyVolumeWrittenByFioVerifiesAndItsCopiesAreIdentical() throws Exception {
        cluster.cliOk("volume", "create", "db", "--size", "256M", "--copies", "3");
        JsonNode db = volume("db");
        assertThat(db.get("type").asText()).isEqualTo("3-copy");
        assertThat(db.get("health").asText()).isEqualTo("healthy");
        String owner = db.get("owner").asText();

        Command.of("fio", "--name=verify", "--ioengine=nbd", "--uri=" + LocalClusterProcesses.nbdUri(owner, "db"),
                "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=64M", "--verify=crc32c", "--do_verify=1",
                "--verify_fatal=1").timeout(Duration.ofMinutes(2)).runOk();

        CommandResult verify = cluster.cliOk("volume", "verify", "db");
        assertThat(verify.stdout()).contains("comparing 3 in-sync copies").contains("ok: all compared copies are identical");
        byte[] first = Files.readAllBytes(cluster.copyFile("v1", "db"));
        assertThat(Files.readAllBytes(cluster.copyFile("v2", "db"))).isEqualTo(first);
        assertThat(Files.readAllBytes(cluster.copyFile("v3", "db"))).isEqualTo(first);

        // The owner's Prometheus endpoint saw the writes and each copy's replication latency.
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1" + owner.substring(1) + ":10812/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).containsPattern("hablock_volume_written_bytes_total\\{volume=\"db\"} [1-9]\\d*")
                .containsPattern("hablock_replication_latency_seconds_count\\{peer=\"[0-9a-f]{8}\",volume=\"db\"} [1-9]");
    }

    @Test
    @Order(3)
    void verifyNamesTheRangeWhereACopyDiffersAndExitsNonZero() throws IOException {
        cluster.cliOk("volume", "create", "tampered", "--size", "64M", "--copies", "3");
        String owner = volume("tampered").get("owner").asText();
        String other = List.of("v1", "v2", "v3").stream().filter(n -> !n.equals(owner)).findFirst().orElseThrow();
        try (FileChannel copy = FileChannel.open(cluster.copyFile(other, "tampered"), StandardOpenOption.WRITE)) {
            copy.write(ByteBuffer.wrap("behind hablock's back".getBytes(StandardCharsets.UTF_8)), 5 * 1048576 + 100);
        }

        CommandResult verify = cluster.cli("volume", "verify", "tampered");

        assertThat(verify.exitCode()).as(verify.describe()).isEqualTo(1);
        assertThat(verify.stdout()).contains("differs: bytes 5242880-6291455 (1M)")
                .contains("MISMATCH: 1 range(s) differ between the copies");
    }

    @Test
    @Order(4)
    void aCopyKilledDuringWritesIsMarkedOutOfSyncAndWritesGoOn() {
        cluster.cliOk("volume", "create", "degrade", "--size", "256M", "--copies", "3");
        String owner = volume("degrade").get("owner").asText();
        String victim = List.of("v1", "v2", "v3").stream().filter(n -> !n.equals(owner)).findFirst().orElseThrow();

        try (BackgroundProcess fio = Command.of("fio", "--name=load", "--ioengine=nbd",
                "--uri=" + LocalClusterProcesses.nbdUri(owner, "degrade"), "--rw=randwrite", "--bs=4k", "--iodepth=16",
                "--size=64M", "--time_based", "--runtime=6").start()) {
            sleep(Duration.ofSeconds(2)); // writes in full swing
            cluster.kill(victim);
            assertThat(fio.exitCode(Duration.ofSeconds(60))).as("fio%s", fio.describe()).isZero();
            assertThat(fio.stdout()).contains("err= 0");
        }

        // Until its session expires the victim looks alive, and the controller may try to resync it.
        Waits.until(victim + " to be in maintenance", Duration.ofSeconds(30),
                () -> nodes().stream().anyMatch(n -> n.get("name").asText().equals(victim)
                        && n.get("status").asText().equals("maintenance")), () -> cluster.cli("node", "ls").stdout());
        Waits.until("the copy on " + victim + " to be stale", Duration.ofSeconds(30),
                () -> volume("degrade").get("copyNodes").get(victim).asText().equals("stale"),
                () -> cluster.cli("volume", "ls").stdout());
        JsonNode after = volume("degrade");
        assertThat(after.get("health").asText()).isEqualTo("degraded");
        CommandResult ls = cluster.cliOk("volume", "ls");
        assertThat(ls.stdout()).containsPattern("degrade\\s+\\S*" + victim + "\\(stale\\)\\S*\\s+degraded");
        assertThat(cluster.cliOk("events", "-n", "100").stdout())
                .containsPattern("\\[warn\\] \\[\\w+\\] volume degrade copy on node [0-9a-f]{8} out of sync");
        CommandResult verify = cluster.cliOk("volume", "verify", "degrade");
        assertThat(verify.stdout()).contains("comparing 2 in-sync copies").contains("not compared: " + victim + " (stale)")
                .contains("ok: all compared copies are identical");
    }

    @Test
    @Order(5)
    void killingTheControllerElectsAnotherWithinTheSessionTimeout() throws Exception {
        String controller = nodes().stream().filter(n -> n.get("role").asText().equals("controller"))
                .map(n -> n.get("name").asText()).findFirst().orElseThrow();
        String controllerId = nodes().stream().filter(n -> n.get("name").asText().equals(controller))
                .map(n -> n.get("id").asText()).findFirst().orElseThrow();

        try (ClusterClient zk = ClusterClient.connect(cluster.zk(), "default", Duration.ofSeconds(10), Duration.ofSeconds(5),
                TestCredentials.secret())) {
            long start = System.nanoTime();
            cluster.kill(controller);
            // Polled in this JVM: a CLI per poll would add its own start-up to the figure.
            Waits.until("another controller", Duration.ofSeconds(20), () -> {
                try {
                    return zk.controllerId().filter(id -> !id.equals(controllerId)).isPresent();
                } catch (Exception e) {
                    return false;
                }
            }, () -> "");
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            System.out.println("controller " + controller + " killed: another controller after " + took.toMillis() + " ms");
            // Session timeout 5 s, plus the election.
            assertThat(took).isLessThan(Duration.ofSeconds(8));
        }
        List<JsonNode> after = nodes();
        assertThat(after).filteredOn(n -> n.get("role").asText().equals("controller"))
                .singleElement().satisfies(n -> assertThat(n.get("name").asText()).isNotEqualTo(controller));
        cluster.awaitEvent("is the controller");
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
