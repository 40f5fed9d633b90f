package io.hablock.cli.command;

import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.ZkPaths;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.security.ClusterSecret;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hablock cluster up --nodes N}: ZooKeeper plus N node processes on 127.0.0.11, .12, ... */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = {"Start a local cluster: one ZooKeeper on 127.0.0.1:ZK_PORT and N node processes v1..vN on "
                + "127.0.0.11, 127.0.0.12, ... (NBD on port 10809 of each), each with its own data directory under DIR. "
                + "Returns when every node is live; `hablock cluster down` stops them."})
public final class ClusterUpCommand implements Callable<Integer> {
    private static final Duration READY = Duration.ofSeconds(90);

    @Option(names = {"-n", "--nodes"}, required = true, paramLabel = "N", description = "Number of nodes (1 to 20).")
    int nodes;

    @Option(names = "--dir", paramLabel = "DIR", defaultValue = LocalCluster.DEFAULT_DIR,
            description = "Data directories and logs (default ${DEFAULT-VALUE}); kept by `cluster down`.")
    Path dir;

    @Option(names = "--zk-port", paramLabel = "PORT", defaultValue = "2181",
            description = "ZooKeeper port on 127.0.0.1 (default ${DEFAULT-VALUE}: the CLI's default --zk).")
    int zkPort;

    @Option(names = "--ip-base", paramLabel = "A.B.C.D", defaultValue = "127.0.0.10",
            description = "Node vK listens on this loopback address plus K (default ${DEFAULT-VALUE}: v1 on 127.0.0.11).")
    String ipBase;

    @Option(names = "--session-timeout", paramLabel = "DURATION", defaultValue = "5s",
            description = "Nodes' ZooKeeper session timeout (default ${DEFAULT-VALUE}).")
    String sessionTimeout;

    @Option(names = "--capacity", paramLabel = "SIZE", description = "Space each node offers (default: its file system's size).")
    String capacity;

    @Option(names = "--forward", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = {"Nodes serve every volume, forwarding to its owner (on by default); --no-forward starts "
                    + "them with --no-forward: a node refuses volumes it does not own and names the owner."})
    boolean forward;

    @Option(names = "--node-heap", paramLabel = "SIZE", defaultValue = "256m", description = "Java heap per node (default ${DEFAULT-VALUE}).")
    String nodeHeap;

    @Mixin
    SecretFileOption secret;

    @Option(names = "--tls", paramLabel = "off|on|require", defaultValue = "off",
            description = {"NBD over TLS on every node (default ${DEFAULT-VALUE}): each gets a server certificate of the "
                    + "cluster CA in DIR/vN/pki, and DIR/client-pki holds a client certificate for nbdinfo, qemu or "
                    + "nbd-client ('require' refuses plain clients)."})
    String tls;

    @Option(names = "--tls-verify-peer", description = "With --tls: clients must present a certificate of the cluster CA "
            + "(as in DIR/client-pki).")
    boolean tlsVerifyPeer;

    @Override
    public Integer call() throws Exception {
        if (nodes < 1 || nodes > 20) {
            throw new IllegalArgumentException("--nodes must be between 1 and 20");
        }
        Durations.parse(sessionTimeout, "--session-timeout");
        dir = dir.toAbsolutePath();
        Files.createDirectories(dir);
        var existing = LocalCluster.read(dir);
        if (existing.isPresent() && existing.get().processes().stream().anyMatch(p -> p.handle().isPresent())) {
            throw new IllegalStateException("a local cluster is already running from " + dir + " (run `hablock cluster down"
                    + (dir.toString().equals(LocalCluster.DEFAULT_DIR) ? "" : " --dir " + dir) + "` first)");
        }
        String[] base = ipBase.split("\\.");
        if (base.length != 4 || !base[0].equals("127") || Integer.parseInt(base[3]) + nodes > 254) {
            throw new IllegalArgumentException("--ip-base must be a 127.x.y.z address with room for " + nodes + " nodes after it");
        }
        String tlsMode = tls.strip().toLowerCase(java.util.Locale.ROOT);
        if (!List.of("off", "on", "require").contains(tlsMode)) {
            throw new IllegalArgumentException("--tls must be off, on or require, not '" + tls + "'");
        }
        if (tlsMode.equals("off") && tlsVerifyPeer) {
            throw new IllegalArgumentException("--tls-verify-peer needs --tls on or require");
        }
        String zk = "127.0.0.1:" + zkPort;
        ClusterSecret credentials = secret.createIfAbsent();
        String secretFile = secret.file().toAbsolutePath().toString();
        List<LocalCluster.Proc> started = new ArrayList<>();
        try {
            started.add(launch("zookeeper", List.of("-Xmx128m"), List.of("zookeeper", "--data-dir",
                    dir.resolve("zookeeper").toString(), "--listen", zk, "--secret-file", secretFile)));
            new LocalCluster(zk, started).write(dir);
            for (int i = 1; i <= nodes; i++) {
                String ip = base[0] + "." + base[1] + "." + base[2] + "." + (Integer.parseInt(base[3]) + i);
                List<String> args = new ArrayList<>(List.of("server", "--data-dir", dir.resolve("v" + i).toString(),
                        "--name", "v" + i, "--listen", ip + ":10809", "--zk", zk, "--session-timeout", sessionTimeout,
                        "--secret-file", secretFile));
                if (capacity != null) {
                    args.addAll(List.of("--capacity", capacity));
                }
                if (!forward) {
                    args.add("--no-forward");
                }
                if (!tlsMode.equals("off")) {
                    args.addAll(List.of("--tls", tlsMode, "--tls-certificates", certificates("v" + i, ip, credentials).toString()));
                    if (tlsVerifyPeer) {
                        args.add("--tls-verify-peer");
                    }
                }
                started.add(launch("v" + i, List.of("-Xmx" + nodeHeap, "-XX:MaxDirectMemorySize=512m"), args));
                new LocalCluster(zk, started).write(dir);
            }
            awaitNodes(zk, started, credentials);
        } catch (Exception e) {
            ClusterDownCommand.stop(started, System.err);
            LocalCluster.delete(dir);
            throw e;
        }
        System.out.println("local cluster up: " + nodes + " node(s), ZooKeeper " + zk + ", logs and data in " + dir);
        if (!tlsMode.equals("off")) {
            Path client = issueOnce(dir.resolve("client-pki"), "client", credentials, pki ->
                    ClusterCertCommand.issue(credentials, "local-client", List.of(), true, Duration.ofDays(825), pki, secret.file()));
            String first = base[0] + "." + base[1] + "." + base[2] + "." + (Integer.parseInt(base[3]) + 1);
            System.out.println("NBD over TLS (" + tlsMode + (tlsVerifyPeer ? ", client certificates required" : "")
                    + "): nbdinfo 'nbds://" + first + ":10809/VOLUME?tls-certificates=" + client + "'");
        }
        new CommandLine(new NodeLsCommand()).execute("--zk", zk, "--secret-file", secretFile);
        return 0;
    }

    /**
     * Node {@code name}'s server certificate of the cluster CA for {@code ip}, made the first time
     * (and again when the cluster's credentials were made anew since).
     */
    private Path certificates(String name, String ip, ClusterSecret ca) throws Exception {
        return issueOnce(dir.resolve(name).resolve("pki"), "server", ca, pki ->
                ClusterCertCommand.issue(ca, name, List.of(ip), false, Duration.ofDays(825), pki, secret.file()));
    }

    private interface Issue {
        void into(Path pki) throws Exception;
    }

    private static Path issueOnce(Path pki, String role, ClusterSecret ca, Issue issue) throws Exception {
        Path caFile = pki.resolve("ca-cert.pem");
        if (Files.exists(caFile) && !Files.readString(caFile).strip().equals(ca.caCertificatePem().strip())) {
            for (String f : List.of("ca-cert.pem", role + "-cert.pem", role + "-key.pem")) {
                Files.deleteIfExists(pki.resolve(f)); // of another CA: the credentials were made anew
            }
        }
        if (!Files.exists(pki.resolve(role + "-cert.pem"))) {
            issue.into(pki);
        }
        return pki;
    }

    private LocalCluster.Proc launch(String name, List<String> jvmOptions, List<String> args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>();
        if (new File("/usr/bin/setsid").canExecute()) {
            cmd.add("/usr/bin/setsid"); // its own session: a Ctrl-C in this terminal does not reach it
        }
        cmd.add(java);
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.hablock.cli.Main"));
        cmd.addAll(args);
        return LocalCluster.launch(name, cmd, dir.resolve(name + ".log"));
    }

    private void awaitNodes(String zk, List<LocalCluster.Proc> procs, ClusterSecret credentials) throws Exception {
        long deadline = System.nanoTime() + READY.toNanos();
        ClusterClient cluster = null;
        try {
            while (true) {
                for (LocalCluster.Proc p : procs) {
                    if (p.handle().isEmpty()) {
                        throw new IllegalStateException(p.name() + " exited during startup: " + lastLine(Path.of(p.log())));
                    }
                }
                if (cluster == null) {
                    try {
                        cluster = ClusterClient.connect(zk, ZkPaths.DEFAULT_CLUSTER, Duration.ofSeconds(10), Duration.ofSeconds(2),
                                credentials);
                    } catch (ClusterException e) {
                        // ZooKeeper still starting
                    }
                }
                if (cluster != null) {
                    Map<String, NodeInfo> live = cluster.liveNodes();
                    long ours = live.values().stream().filter(n -> n.name().matches("v\\d+")).count();
                    if (ours >= nodes && cluster.controllerId().isPresent()) {
                        return;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the nodes did not all join within " + READY.toSeconds() + " s; see the logs in " + dir);
                }
                Thread.sleep(200);
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    private static String lastLine(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (lines.get(i).contains("error") || lines.get(i).contains("ERROR")) {
                    return lines.get(i).strip();
                }
            }
            return lines.isEmpty() ? "(no output; see " + log + ")" : lines.get(lines.size() - 1).strip();
        } catch (IOException e) {
            return "(see " + log + ")";
        }
    }
}
