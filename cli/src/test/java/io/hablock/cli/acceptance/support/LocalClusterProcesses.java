package io.hablock.cli.acceptance.support;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A local cluster as a user starts it: {@code hablock cluster up --nodes N} (ZooKeeper and N node
 * processes on 127.0.0.11, ...), on a free ZooKeeper port, stopped with {@code cluster down}.
 */
public final class LocalClusterProcesses implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final String zk;
    private final String ipPrefix;

    private LocalClusterProcesses(Path dir, String zk, String ipPrefix) {
        this.dir = dir;
        this.zk = zk;
        this.ipPrefix = ipPrefix;
    }

    /** Nodes on 127.0.0.11, 127.0.0.12, ... */
    public static LocalClusterProcesses up(Path dir, int nodes) {
        return up(dir, nodes, "127.0.0");
    }

    /** Nodes on PREFIX.11, PREFIX.12, ... ({@code prefix} like {@code 127.0.6}). */
    public static LocalClusterProcesses up(Path dir, int nodes, String prefix, String... extra) {
        int zkPort = FreePorts.next();
        List<String> argv = new ArrayList<>(List.of("cluster", "up", "--nodes", String.valueOf(nodes), "--dir",
                dir.toString(), "--zk-port", String.valueOf(zkPort), "--ip-base", prefix + ".10"));
        argv.addAll(List.of(extra));
        CommandResult r = HablockCli.run(argv);
        assertThat(r.exitCode()).as("cluster up%s", r.describe()).isZero();
        return new LocalClusterProcesses(dir, "127.0.0.1:" + zkPort, prefix);
    }

    /** {@code hablock cluster start NODE}: the node rejoins with its data directory. */
    public void start(String node) {
        CommandResult r = HablockCli.run("cluster", "start", node, "--dir", dir.toString());
        assertThat(r.exitCode()).as("cluster start%s", r.describe()).isZero();
    }

    /** {@link #start} and wait (up to a minute) until {@code node ls} shows the node normal again. */
    public void restart(String node) {
        start(node);
        Waits.until(node + " normal", java.time.Duration.ofSeconds(60), () -> {
            for (JsonNode n : json("node", "ls", "--json")) {
                if (n.get("name").asText().equals(node)) {
                    return n.get("status").asText().equals("normal");
                }
            }
            return false;
        }, () -> cli("node", "ls").stdout());
    }

    /** The node's NBD address: v1 is PREFIX.11, v2 PREFIX.12, ... */
    public String uri(String node, String volume) {
        return "nbd://" + ipPrefix + "." + (10 + Integer.parseInt(node.substring(1))) + ":10809/" + volume;
    }

    /** {@code --zk} for the CLI. */
    public String zk() {
        return zk;
    }

    public Path dir() {
        return dir;
    }

    /**
     * {@code hablock ARGS --zk <this cluster>}, run in this JVM ({@link InProcessCli}): the same
     * code, output and exit status as the command, without a JVM start per call, which on a
     * 2-core machine slows the nodes under test. Tests of the command line itself run it as a
     * process ({@link HablockCli}).
     */
    public CommandResult cli(String... args) {
        List<String> argv = new ArrayList<>(List.of(args));
        argv.addAll(List.of("--zk", zk));
        return InProcessCli.run(argv);
    }

    /** Like {@link #cli} but fails the test unless the command exits 0. */
    public CommandResult cliOk(String... args) {
        CommandResult r = cli(args);
        assertThat(r.exitCode()).as("%s%s", String.join(" ", args), r.describe()).isZero();
        return r;
    }

    /**
     * Waits (10 s at most) until {@code hablock events} shows a line matching {@code regex}: an
     * event is recorded after the change it reports, so a poll may see the change first.
     */
    public void awaitEvent(String regex) {
        java.util.regex.Pattern p = java.util.regex.Pattern.compile(regex);
        Waits.until("an event matching " + regex, java.time.Duration.ofSeconds(10),
                () -> p.matcher(cliOk("events").stdout()).find(), () -> cli("events").stdout());
    }

    /** The JSON a query prints ({@code volume info NAME --json}). */
    public JsonNode json(String... args) {
        CommandResult r = cliOk(args);
        try {
            return JSON.readTree(r.stdout());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The pid of a process {@code cluster up} started ({@code v1}, {@code zookeeper}). */
    public long pid(String name) {
        try {
            for (JsonNode p : JSON.readTree(dir.resolve("cluster.json").toFile()).get("processes")) {
                if (p.get("name").asText().equals(name)) {
                    return p.get("pid").asLong();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalArgumentException("no process " + name);
    }

    /** SIGKILL: the node gets no chance to say goodbye. */
    public void kill(String name) {
        ProcessHandle.of(pid(name)).ifPresent(h -> {
            h.destroyForcibly();
            h.onExit().join();
        });
    }

    /**
     * SIGSTOP: the node hangs. Its sockets stay open and the kernel still accepts data for it,
     * but nothing answers: to the others it looks like a host cut off without a reset.
     * {@link #kill} ends it.
     */
    public void freeze(String name) {
        signal(name, "STOP");
    }

    /** SIGCONT: a frozen node runs again, with whatever it believed before it froze. */
    public void thaw(String name) {
        signal(name, "CONT");
    }

    private void signal(String name, String signal) {
        try {
            Process p = new ProcessBuilder("kill", "-" + signal, Long.toString(pid(name))).inheritIO().start();
            assertThat(p.waitFor()).as("kill -" + signal + " " + name).isZero();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The node's NBD address: v1 is 127.0.0.11, v2 127.0.0.12, ... */
    public static String nbdUri(String node, String volume) {
        return "nbd://127.0.0.1" + node.substring(1) + ":10809/" + volume;
    }

    /** The data file of a node's copy of a volume. */
    public Path copyFile(String node, String volume) {
        return dir.resolve(node).resolve("volumes").resolve(volume).resolve("data.img");
    }

    @Override
    public void close() {
        CommandResult r = HablockCli.run("cluster", "down", "--dir", dir.toString());
        assertThat(r.exitCode()).as("cluster down%s", r.describe()).isZero();
    }
}
