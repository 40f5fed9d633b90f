package io.hablock.cli.acceptance.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.acceptance.support.Checksums;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.Waits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ansible/site.yml} run for real: four network-namespace hosts with an sshd each
 * ({@link NamespaceHosts}), the playbook run over ssh as against real machines (the hosts
 * have no systemd, so it takes the roles' plain start path). Then: the ZooKeeper ensemble has
 * a leader and its root is locked to the cluster's identity, {@code hablock node ls} on a host
 * shows four normal nodes, a 3-copy volume is
 * created and written through NBD; the owner's link goes down, the volume fails over and the
 * data reads back from the new owner; the link comes back, the node is normal again; a second
 * playbook run changes nothing. Nothing is left behind, also on failure. Runs after
 * {@code package} (failsafe): it deploys the built {@code hablock.jar}. Needs root (CI is root).
 */
class AnsibleDeployIT {
    private static final String VOLUME = "deploy";
    private static final int VOLUME_BYTES = 32 << 20;
    private static final Pattern MODE = Pattern.compile("(?m)^Mode: (\\w+)$");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    private NamespaceHosts hosts;
    private Path jar;
    private String zk;
    private boolean hablockUserExisted;

    @BeforeEach
    void setUp() throws IOException {
        hosts = new NamespaceHosts(tmp);
        // The roles' daemons run as users zookeeper and hablock: they must reach their directories.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        jar = Path.of(System.getProperty("hablock.jar", "target/hablock.jar")).toAbsolutePath().normalize();
        assertThat(jar).as("the built jar (this test runs after `mvn package`)").isRegularFile();
        zk = String.join(",", IntStream.rangeClosed(1, 3).mapToObj(k -> hosts.ip(k) + ":2181").toList());
        hablockUserExisted = Command.of("getent", "passwd", "hablock").run().succeeded();
    }

    @AfterEach
    void nothingLeftBehind() {
        hosts.close();
        assertThat(hosts.namespacesLeft()).as("namespaces left").isEmpty();
        String mark = tmp.toAbsolutePath().toString();
        assertThat(ProcessHandle.allProcesses().filter(h -> commandLine(h).contains(mark)).map(this::describe).toList())
                .as("processes left running from " + mark).isEmpty();
        if (!hablockUserExisted) {
            assertThat(Command.of("getent", "passwd", "hablock").run().succeeded()).as("user hablock left").isFalse();
        }
    }

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void sitePlaybookDeploysAClusterThatFailsOverAndASecondRunChangesNothing() throws Exception {
        hosts.create();
        if (!hablockUserExisted) {
            hosts.userMadeByThisRun("hablock");
        }
        Playbook playbook = new Playbook(hosts, RepoFiles.ansible(), jar);
        Path inventory = playbook.writeInventory();

        Playbook.Run first = playbook.run(inventory);
        report("first playbook run", first);
        assertThat(first.result().exitCode()).as(first.describe()).isZero();
        assertThat(first.recap()).as(first.describe()).containsOnlyKeys("v1", "v2", "v3", "v4");
        first.recap().forEach((host, r) -> assertThat(r.changed()).as("changes on %s", host).isPositive());

        assertThat(zookeeperModes()).as("ZooKeeper servers v1..v3").containsExactlyInAnyOrder("leader", "follower",
                "follower");
        assertThat(shellcheck(hosts.root(1).resolve("usr/local/sbin/zookeeper-ctl"),
                hosts.root(1).resolve("usr/local/sbin/hablock-ctl"), hosts.root(1).resolve("usr/local/bin/hablock")))
                .as("the rendered scripts").isEmpty();

        // The operator's view, on a host, with the command the role installs.
        JsonNode nodes = json(hosts.ssh(1, hosts.root(1).resolve("usr/local/bin/hablock") + " node ls --json")
                .timeout(Duration.ofSeconds(60)).runOk());
        assertThat(nodes).hasSize(4);
        for (JsonNode n : nodes) {
            int k = Integer.parseInt(n.get("name").asText().substring(1));
            assertThat(n.get("status").asText()).as("status of %s", n).isEqualTo("normal");
            assertThat(n.get("ip").asText()).as("address of %s", n).isEqualTo(hosts.ip(k));
        }

        // The ensemble's root is the cluster's: another identity (a secret of its own, as good as
        // anonymous to a digest ACL) can no longer take it, which anyone could before.
        Path other = tmp.resolve("other.secret");
        cli("cluster", "init", "--secret-file", other.toString()).runOk();
        CommandResult taken = cli("cluster", "lock-zookeeper", "--secret-file", other.toString()).run();
        assertThat(taken.exitCode()).as(taken.describe()).isNotZero();
        assertThat(taken.stderr()).as(taken.describe()).contains("refused to change its root's ACL");
        assertThat(cli("cluster", "lock-zookeeper").runOk().stdout()).isEqualTo("already locked\n");

        cli("volume", "create", VOLUME, "--size", "32M", "--copies", "3").runOk();
        // NBD over TLS (hablock_nbd_tls: on): a client with a certificate of the cluster CA
        // connects to every node with nbds://, the node's certificate checked against the CA.
        Path client = tmp.resolve("client-pki");
        cli("cluster", "cert", "deploy-client", "--client", "--out", client.toString()).runOk();
        for (int k = 1; k <= 4; k++) {
            CommandResult tls = hosts.onControl(List.of("nbdinfo", "--size",
                    "nbds://" + hosts.ip(k) + ":10809/" + VOLUME + "?tls-certificates=" + client))
                    .timeout(Duration.ofSeconds(60)).run();
            assertThat(tls.exitCode()).as(tls.describe()).isZero();
            assertThat(tls.stdout().strip()).as(tls.describe()).isEqualTo(String.valueOf(32 << 20));
        }
        JsonNode volume = volumeInfo();
        assertThat(volume.get("copyNodes")).hasSize(3);
        int owner = number(volume.get("owner").asText());
        Path written = tmp.resolve("written.bin");
        byte[] data = new byte[VOLUME_BYTES];
        new Random(6).nextBytes(data);
        Files.write(written, data);
        nbdcopy(written.toString(), uri(owner)).runOk();
        assertThat(readBack(owner, "before")).as("read back from the owner v%d", owner)
                .isEqualTo(Checksums.sha256(written));

        hosts.cut(owner);
        Waits.until("a new owner of " + VOLUME + " after v" + owner + " was cut off", Duration.ofSeconds(90),
                () -> {
                    JsonNode v = volumeInfoQuietly();
                    return v != null && v.get("served").asBoolean() && !v.get("owner").asText().equals("v" + owner)
                            && v.get("owner").asText().startsWith("v");
                }, () -> "\n" + cli("volume", "info", VOLUME).run().describe() + "\n" + cli("events").run().describe());
        JsonNode after = volumeInfo();
        int newOwner = number(after.get("owner").asText());
        assertThat(volume.get("copyNodes").has("v" + newOwner)).as("the new owner had an in-sync copy").isTrue();
        assertThat(readBack(newOwner, "after")).as("read back from the new owner v%d", newOwner)
                .isEqualTo(Checksums.sha256(written));
        assertThat(nodeStatus("v" + owner)).as("status of the cut-off node").isEqualTo("maintenance");

        hosts.heal(owner);
        Waits.until("v" + owner + " normal again and " + VOLUME + " healthy", Duration.ofSeconds(120),
                () -> "normal".equals(nodeStatus("v" + owner)) && "healthy".equals(health()),
                () -> "\n" + cli("node", "ls").run().describe() + "\n" + cli("volume", "ls").run().describe());

        Playbook.Run second = playbook.run(inventory);
        report("second playbook run", second);
        assertThat(second.result().exitCode()).as(second.describe()).isZero();
        assertThat(second.recap()).as(second.describe()).containsOnlyKeys("v1", "v2", "v3", "v4");
        second.recap().forEach((host, r) -> {
            assertThat(r.changed()).as("changes on %s in the second run%s", host, second.describe()).isZero();
            assertThat(r.ok()).as("tasks on %s", host).isPositive();
        });
        // The daemons outlived the ssh sessions that started them, and still serve the data.
        assertThat(readBack(newOwner, "last")).isEqualTo(Checksums.sha256(written));
    }

    /** How long the run took and its slowest tasks (profile_tasks), for whoever wonders. */
    private static void report(String what, Playbook.Run run) {
        System.out.printf("%s: %.1f s, %s%n", what, run.elapsed().toMillis() / 1000.0, run.recap());
        run.result().stdout().lines().dropWhile(l -> !l.startsWith("=====")).skip(1).limit(5)
                .forEach(l -> System.out.println("  " + l));
    }

    /** {@code srvr} to each ZooKeeper server: its mode. */
    private List<String> zookeeperModes() {
        List<String> modes = new ArrayList<>();
        for (int k = 1; k <= 3; k++) {
            CommandResult r = hosts.onControl(List.of("bash", "-c",
                    "exec 3<>/dev/tcp/" + hosts.ip(k) + "/2181 && printf srvr >&3 && cat <&3")).runOk();
            Matcher m = MODE.matcher(r.stdout());
            modes.add(m.find() ? m.group(1) : "no mode in: " + r.stdout());
        }
        return modes;
    }

    private static String shellcheck(Path... scripts) {
        List<String> argv = new ArrayList<>(List.of("shellcheck"));
        for (Path p : scripts) {
            argv.add(p.toString());
        }
        CommandResult r = Command.of(argv).run();
        return r.succeeded() ? "" : r.describe();
    }

    /** {@code hablock ARGS} with the built jar, on the control host. */
    private Command cli(String... args) {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-jar", jar.toString()));
        argv.addAll(List.of(args));
        // The credentials the role made on the first host (each host's /etc lives under its own root here).
        return hosts.onControl(argv).env("HABLOCK_ZK", zk)
                .env("HABLOCK_SECRET_FILE", hosts.root(1).resolve("etc/hablock/cluster.secret").toString())
                .timeout(Duration.ofSeconds(60));
    }

    private JsonNode volumeInfo() throws IOException {
        return json(cli("volume", "info", VOLUME, "--json").runOk());
    }

    /** Null while the cluster cannot answer (ZooKeeper electing a leader, say). */
    private JsonNode volumeInfoQuietly() {
        CommandResult r = cli("volume", "info", VOLUME, "--json").run();
        try {
            return r.succeeded() ? JSON.readTree(r.stdout()) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private String health() {
        JsonNode v = volumeInfoQuietly();
        return v == null ? null : v.get("health").asText();
    }

    private String nodeStatus(String name) {
        CommandResult r = cli("node", "ls", "--json").run();
        if (!r.succeeded()) {
            return null;
        }
        try {
            for (JsonNode n : JSON.readTree(r.stdout())) {
                if (n.get("name").asText().equals(name)) {
                    return n.get("status").asText();
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    private String uri(int k) {
        return "nbd://" + hosts.ip(k) + ":10809/" + VOLUME;
    }

    private Command nbdcopy(String from, String to) {
        return hosts.onControl(List.of("nbdcopy", "--flush", from, to)).timeout(Duration.ofSeconds(60));
    }

    /** The volume as node k serves it, read into a file: its SHA-256. */
    private String readBack(int k, String label) throws IOException {
        Path file = tmp.resolve("read-" + label + ".bin");
        nbdcopy(uri(k), file.toString()).runOk();
        return Checksums.sha256(file);
    }

    private static JsonNode json(CommandResult r) throws IOException {
        return JSON.readTree(r.stdout());
    }

    private static int number(String node) {
        return Integer.parseInt(node.substring(1));
    }

    private static String commandLine(ProcessHandle h) {
        try {
            return Files.readString(Path.of("/proc", String.valueOf(h.pid()), "cmdline"));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private String describe(ProcessHandle h) {
        return h.pid() + " " + commandLine(h).replace('\0', ' ');
    }
}
