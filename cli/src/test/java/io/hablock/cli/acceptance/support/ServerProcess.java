package io.hablock.cli.acceptance.support;

import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.blockstore.Sizes;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code hablock server} in a JVM of its own, for tests that signal or kill it. It runs the
 * test's own classpath ({@code java -cp <java.class.path> io.hablock.cli.Main server ...}) on
 * 127.0.0.1, and counts as started once it logs that it is ready.
 */
public final class ServerProcess implements AutoCloseable {
    private static final Duration STARTUP = Duration.ofSeconds(30);
    private static final String READY = "hablock node ready";

    private final Path dataDir;
    private final int nbdPort;
    private final int zkPort;
    private final int replicationPort;
    private final String maxDirectMemory;
    private final BackgroundProcess process;

    private final List<String> extraArgs;

    /** What runs the JVM (prlimit, env): each execs the next, so the pid is the JVM's. */
    private final List<String> prefix;

    private final String name;

    private ServerProcess(Path dataDir, int nbdPort, int zkPort, int replicationPort, String maxDirectMemory,
                          List<String> extraArgs, List<String> prefix) {
        this(dataDir, nbdPort, zkPort, replicationPort, maxDirectMemory, extraArgs, prefix, "test");
    }

    private ServerProcess(Path dataDir, int nbdPort, int zkPort, int replicationPort, String maxDirectMemory,
                          List<String> extraArgs, List<String> prefix, String name) {
        this.name = name;
        this.dataDir = dataDir;
        this.nbdPort = nbdPort;
        this.zkPort = zkPort;
        this.replicationPort = replicationPort;
        this.maxDirectMemory = maxDirectMemory;
        this.extraArgs = List.copyOf(extraArgs);
        this.prefix = List.copyOf(prefix);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new java.util.ArrayList<>(prefix);
        command.addAll(List.of(java, "-Xmx256m", "-XX:MaxDirectMemorySize=" + maxDirectMemory,
                "-cp", System.getProperty("java.class.path"), "io.hablock.cli.Main", "server",
                "--data-dir", dataDir.toString(),
                "--listen", "127.0.0.1:" + nbdPort,
                "--name", name,
                "--zk-listen", "127.0.0.1:" + zkPort,
                "--replication-listen", "127.0.0.1:" + replicationPort,
                "--metrics-listen", "off"));
        command.addAll(extraArgs);
        this.process = Command.of(command).start();
        try {
            process.awaitOutput(READY, STARTUP);
        } catch (RuntimeException | Error e) {
            process.close();
            throw e;
        }
    }

    /** Starts a server on free ports. */
    public static ServerProcess start(Path dataDir) {
        return start(dataDir, "512m");
    }

    /** Starts a server on free ports whose direct memory (where payloads live) is capped, e.g. {@code 64m}. */
    public static ServerProcess start(Path dataDir, String maxDirectMemory) {
        return start(dataDir, maxDirectMemory, List.of());
    }

    /** Starts a server on free ports with more options, e.g. {@code --capacity 1G}. */
    public static ServerProcess start(Path dataDir, List<String> options) {
        return start(dataDir, "512m", options);
    }

    /** Starts a server on free ports with more {@code hablock server} options. */
    public static ServerProcess startWith(Path dataDir, String... extraArgs) {
        return start(dataDir, "512m", List.of(extraArgs));
    }

    /** Starts a server on free ports with more options of {@code hablock server}. */
    public static ServerProcess start(Path dataDir, String maxDirectMemory, List<String> extraArgs) {
        return start(dataDir, maxDirectMemory, extraArgs, 0);
    }

    /** Starts a server that may have at most {@code fdLimit} files open ({@code prlimit --nofile}). */
    public static ServerProcess start(Path dataDir, String maxDirectMemory, List<String> extraArgs, int fdLimit) {
        return new ServerProcess(dataDir, FreePorts.next(), FreePorts.next(), FreePorts.next(), maxDirectMemory,
                extraArgs, fdLimit > 0 ? List.of("prlimit", "--nofile=" + fdLimit + ":" + fdLimit) : List.of());
    }

    /**
     * Starts a server named {@code name} with {@code HABLOCK_RUN_DIR} set to {@code runDir}
     * (where it records what it mounts) and more {@code hablock server} options.
     */
    public static ServerProcess startNamed(String name, Path dataDir, Path runDir, String... extraArgs) {
        return new ServerProcess(dataDir, FreePorts.next(), FreePorts.next(), FreePorts.next(), "512m", List.of(extraArgs),
                List.of("env", "HABLOCK_RUN_DIR=" + runDir), name);
    }

    /** Starts a new server on this one's data directory and ports; this one must have exited. */
    public ServerProcess restart() {
        if (process.isAlive()) {
            throw new IllegalStateException("the server is still running" + process.describe());
        }
        return new ServerProcess(dataDir, nbdPort, zkPort, replicationPort, maxDirectMemory, extraArgs, prefix, name);
    }

    /** The server's process id (to read its memory from /proc). */
    public long pid() {
        return process.pid();
    }

    public int nbdPort() {
        return nbdPort;
    }

    public int replicationPort() {
        return replicationPort;
    }

    public String nbdUri(String volume) {
        return "nbd://127.0.0.1:" + nbdPort + "/" + volume;
    }

    /** {@code --zk} for the CLI: the server's embedded ZooKeeper. */
    public String zk() {
        return "127.0.0.1:" + zkPort;
    }

    /** Creates a 1-copy volume through the cluster, as {@code volume create} does. */
    public void createVolume(String name, String size) {
        try (ClusterClient cluster = ClusterClient.connect(zk(), "default", Duration.ofSeconds(10), Duration.ofSeconds(5),
                TestCredentials.secret())) {
            new ClusterAdmin(cluster).createVolume(name, Sizes.parse(size), 1, Duration.ofSeconds(60));
        } catch (ClusterException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** SIGTERM; returns the exit status, failing if the server takes longer than {@code limit}. */
    public int terminate(Duration limit) {
        return process.terminate(limit);
    }

    /** SIGKILL: the server gets no chance to finish anything. Returns the exit status. */
    public int kill() {
        return process.kill();
    }

    /** What the server logged (its logs go to stderr). */
    public String log() {
        return process.stderr();
    }

    public String describe() {
        return process.describe();
    }

    @Override
    public void close() {
        process.close();
    }
}
