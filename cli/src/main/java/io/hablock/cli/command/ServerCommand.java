package io.hablock.cli.command;

import io.hablock.blockstore.Sizes;
import io.hablock.cli.HostPort;
import io.hablock.cluster.ClusterNode;
import io.hablock.cluster.ZkPaths;
import io.hablock.nbd.server.ConnectionLimits;
import io.hablock.nbd.server.NbdServerConfig;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/**
 * {@code hablock server}: runs a cluster node until SIGTERM or SIGINT, then finishes in-flight
 * requests, syncs every connected volume and exits 0.
 */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Run a hablock node: stores copies in DATA_DIR, serves the volumes it owns over NBD, "
                + "replicates their writes to the other copies.",
                "Without --zk it starts an embedded ZooKeeper and is a one-node cluster that other nodes may join "
                        + "(--zk THIS_HOST:2181, with a copy of its --secret-file, which it makes if missing).",
                "Replication between nodes is mutual TLS with certificates of the cluster CA; ZooKeeper's znodes "
                        + "carry ACLs for the cluster's secret.",
                "Stops cleanly on SIGTERM/SIGINT: in-flight requests finish, volumes are synced, exit 0."})
public final class ServerCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServerCommand.class);
    /** Replication listener port when none is given. */
    public static final int DEFAULT_REPLICATION_PORT = 10811;
    /** Prometheus endpoint port when none is given. */
    public static final int DEFAULT_METRICS_PORT = 10812;
    /** Embedded ZooKeeper port when none is given. */
    public static final int DEFAULT_ZK_PORT = 2181;

    @Option(names = {"-d", "--data-dir"}, required = true, paramLabel = "DIR",
            description = "Directory that holds this node's copies, its id and (unless --zk-data-dir) the embedded "
                    + "ZooKeeper's data (created if missing).")
    Path dataDir;

    @Option(names = "--zk-data-dir", paramLabel = "DIR",
            description = {"Where the embedded ZooKeeper keeps its snapshots and log (default: DATA_DIR/zookeeper). "
                    + "Best on another file system than DATA_DIR: copies filling theirs cannot reach it. On the same "
                    + "one, the copies leave it the reserve (writes that need new blocks fail with ENOSPC once "
                    + "less is free: 5%% of the file system, at most 1 GiB)."})
    Path zkDataDir;

    @Option(names = "--name", paramLabel = "NAME", description = "Node name in tables and events (default: the host name).")
    String name;

    @Option(names = {"-l", "--listen"}, paramLabel = "ADDR:PORT", defaultValue = "0.0.0.0:" + NbdServerConfig.DEFAULT_PORT,
            description = "NBD listen address (default ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--advertise", paramLabel = "HOST",
            description = "Address other nodes and clients use for this node (default: the listen address, or this "
                    + "host's first non-loopback IPv4 address when listening on all).")
    String advertise;

    @Option(names = "--replication-listen", paramLabel = "ADDR:PORT",
            description = "Replication listener (default: the NBD listen address, port " + DEFAULT_REPLICATION_PORT + ").")
    String replicationListen;

    @Option(names = "--metrics-listen", paramLabel = "ADDR:PORT|off",
            description = "Prometheus metrics at http://ADDR:PORT/metrics (default: the NBD listen address, port "
                    + "" + DEFAULT_METRICS_PORT + "); 'off' turns it off.")
    String metricsListen;

    @Option(names = "--zk", paramLabel = "HOST:PORT[,...]",
            description = "Join the cluster whose ZooKeeper is there (an ensemble, or another node's embedded one). "
                    + "Without it, this node starts an embedded ZooKeeper.")
    String zk;

    @Option(names = "--zk-listen", paramLabel = "ADDR:PORT", defaultValue = "0.0.0.0:" + DEFAULT_ZK_PORT,
            description = "Where the embedded ZooKeeper listens when --zk is not given (default ${DEFAULT-VALUE}).")
    String zkListen;

    @Option(names = "--cluster", paramLabel = "NAME", defaultValue = ZkPaths.DEFAULT_CLUSTER,
            description = "Cluster name: several clusters may share one ZooKeeper (default ${DEFAULT-VALUE}).")
    String cluster;

    @Option(names = "--session-timeout", paramLabel = "DURATION", defaultValue = "5s",
            description = "ZooKeeper session timeout: how long before a silent node counts as failed (default ${DEFAULT-VALUE}).")
    String sessionTimeout;

    @Option(names = "--replication-timeout", paramLabel = "DURATION", defaultValue = "5s",
            description = "How long the owner waits for a copy before taking it out of sync (default ${DEFAULT-VALUE}).")
    String replicationTimeout;

    @Option(names = "--rebuild-rate", paramLabel = "SIZE", defaultValue = "200M",
            description = "Most bytes per second a rebuild or resync sends (default ${DEFAULT-VALUE}); 0: no limit.")
    String rebuildRate;

    @Option(names = "--capacity", paramLabel = "SIZE",
            description = {"Space this node offers for copies (default: the free space of DATA_DIR's file system, plus "
                    + "what its copies already hold, less a reserve of 5%% of that file system, at most 1 GiB; "
                    + "placement counts volume sizes against it, so the copies placed here fit when written full)."})
    String capacity;

    @Option(names = "--io-threads", paramLabel = "N", defaultValue = "16",
            description = "Threads doing disk I/O (default ${DEFAULT-VALUE}).")
    int ioThreads;

    @Option(names = "--inline-io-max", paramLabel = "SIZE", defaultValue = "1M",
            description = {"Reads and writes up to SIZE of volumes without other copies run on the network thread while "
                    + "the disk answers within 0.5 ms (saves two thread hops per request); 0 turns this off "
                    + "(default ${DEFAULT-VALUE})."})
    String inlineIoMax;

    @Option(names = "--forward", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = {"Host endpoint (on by default): also serve the volumes other nodes own, forwarding each "
                    + "request to the owner, and follow the owner through a failover (the client sees a pause, "
                    + "not an error). With --no-forward a client asking for such a volume is refused with "
                    + "NBD_REP_ERR_UNKNOWN and a message naming the node that serves it."})
    boolean forward;

    @Option(names = "--no-copies",
            description = {"A host endpoint only: this node stores no copy and owns no volume; it serves every volume "
                    + "by forwarding to its owner (for hosts that run applications, not storage). Needs --zk."})
    boolean noCopies;

    @Option(names = "--max-connections", paramLabel = "N", defaultValue = "1024",
            description = "NBD connections open at once; one more is closed as soon as it is accepted (default ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(names = "--max-connections-per-client", paramLabel = "N", defaultValue = "128",
            description = "NBD connections open at once from one client IP address (default ${DEFAULT-VALUE}).")
    int maxConnectionsPerClient;

    @Option(names = "--handshake-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "An NBD client that has not chosen its export this long after connecting is "
                    + "disconnected (default ${DEFAULT-VALUE}, as qemu-nbd).")
    String handshakeTimeout;

    @Option(names = "--stall-timeout", paramLabel = "DURATION", defaultValue = "30s",
            description = {"An NBD client that holds a request half sent, or replies it does not read, and "
                    + "moves not one byte for this long is disconnected (default ${DEFAULT-VALUE}). A client "
                    + "waiting for its replies is never a stall."})
    String stallTimeout;

    @Option(names = "--client-memory", paramLabel = "SIZE",
            description = {"What all NBD clients together may hold in request data and replies not yet read "
                    + "(default: a quarter of the JVM's direct memory, 64M to 128M). Beyond it, clients wait "
                    + "for room; one that holds nothing may always send a request of up to 256K."})
    String clientMemory;

    @Option(names = "--read-only", description = "Serve every volume read-only.")
    boolean readOnly;

    @Mixin
    SecretFileOption secret;

    @Option(names = "--allow", paramLabel = "CIDR[,CIDR...]|any", defaultValue = "any",
            description = {"NBD clients this node serves (default ${DEFAULT-VALUE}); others are told no export exists "
                    + "and list none. The cluster's nodes (forwarding for their own clients) always pass. A volume's "
                    + "own list (`volume allow`) applies too."})
    String allow;

    @Mixin
    NbdTlsOptions tls;

    @Option(names = "--docker-plugin", paramLabel = "SOCKET|tcp://HOST:PORT|off", defaultValue = "off",
            description = {"Serve a Docker volume plugin (default ${DEFAULT-VALUE}): on a unix socket, "
                    + "/run/docker/plugins/hablock.sock makes the driver `hablock` (docker volume create -d hablock "
                    + "--opt size=10G --opt copies=3 NAME); or on tcp://127.0.0.1:PORT named by a spec file "
                    + "/etc/docker/plugins/hablock.spec. Mounts go through this node's endpoint (kernel nbd, "
                    + "else nbdfuse and a loop device); needs root."})
    String dockerPlugin;

    @Option(names = "--locality", paramLabel = "auto|off", defaultValue = "auto",
            description = {"With --docker-plugin: a volume mounted on this host and owned by another node is moved "
                    + "here, after a copy is built here if there is none (default ${DEFAULT-VALUE})."})
    String locality;

    /** Test-only delays at named steps (races made to happen every run); hidden from --help. */
    @Option(names = "--test-delay", paramLabel = "STEP=DURATION[xCOUNT]", hidden = true)
    java.util.List<String> testDelays;

    private long clientMemory(int maxPayload) {
        if (clientMemory == null) {
            return ConnectionLimits.defaultMemoryBytes();
        }
        long bytes = Sizes.parse(clientMemory);
        long least = Math.max(ConnectionLimits.MIN_MEMORY_BYTES, 2L * maxPayload);
        if (bytes < least) {
            throw new IllegalArgumentException("--client-memory must be at least " + Sizes.format(least));
        }
        return bytes;
    }

    @Override
    public Integer call() throws Exception {
        InetSocketAddress nbd = HostPort.resolve(HostPort.parse(listen, "0.0.0.0", NbdServerConfig.DEFAULT_PORT));
        String listenHost = nbd.getAddress().getHostAddress();
        InetSocketAddress replication = HostPort.resolve(HostPort.parse(
                replicationListen == null ? listenHost + ":" + DEFAULT_REPLICATION_PORT : replicationListen,
                listenHost, DEFAULT_REPLICATION_PORT));
        InetSocketAddress metrics = "off".equalsIgnoreCase(String.valueOf(metricsListen).strip()) ? null
                : HostPort.resolve(HostPort.parse(metricsListen == null ? listenHost + ":" + DEFAULT_METRICS_PORT : metricsListen,
                        listenHost, DEFAULT_METRICS_PORT));
        InetSocketAddress embeddedZk = HostPort.resolve(HostPort.parse(zkListen, "0.0.0.0", DEFAULT_ZK_PORT));
        NbdServerConfig defaults = NbdServerConfig.defaults(nbd);
        long inline = inlineIoMax.strip().equals("0") ? 0 : Sizes.parse(inlineIoMax);
        if (inline > defaults.maxPayloadBytes()) {
            throw new IllegalArgumentException("--inline-io-max must be at most " + Sizes.format(defaults.maxPayloadBytes()));
        }
        if (maxConnections < 1 || maxConnectionsPerClient < 1 || maxConnectionsPerClient > maxConnections) {
            throw new IllegalArgumentException("--max-connections and --max-connections-per-client must be at least 1, "
                    + "the limit per client no more than the node's");
        }
        Duration handshake = Durations.parse(handshakeTimeout, "--handshake-timeout");
        Duration stall = Durations.parse(stallTimeout, "--stall-timeout");
        if (handshake.toMillis() < 100 || stall.toMillis() < 100) {
            throw new IllegalArgumentException("--handshake-timeout and --stall-timeout must be at least 100ms");
        }
        NbdServerConfig nbdConfig = defaults.withIoThreads(ioThreads)
                .withInlineIo((int) inline, defaults.slowInlineIo(), defaults.inlinePause())
                .withLimits(new ConnectionLimits(maxConnections, maxConnectionsPerClient, handshake, stall,
                        clientMemory(defaults.maxPayloadBytes())));
        if (zk != null && zkDataDir != null) {
            throw new IllegalArgumentException("--zk-data-dir is for the embedded ZooKeeper, which does not run with --zk");
        }
        if (noCopies && (zk == null || !forward || capacity != null)) {
            throw new IllegalArgumentException("--no-copies needs --zk (a cluster to serve) and forwarding, and takes no --capacity");
        }
        Duration session = Durations.parse(sessionTimeout, "--session-timeout");
        if (session.toMillis() < 1000) {
            throw new IllegalArgumentException("--session-timeout must be at least 1s");
        }
        ClusterNode.Config config = new ClusterNode.Config(dataDir.toAbsolutePath(), name == null ? hostName() : name,
                advertise == null ? advertisedHost(nbd) : advertise, nbdConfig, replication, metrics, zk, embeddedZk, cluster,
                session, noCopies ? -1 : capacity == null ? 0 : Sizes.parse(capacity), Durations.parse(replicationTimeout, "--replication-timeout"),
                readOnly, rebuildRate.strip().equals("0") ? 0 : Sizes.parse(rebuildRate), forward)
                .withDelays(io.hablock.cluster.TestDelays.parse(testDelays)).withSecretFile(secret.file())
                .withAllow(io.hablock.cluster.AllowList.parse(allow))
                .withZkDataDir(zkDataDir == null ? null : zkDataDir.toAbsolutePath());
        io.hablock.nbd.tls.NodeTls nbdTls = tls.load();
        CountDownLatch stop = new CountDownLatch(1);
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        Signal.handle(new Signal("INT"), s -> stop.countDown());
        boolean docker = !dockerPlugin.strip().equalsIgnoreCase("off");
        if (docker && !forward) {
            throw new IllegalArgumentException("--docker-plugin needs forwarding (not --no-forward): its mounts follow their volume "
                    + "through this node's endpoint");
        }
        if (!locality.equals("auto") && !locality.equals("off")) {
            throw new IllegalArgumentException("--locality must be auto or off");
        }
        if (docker && noCopies && locality.equals("auto")) {
            throw new IllegalArgumentException("--locality auto needs a node that stores copies (not --no-copies)");
        }
        try (ClusterNode node = ClusterNode.start(config, nbdTls);
                AutoCloseable plugin = docker ? startDockerPlugin(node, config) : () -> {
                }) {
            log.info("hablock node ready: {} ({}), NBD on {}:{}, replication on {}:{}, metrics {}, ZooKeeper {}",
                    config.name(), node.nodeId(), config.advertiseHost(), node.nbdAddress().getPort(),
                    config.advertiseHost(), node.replicationAddress().getPort(),
                    node.metricsAddress() == null ? "off" : "http://" + config.advertiseHost() + ":"
                            + node.metricsAddress().getPort() + "/metrics", node.zkConnectString());
            stop.await();
            log.info("stopping: finishing in-flight requests and syncing volumes");
        }
        log.info("stopped");
        return 0;
    }

    private AutoCloseable startDockerPlugin(ClusterNode node, ClusterNode.Config config) throws Exception {
        InetSocketAddress nbd = node.nbdAddress();
        InetSocketAddress local = nbd.getAddress().isAnyLocalAddress() ? new InetSocketAddress("127.0.0.1", nbd.getPort()) : nbd;
        io.hablock.cluster.ClusterClient client = io.hablock.cluster.ClusterClient.connect(node.zkConnectString(),
                config.cluster(), config.sessionTimeout(), io.hablock.cluster.ClusterClient.DEFAULT_CONNECT_TIMEOUT, secret.load());
        try {
            return io.hablock.cli.docker.DockerPlugin.startForNode(dockerPlugin.strip(), client, config.cluster(), node.nodeId(),
                    config.name(), local, io.hablock.cli.host.FsMount.defaultRunDir(), locality.equals("auto"),
                    config.sessionTimeout(), node::gateMounts);
        } catch (Exception e) {
            client.close();
            throw e;
        }
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /** The listen address, or when it is the wildcard, this host's first non-loopback IPv4 address. */
    private static String advertisedHost(InetSocketAddress listen) throws SocketException {
        if (!listen.getAddress().isAnyLocalAddress()) {
            return listen.getAddress().getHostAddress();
        }
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (nic.isUp() && !nic.isLoopback()) {
                for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                    if (a instanceof Inet4Address) {
                        return a.getHostAddress();
                    }
                }
            }
        }
        return "127.0.0.1";
    }
}
