package io.hablock.cli.command;

import io.hablock.blockstore.Sizes;
import io.hablock.cli.demo.Checks;
import io.hablock.cli.demo.DemoFailure;
import io.hablock.cli.demo.FailoverStory;
import io.hablock.cli.demo.LocalNodes;
import io.hablock.cli.demo.Narrator;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ZkPaths;
import io.hablock.cluster.security.ClusterSecret;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code hablock demo}: starts a 4-node local cluster, tells the failover story of issue 4 on it
 * ({@link FailoverStory}), prints a summary and removes everything it started, also when it fails
 * or is interrupted.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"With no setup: start a 4-node local cluster (v1..v4), create the volumes portainer (2-copy, 20G) "
                + "and wp_mysql-data (3-copy, 10G), write checksummed data through NBD, kill the owner of wp_mysql-data "
                + "with SIGKILL, watch failover and rebuild, restart the node, read back and check every byte, report "
                + "the failover time and rebuild rate, and clean up. Exit 1 if anything did not happen as it should."})
public final class DemoCommand implements Callable<Integer> {
    private static final int NODES = 4;
    private static final int NBD_PORT = 10809;

    @Option(names = "--dir", paramLabel = "DIR",
            description = "Data directories and logs, kept afterwards (must be new or empty; default: a temporary "
                    + "directory, removed at the end).")
    Path dir;

    @Option(names = "--keep", description = "Leave the cluster running at the end (stop it with `hablock cluster down --dir DIR`).")
    boolean keep;

    @Option(names = "--session-timeout", paramLabel = "DURATION", defaultValue = "5s",
            description = "Nodes' ZooKeeper session timeout: how long a killed node takes to count as failed (default ${DEFAULT-VALUE}).")
    String sessionTimeout;

    @Option(names = "--ip-base", paramLabel = "A.B.C.D", defaultValue = "127.0.3.10",
            description = "Node vK listens on this loopback address plus K (default ${DEFAULT-VALUE}: v1 on 127.0.3.11).")
    String ipBase;

    @Option(names = "--zk-port", paramLabel = "PORT", description = "ZooKeeper port on 127.0.0.1 (default: a free one).")
    Integer zkPort;

    @Option(names = "--data", paramLabel = "SIZE", defaultValue = "64M",
            description = "Data written to each volume before the failure, in whole MiB (default ${DEFAULT-VALUE}).")
    String data;

    private final Object lock = new Object();
    private boolean cleanedUp;
    private boolean ownsDir;

    @Override
    public Integer call() throws Exception {
        Duration session = Durations.parse(sessionTimeout, "--session-timeout");
        long bytes = Sizes.parse(data);
        if (bytes < (1 << 20) || bytes > (1L << 30) || bytes % (1 << 20) != 0) {
            throw new IllegalArgumentException("--data must be whole MiB between 1M and 1G");
        }
        List<String> ips = nodeAddresses();
        int zk = zkPort == null ? freePort() : zkPort;
        checkFree("127.0.0.1", zk, "choose another --zk-port");
        for (String ip : ips) {
            checkFree(ip, NBD_PORT, "another cluster there? choose another --ip-base");
        }
        prepareDir();
        String zkAddress = "127.0.0.1:" + zk;
        Narrator say = new Narrator(System.out);
        Checks checks = new Checks();
        Thread hook = new Thread(() -> {
            say.print("\ninterrupted: stopping the demo cluster");
            cleanUp(say, false);
        }, "hablock-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        boolean passed = false;
        String failure = null;
        say.print("hablock demo: a " + NODES + "-node cluster on this machine, two replicated volumes, the owner of one "
                + "killed with SIGKILL; failover, rebuild, rejoin, and every byte written read back.");
        try {
            say.step("Start a local cluster: ZooKeeper on " + zkAddress + ", nodes v1..v" + NODES + " on " + ips.get(0)
                    + ".." + ips.get(NODES - 1).substring(ips.get(NODES - 1).lastIndexOf('.') + 1) + ", session timeout "
                    + sessionTimeout + ", data and logs in " + dir);
            startCluster(say, zk);
            try (ClusterClient cluster = ClusterClient.connect(zkAddress, ZkPaths.DEFAULT_CLUSTER, Duration.ofSeconds(10),
                    Duration.ofSeconds(10), ClusterSecret.load(SecretFileOption.defaultFile()))) {
                FailoverStory.Outcome outcome = new FailoverStory(cluster, zkAddress, new Processes(), say, checks, session,
                        bytes, ThreadLocalRandom.current().nextLong()).run();
                summary(say, outcome, checks, session);
            }
            passed = checks.failures().isEmpty();
            if (!passed) {
                failure = checks.failures().size() + " check(s) failed: "
                        + String.join(", ", checks.failures().stream().map(Checks.Check::what).toList());
            }
        } catch (Exception e) { // whatever went wrong, the cluster is stopped and the reason is one line
            failure = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            say.say("FAILED: " + failure);
        } finally {
            if (keep) {
                say.print("");
                say.say("the cluster keeps running (--keep): `hablock node ls --zk " + zkAddress + "`, stop it with "
                        + "`hablock cluster down --dir " + dir + "`");
            } else {
                cleanUp(say, passed);
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook is running or ran
            }
        }
        if (passed) {
            say.print("demo passed in " + String.format(java.util.Locale.ROOT, "%.1f", say.seconds()) + " s");
            return 0;
        }
        say.print("DEMO FAILED: " + failure);
        return 1;
    }

    private void startCluster(Narrator say, int zk) throws DemoFailure {
        CommandLine up = new CommandLine(new ClusterUpCommand());
        up.setExecutionExceptionHandler((e, cmd, parsed) -> {
            say.say("cluster up failed: " + e.getMessage());
            return 1;
        });
        int status = up.execute("--nodes", String.valueOf(NODES), "--dir", dir.toString(), "--zk-port", String.valueOf(zk),
                "--ip-base", ipBase, "--session-timeout", sessionTimeout);
        if (status != 0) {
            throw new DemoFailure("the local cluster did not start (logs in " + dir + ")");
        }
    }

    private void summary(Narrator say, FailoverStory.Outcome o, Checks checks, Duration session) {
        say.step("Summary");
        say.print(String.format(java.util.Locale.ROOT, "  failover time    %.1f s (SIGKILL of %s until %s served reads of "
                + "wp_mysql-data; session timeout %s)", o.failover().toMillis() / 1000.0, o.failedNode(), o.newOwner(),
                sessionTimeout));
        say.print(o.appError() == null
                ? String.format(java.util.Locale.ROOT, "  application      no I/O error writing through %s's host endpoint during the "
                        + "failover (longest pause %.1f s)", o.appHost(), o.appPause().toMillis() / 1000.0)
                : "  application      I/O ERROR through " + o.appHost() + "'s host endpoint: " + o.appError());
        if (o.rebuilds().isEmpty()) {
            say.print("  rebuild rate     none: no \"volume rebuild completed\" event");
        }
        for (int i = 0; i < o.rebuilds().size(); i++) {
            say.print((i == 0 ? "  rebuild rate     " : "                   ") + o.rebuilds().get(i));
        }
        say.print("  verified         " + Sizes.format(o.bytesVerified()) + " in 2 volumes, every 64 KiB block against "
                + "what the server acknowledged");
        say.print(o.badBlocks() == 0 ? "  no acknowledged write lost"
                : "  ACKNOWLEDGED WRITES LOST OR WRONG: " + o.badBlocks() + " block(s)");
        say.print("  checks           " + (checks.all().size() - checks.failures().size()) + " passed, "
                + checks.failures().size() + " failed");
        checks.failures().forEach(c -> say.print("  FAILED " + c.what() + ": " + c.seen()));
        if (o.failover().compareTo(session.plusSeconds(2)) > 0) {
            say.print("  note: the failover took longer than the session timeout + 2 s");
        }
    }

    /** The node processes, through {@code DIR/cluster.json}, which {@code cluster start|down} read. */
    private final class Processes implements LocalNodes {
        @Override
        public long kill(String name) throws IOException {
            ProcessHandle h = proc(name).handle().orElseThrow(() -> new IOException("node " + name + " is not running"));
            h.destroyForcibly(); // SIGKILL
            try {
                h.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IOException("node " + name + " (pid " + h.pid() + ") did not die within 10 s of SIGKILL", e);
            }
            return h.pid();
        }

        /** {@code hablock cluster start NODE}: the command line {@code cluster up} recorded, same data directory. */
        @Override
        public long restart(String name) throws IOException {
            synchronized (lock) { // not while the cleanup reads cluster.json
                if (cleanedUp) {
                    throw new IOException("the demo is being stopped");
                }
                CommandLine start = new CommandLine(new ClusterStartCommand());
                StringBuilder error = new StringBuilder();
                start.setExecutionExceptionHandler((e, cmd, parsed) -> {
                    error.append(e.getMessage());
                    return 1;
                });
                if (start.execute(name, "--dir", dir.toString()) != 0) {
                    throw new IOException("cluster start " + name + " failed: " + error);
                }
                return proc(name).pid();
            }
        }

        private LocalCluster.Proc proc(String name) throws IOException {
            return LocalCluster.read(dir).orElseThrow(() -> new IOException("no local cluster in " + dir))
                    .processes().stream().filter(p -> p.name().equals(name)).findFirst()
                    .orElseThrow(() -> new IOException("cluster.json lists no process " + name));
        }
    }

    /** Stops what the demo started (once), shows warnings from the logs on failure, removes a temporary directory. */
    private void cleanUp(Narrator say, boolean passed) {
        synchronized (lock) {
            if (cleanedUp) {
                return;
            }
            cleanedUp = true;
            int stopped = 0;
            try {
                var cluster = LocalCluster.read(dir);
                if (cluster.isPresent()) {
                    stopped = ClusterDownCommand.stop(cluster.get().processes(), System.out);
                    LocalCluster.delete(dir);
                }
            } catch (IOException | UncheckedIOException e) {
                say.say("cannot read " + dir.resolve(LocalCluster.FILE) + ": " + e.getMessage());
            }
            // A process started by cluster up just before an interrupt, and not yet in cluster.json.
            for (ProcessHandle h : ProcessHandle.current().children().toList()) {
                if (h.info().commandLine().orElse("").contains(dir.toString())) {
                    h.destroyForcibly();
                    stopped++;
                }
            }
            if (!passed) {
                showLogWarnings(say);
            }
            String where = "data and logs kept in " + dir;
            if (ownsDir) {
                try {
                    deleteTree(dir);
                    where = dir + " removed";
                } catch (IOException | UncheckedIOException e) {
                    where = "cannot remove " + dir + ": " + e.getMessage();
                }
            }
            say.print("");
            say.say("cleaned up: " + stopped + " process(es) stopped, " + where);
        }
    }

    private void showLogWarnings(Narrator say) {
        try (Stream<Path> logs = Files.list(dir)) {
            for (Path log : logs.filter(p -> p.getFileName().toString().matches("v\\d+\\.log")).sorted().toList()) {
                List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8).stream()
                        .filter(l -> l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("Exception")).toList();
                if (!lines.isEmpty()) {
                    say.print("last warnings in " + log.getFileName() + ":");
                    lines.subList(Math.max(0, lines.size() - 5), lines.size()).forEach(l -> say.print("  " + l));
                }
            }
        } catch (IOException | UncheckedIOException e) {
            // the logs are a help, not the result
        }
    }

    private void prepareDir() throws IOException {
        if (dir == null) {
            dir = Files.createTempDirectory("hablock-demo-").toAbsolutePath();
            ownsDir = true;
            return;
        }
        dir = dir.toAbsolutePath();
        if (Files.isDirectory(dir)) {
            try (Stream<Path> entries = Files.list(dir)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException("--dir " + dir + " is not empty: the demo starts a fresh cluster");
                }
            }
        }
        Files.createDirectories(dir);
    }

    private List<String> nodeAddresses() {
        String[] base = ipBase.split("\\.");
        int last;
        try {
            last = base.length == 4 ? Integer.parseInt(base[3]) : -1;
        } catch (NumberFormatException e) {
            last = -1;
        }
        if (!base[0].equals("127") || last < 0 || last + NODES > 254) {
            throw new IllegalArgumentException("--ip-base must be a 127.x.y.z address with room for " + NODES + " nodes after it");
        }
        List<String> ips = new ArrayList<>();
        for (int i = 1; i <= NODES; i++) {
            ips.add(base[0] + "." + base[1] + "." + base[2] + "." + (last + i));
        }
        return ips;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void checkFree(String ip, int port, String hint) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName(ip))) {
            // free
        } catch (IOException e) {
            throw new IllegalArgumentException(ip + ":" + port + " is in use (" + hint + ")");
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
