package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.acceptance.support.BackgroundProcess;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.LocalClusterProcesses;
import io.hablock.cli.acceptance.support.NbdMap;
import io.hablock.cli.acceptance.support.QemuIo;
import io.hablock.cli.acceptance.support.Waits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nodes (forwarding by default) serve every volume: a client of a node that does not own
 * the volume keeps working while the owner is killed (a pause, not an error), and fio's
 * checksums all match afterwards; its BLOCK_STATUS shows the owner's allocation map.
 */
class ForwardingTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static LocalClusterProcesses cluster;

    @BeforeAll
    static void up() {
        cluster = LocalClusterProcesses.up(dir.resolve("cluster"), 3, "127.0.7");
    }

    @AfterAll
    static void down() {
        if (cluster != null) {
            cluster.close();
        }
    }

    /** Brings a killed node back and waits until it is normal: each test starts with 3 nodes. */
    private static void restart(String node) {
        cluster.restart(node);
    }

    /** A volume's owner and a node that does not own it, whose host endpoint the test uses. */
    private record Placement(String owner, String endpoint) {}

    private static Placement create(String volume, String size, int copies) {
        cluster.cliOk("volume", "create", volume, "--size", size, "--copies", Integer.toString(copies));
        String owner = cluster.json("volume", "info", volume, "--json").get("owner").asText();
        return new Placement(owner, List.of("v1", "v2", "v3").stream().filter(n -> !n.equals(owner)).findFirst().orElseThrow());
    }

    /** fio writing 4 KiB blocks at random through a node's NBD port, with more options. */
    private static BackgroundProcess randomWrites(String node, String volume, String... options) {
        List<String> args = new ArrayList<>(List.of("fio", "--name=" + volume, "--ioengine=nbd",
                "--uri=" + cluster.uri(node, volume), "--rw=randwrite", "--bs=4k"));
        args.addAll(List.of(options));
        return Command.of(args).start();
    }

    @Test
    void fioThroughANonOwnerVerifiesAcrossAFailoverOfTheOwner() throws Exception {
        Placement p = create("fw", "256M", 3);
        String owner = p.owner();

        try (BackgroundProcess fio = randomWrites(p.endpoint(), "fw", "--iodepth=8", "--size=24M",
                "--rate_iops=400", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1")) {
            Thread.sleep(5000); // writes in full swing through the endpoint
            cluster.kill(owner);

            assertThat(fio.exitCode(Duration.ofMinutes(2))).as("fio%s", fio.describe()).isZero();
            assertThat(fio.stdout()).contains("err= 0").doesNotContain("verify: bad");
        }
        String now = cluster.json("volume", "info", "fw", "--json").get("owner").asText();
        assertThat(now).isNotEqualTo(owner);
        assertThat(cluster.cliOk("volume", "verify", "fw").stdout()).contains("ok: all compared copies are identical");
        restart(owner);
    }

    /**
     * A hung owner (SIGSTOP: no reset, no reply) is left as soon as the cluster names a new
     * one: the application's longest write stays below the forwarder's 10 s reply timeout.
     */
    @Test
    void aHungOwnerIsLeftAsSoonAsTheClusterNamesANewOne() throws Exception {
        Placement p = create("hang", "64M", 3);
        String owner = p.owner();
        String endpoint = p.endpoint();

        try (BackgroundProcess fio = randomWrites(endpoint, "hang", "--iodepth=1", "--size=32M",
                "--rate_iops=200", "--time_based", "--runtime=18", "--output-format=json")) {
            Thread.sleep(5000);
            cluster.freeze(owner);
            try {
                Waits.until("a new owner of hang", Duration.ofSeconds(60),
                        () -> !cluster.json("volume", "info", "hang", "--json").get("owner").asText().equals(owner),
                        () -> cluster.cli("volume", "info", "hang").stdout());
                // The hung owner stays hung (its sockets open, no reset) until fio is done.
                assertThat(fio.exitCode(Duration.ofMinutes(2))).as("fio%s", fio.describe()).isZero();
            } finally {
                cluster.kill(owner);
            }
            String out = fio.stdout();
            JsonNode job = JSON.readTree(out.substring(out.indexOf('{'))).get("jobs").get(0);
            assertThat(job.get("error").asInt()).as(out).isZero();
            double longestSeconds = job.get("write").get("clat_ns").get("max").asDouble() / 1e9;
            System.out.printf("hung owner %s: longest write through %s %.2f s%n", owner, endpoint, longestSeconds);
            assertThat(longestSeconds).as("longest write (s): the pause of the failover, not the reply timeout")
                    .isBetween(3.0, 9.5);
        }
        restart(owner);
    }

    @Test
    void volumeLsShowsTheApplicationAtItsEndpointNotTheForwardersConnection() {
        String endpoint = create("shown", "64M", 2).endpoint();

        try (BackgroundProcess client = Command.of("nbdsh", "-u", cluster.uri(endpoint, "shown"),
                "-c", "h.pread(4096, 0); print('read', flush=True)", "-c", "import sys; sys.stdin.read()").start()) {
            client.awaitOutput("read", Duration.ofSeconds(30));
            // Two connections: the application's to the endpoint, the endpoint's to the owner.
            Waits.until("both sessions published", Duration.ofSeconds(10),
                    () -> cluster.json("volume", "info", "shown", "--json").get("clients").size() == 2,
                    () -> cluster.cli("volume", "info", "shown").stdout());

            JsonNode info = cluster.json("volume", "info", "shown", "--json");
            assertThat(info.get("attached")).as(info.toString()).hasSize(1);
            assertThat(info.get("attached").get(0).asText()).matches(endpoint + ":127\\.0\\.0\\.1:\\d+");
            assertThat(cluster.cliOk("volume", "ls").stdout())
                    .containsPattern("(?m)\\sshown\\s+\\S+\\s+healthy\\s+" + endpoint + ":127\\.0\\.0\\.1:\\d+\\s+no$");
            client.closeStdin();
        }
    }

    /**
     * BLOCK_STATUS through a node that holds no copy of a 2-copy volume: {@code nbdinfo --map}
     * there shows the owner's map (written data, a trimmed range and never written ranges as
     * holes), not "all data"; and reads through it give the zeros of the holes.
     */
    @Test
    void nbdinfoMapThroughAForwardingNodeShowsTheOwnersMap() {
        long mib = 1 << 20;
        long kib = 1 << 10;
        long size = 64 * mib;
        cluster.cliOk("volume", "create", "mapped", "--size", "64M", "--copies", "2");
        JsonNode info = cluster.json("volume", "info", "mapped", "--json");
        String owner = info.get("owner").asText();
        String forwarder = Stream.of("v1", "v2", "v3").filter(n -> !info.get("copyNodes").has(n)).findFirst().orElseThrow();
        String through = cluster.uri(forwarder, "mapped");

        QemuIo.verify(through, List.of(QemuIo.write(0x11, 0, mib), QemuIo.write(0x22, 8 * mib, mib),
                "discard " + (8 * mib + 256 * kib) + " " + 512 * kib));

        List<NbdMap.Extent> ownerMap = map(cluster.uri(owner, "mapped"));
        assertThat(ownerMap).as("through the owner %s", owner).containsExactly(
                new NbdMap.Extent(0, mib, "data"),
                new NbdMap.Extent(mib, 7 * mib, "hole,zero"),
                new NbdMap.Extent(8 * mib, 256 * kib, "data"),
                new NbdMap.Extent(8 * mib + 256 * kib, 512 * kib, "hole,zero"),
                new NbdMap.Extent(8 * mib + 768 * kib, 256 * kib, "data"),
                new NbdMap.Extent(9 * mib, size - 9 * mib, "hole,zero"));
        assertThat(map(through)).as("through %s, which forwards to %s", forwarder, owner).isEqualTo(ownerMap);
        QemuIo.verify(through, List.of(QemuIo.read(0x11, 0, mib), QemuIo.read(0, mib, 64 * kib),
                QemuIo.read(0x22, 8 * mib, 256 * kib), QemuIo.read(0, 8 * mib + 256 * kib, 512 * kib),
                QemuIo.read(0x22, 8 * mib + 768 * kib, 256 * kib)));
    }

    private static List<NbdMap.Extent> map(String uri) {
        CommandResult r = Command.of("nbdinfo", "--map", uri).timeout(Duration.ofSeconds(30)).run();
        assertThat(r.exitCode()).as(r.describe()).isZero();
        return NbdMap.parse(r.stdout());
    }
}
