package io.hablock.cluster;

import io.hablock.nbd.tls.NodeTls;
import io.hablock.blockstore.BlockStore;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.metrics.MetricName;
import io.hablock.cluster.metrics.NodeMetrics;
import io.hablock.cluster.metrics.PrometheusEndpoint;
import io.hablock.cluster.replication.ReplicationClient;
import io.hablock.cluster.replication.ReplicationServer;
import io.hablock.cluster.security.ClusterSecret;
import io.hablock.cluster.security.ClusterTls;
import io.hablock.nbd.server.NbdServer;
import io.hablock.nbd.server.NbdServerConfig;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.zookeeper.CreateMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running hablock node of a cluster: its block store, the replication listener, the NBD
 * server over the volumes it owns, its registration in ZooKeeper, a candidacy for controller,
 * and (without {@code --zk}) an embedded ZooKeeper. {@link #close()} stops taking work, lets
 * in-flight requests finish, syncs, and leaves the cluster.
 */
public final class ClusterNode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClusterNode.class);
    private static final long PUBLISH_PERIOD_S = 10;

    /**
     * @param dataDir where copies, the node id and the embedded ZooKeeper's data live
     * @param name node name in tables and events
     * @param advertiseHost address published for other nodes and clients
     * @param nbd the NBD listener's settings
     * @param replicationListen the replication listener
     * @param metricsListen the Prometheus endpoint, or null for none
     * @param zkConnect ZooKeeper to join, or null to start an embedded one on {@code embeddedZkListen}
     * @param embeddedZkListen where an embedded ZooKeeper listens
     * @param cluster cluster name (ZooKeeper root /hablock/NAME)
     * @param sessionTimeout ZooKeeper session timeout: how fast a dead node is noticed
     * @param capacityBytes space offered for copies; 0 means what the data directory's file system
     *     can still take (see {@link #capacity()}), a negative value none at all (a host endpoint
     *     that stores no copy)
     * @param replicationTimeout how long the owner waits for a copy before taking it out of sync
     * @param readOnly serve every volume read-only
     * @param rebuildBytesPerSecond rebuild rate limit (bytes on the wire per second), 0 for none
     * @param forward serve volumes owned elsewhere too, forwarding to the owner (a host endpoint);
     *     otherwise a client asking for one is told where it is
     * @param delays test-only delays at named steps ({@link TestDelays#NONE} outside tests)
     * @param secretFile the cluster's credentials ({@link ClusterSecret}); a node that starts the
     *     embedded ZooKeeper creates them there when missing, a node that joins needs them
     * @param allow the NBD clients this node serves (the cluster's nodes always); a volume's own
     *     list applies too
     * @param zkDataDir where an embedded ZooKeeper keeps its snapshots and log; null: DATA_DIR/zookeeper
     */
    public record Config(Path dataDir, String name, String advertiseHost, NbdServerConfig nbd,
            InetSocketAddress replicationListen, InetSocketAddress metricsListen, String zkConnect, InetSocketAddress embeddedZkListen, String cluster,
            Duration sessionTimeout, long capacityBytes, Duration replicationTimeout, boolean readOnly,
            long rebuildBytesPerSecond, boolean forward, TestDelays delays, Path secretFile, AllowList allow,
            Path zkDataDir) {

        public Config {
            delays = delays == null ? TestDelays.NONE : delays;
            secretFile = secretFile == null ? Path.of(ClusterSecret.DEFAULT_FILE) : secretFile;
            allow = allow == null ? AllowList.ANYONE : allow;
            zkDataDir = zkDataDir == null ? dataDir.resolve("zookeeper") : zkDataDir;
        }

        /** The default credentials file, anyone allowed, the embedded ZooKeeper's data in DATA_DIR/zookeeper. */
        public Config(Path dataDir, String name, String advertiseHost, NbdServerConfig nbd,
                InetSocketAddress replicationListen, InetSocketAddress metricsListen, String zkConnect,
                InetSocketAddress embeddedZkListen, String cluster, Duration sessionTimeout, long capacityBytes,
                Duration replicationTimeout, boolean readOnly, long rebuildBytesPerSecond, boolean forward,
                TestDelays delays) {
            this(dataDir, name, advertiseHost, nbd, replicationListen, metricsListen, zkConnect, embeddedZkListen, cluster,
                    sessionTimeout, capacityBytes, replicationTimeout, readOnly, rebuildBytesPerSecond, forward, delays, null,
                    null, null);
        }

        /** The same settings with the embedded ZooKeeper's data in {@code dir} (a file system of its own, ideally). */
        public Config withZkDataDir(Path dir) {
            return new Config(dataDir, name, advertiseHost, nbd, replicationListen, metricsListen, zkConnect, embeddedZkListen,
                    cluster, sessionTimeout, capacityBytes, replicationTimeout, readOnly, rebuildBytesPerSecond, forward, delays,
                    secretFile, allow, dir);
        }

        /** Without test delays. */
        public Config(Path dataDir, String name, String advertiseHost, NbdServerConfig nbd,
                InetSocketAddress replicationListen, InetSocketAddress metricsListen, String zkConnect,
                InetSocketAddress embeddedZkListen, String cluster, Duration sessionTimeout, long capacityBytes,
                Duration replicationTimeout, boolean readOnly, long rebuildBytesPerSecond, boolean forward) {
            this(dataDir, name, advertiseHost, nbd, replicationListen, metricsListen, zkConnect, embeddedZkListen, cluster,
                    sessionTimeout, capacityBytes, replicationTimeout, readOnly, rebuildBytesPerSecond, forward, TestDelays.NONE);
        }

        /** The same settings with test-only delays. */
        public Config withDelays(TestDelays d) {
            return new Config(dataDir, name, advertiseHost, nbd, replicationListen, metricsListen, zkConnect, embeddedZkListen,
                    cluster, sessionTimeout, capacityBytes, replicationTimeout, readOnly, rebuildBytesPerSecond, forward, d,
                    secretFile, allow, zkDataDir);
        }

        /** The same settings with the cluster's credentials in {@code file}. */
        public Config withSecretFile(Path file) {
            return new Config(dataDir, name, advertiseHost, nbd, replicationListen, metricsListen, zkConnect, embeddedZkListen,
                    cluster, sessionTimeout, capacityBytes, replicationTimeout, readOnly, rebuildBytesPerSecond, forward, delays,
                    file, allow, zkDataDir);
        }

        /** The same settings serving only the NBD clients in {@code list} (and the cluster's nodes). */
        public Config withAllow(AllowList list) {
            return new Config(dataDir, name, advertiseHost, nbd, replicationListen, metricsListen, zkConnect, embeddedZkListen,
                    cluster, sessionTimeout, capacityBytes, replicationTimeout, readOnly, rebuildBytesPerSecond, forward, delays,
                    secretFile, list, zkDataDir);
        }

        /** Without forwarding. */
        public Config(Path dataDir, String name, String advertiseHost, NbdServerConfig nbd,
                InetSocketAddress replicationListen, InetSocketAddress metricsListen, String zkConnect,
                InetSocketAddress embeddedZkListen, String cluster, Duration sessionTimeout, long capacityBytes,
                Duration replicationTimeout, boolean readOnly, long rebuildBytesPerSecond) {
            this(dataDir, name, advertiseHost, nbd, replicationListen, metricsListen, zkConnect, embeddedZkListen, cluster,
                    sessionTimeout, capacityBytes, replicationTimeout, readOnly, rebuildBytesPerSecond, false);
        }
    }

    private final Config config;
    private final NodeTls nbdTls;
    private String nodeId;
    private BlockStore store;
    private NodeSpace space;
    private EmbeddedZooKeeper embeddedZk;
    private ClusterClient cluster;
    private ReplicationClient replicationClient;
    private ReplicationServer replicationServer;
    private NodeAgent agent;
    private Lease lease;
    private Controller controller;
    private NbdServer nbd;
    private ClusterExports exports;
    private ForwardingLinks forwarding;
    private final NodeMetrics metrics = new NodeMetrics();
    private PrometheusEndpoint metricsEndpoint;
    private PersistentNode registration;
    private ScheduledExecutorService publisher;
    private long started;

    private ClusterNode(Config config, NodeTls nbdTls) {
        this.config = config;
        this.nbdTls = nbdTls;
    }

    public static ClusterNode start(Config config) throws IOException {
        return start(config, NodeTls.off());
    }

    /**
     * A node whose NBD port offers or requires TLS as {@code nbdTls} says, and whose forwarders
     * reach the owners through TLS when it is not off.
     */
    public static ClusterNode start(Config config, NodeTls nbdTls) throws IOException {
        ClusterNode node = new ClusterNode(config, nbdTls);
        try {
            node.startAll();
            return node;
        } catch (IOException | RuntimeException e) {
            node.close();
            throw e;
        }
    }

    private void startAll() throws IOException {
        started = System.currentTimeMillis();
        store = BlockStore.open(config.dataDir());
        space = new NodeSpace(store, config.capacityBytes());
        nodeId = NodeIds.loadOrCreate(config.dataDir());
        String connect = config.zkConnect();
        ClusterSecret secret;
        if (connect == null) {
            // A new cluster: its first node makes the credentials every other node joins with.
            boolean existed = Files.exists(config.secretFile());
            secret = ClusterSecret.createIfAbsent(config.secretFile());
            if (!existed) {
                log.info("created the cluster's credentials in {} (CA {}): copy that file to every node that joins",
                        config.secretFile(), secret.fingerprint());
            }
            embeddedZk = EmbeddedZooKeeper.start(config.zkDataDir(), config.embeddedZkListen(),
                    (int) config.sessionTimeout().toMillis() * 4, secret);
            connect = embeddedZk.connectString();
        } else {
            secret = ClusterSecret.load(config.secretFile());
        }
        cluster = ClusterClient.connect(connect, config.cluster(), config.sessionTimeout(), ClusterClient.DEFAULT_CONNECT_TIMEOUT,
                secret);
        try {
            int opened = ZkAcls.secureTree(cluster.curator(), cluster.paths().root(), secret);
            if (opened > 0) {
                log.warn("cluster '{}' was open to anyone in ZooKeeper (made before ACLs): {} znodes now carry its ACL",
                        config.cluster(), opened);
            }
        } catch (Exception e) {
            throw new ClusterException("cannot set the ACLs of cluster '" + config.cluster() + "' in ZooKeeper: "
                    + e.getMessage(), e);
        }
        ClusterTls tls = ClusterTls.forNode(secret, nodeId, java.util.List.of(config.advertiseHost()));
        replicationClient = new ReplicationClient(config.replicationTimeout(), tls);
        if (!config.delays().isEmpty()) {
            log.warn("TEST DELAYS ACTIVE (--test-delay): {}; never run a production node like this", config.delays());
        }
        lease = new Lease(cluster.curator(), cluster.paths().node(nodeId), config.sessionTimeout(), System::nanoTime);
        agent = new NodeAgent(cluster, store, space, nodeId, replicationClient, metrics, config.rebuildBytesPerSecond(), lease,
                config.delays());
        lease.onChange(agent::requestPass);
        cluster.curator().getConnectionStateListenable().addListener((client, state) -> {
            if (state == org.apache.curator.framework.state.ConnectionState.LOST) {
                lease.sessionLost();
                agent.sessionLost();
            }
            agent.requestPass();
        });
        replicationServer = new ReplicationServer(config.replicationListen(), agent::copy, tls, agent).start();
        forwarding = new ForwardingLinks(nbdTls.client());
        exports = new ClusterExports(agent, config.readOnly(), metrics, config.forward(), forwarding, config.allow());
        nbd = new NbdServer(config.nbd(), exports,
                nbdTls.server())
                .start();
        replicationClient.sendFromLoopsOf(nbd.eventLoops()); // an owner's writes go out from their connection's thread
        if (config.metricsListen() != null) {
            metrics.registerJvmGauges();
            metrics.gauge(MetricName.of("hablock_node_capacity_bytes"), "Space this node offers for copies", this::capacity);
            metrics.gauge(MetricName.of("hablock_node_used_bytes"), "Bytes allocated by this node's copies", this::safeUsed);
            metrics.gauge(MetricName.of("hablock_node_served_volumes"), "Volumes this node owns and serves",
                    () -> agent.servedVolumes().size());
            metrics.gauge(MetricName.of("hablock_node_lease_held"),
                    "1 while this node's ZooKeeper lease holds (it may answer for the volumes it owns), else 0",
                    () -> holdsLease() ? 1 : 0);
            NbdServer clients = nbd;
            metrics.gauge(MetricName.of("hablock_nbd_connections"), "Open NBD client connections", clients::connectionCount);
            metrics.gauge(MetricName.of("hablock_nbd_client_memory_bytes"),
                    "Request data and unread replies NBD clients hold (see --client-memory)", clients::memoryInUse);
            metrics.gauge(MetricName.of("hablock_nbd_client_memory_limit_bytes"),
                    "What NBD clients may hold together before they wait (--client-memory)", clients::memoryBudget);
            metricsEndpoint = PrometheusEndpoint.start(config.metricsListen(), metrics);
        }
        join();
        lease.start();
        agent.start();
        controller = new Controller(cluster, nodeId).start();
        publisher = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("node-publisher", true));
        publisher.scheduleWithFixedDelay(this::publish, PUBLISH_PERIOD_S, PUBLISH_PERIOD_S, TimeUnit.SECONDS);
        log.info("node {} ({}) joined cluster '{}' through ZooKeeper {}", config.name(), nodeId, config.cluster(), connect);
    }

    /** Publishes the member record and the ephemeral liveness znode. */
    private void join() throws IOException {
        registration = new PersistentNode(cluster.curator(), CreateMode.EPHEMERAL, false, cluster.paths().node(nodeId),
                Json.write(info()));
        registration.start();
        try {
            if (!registration.waitForInitialCreate(10, TimeUnit.SECONDS)) {
                throw new ClusterException("cannot register node " + nodeId + " in ZooKeeper within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClusterException("interrupted while registering", e);
        }
        // Liveness first, then the member record: a controller never sees a member without its node.
        var existing = cluster.member(nodeId);
        long capacity = capacity();
        if (existing.isEmpty()) {
            cluster.putMember(new Member(nodeId, config.name(), config.advertiseHost(), NodeStatus.NORMAL, capacity));
            cluster.record(Event.info(Controller.SOURCE, "node " + config.name() + " (" + nodeId + ") joined, ip "
                    + config.advertiseHost()));
        } else {
            Member m = existing.get().value();
            cluster.casMember(existing.get(), new Member(nodeId, config.name(), config.advertiseHost(), m.status(), capacity));
        }
    }

    private NodeInfo info() {
        return new NodeInfo(nodeId, config.name(), config.advertiseHost(), nbd.localAddress().getPort(),
                replicationServer.localAddress().getPort(),
                metricsEndpoint == null ? 0 : metricsEndpoint.localAddress().getPort(), capacity(), safeUsed(), version(), started);
    }

    private void publish() {
        try {
            registration.setData(Json.write(info()));
        } catch (Exception e) {
            log.debug("cannot publish node info: {}", e.getMessage());
        }
    }

    private long safeUsed() {
        try {
            return store.usedBytes();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /** Space offered for copies ({@link NodeSpace}). */
    private long capacity() {
        return space.capacity();
    }

    private static String version() {
        String v = ClusterNode.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    public String nodeId() {
        return nodeId;
    }

    /** True while this node's lease holds: it may answer for the volumes it owns (see {@link Lease}). */
    public boolean holdsLease() {
        return lease != null && lease.validSession() != 0;
    }

    /**
     * From now on, the connections this node opens for a volume the Docker plugin mounted on this
     * host run within the mount's claim ({@link MountFence}).
     */
    public void gateMounts(MountFence fence) {
        exports.gateMounts(fence);
    }

    /** The node's test delays ({@link TestDelays#NONE} outside tests). */
    public TestDelays delays() {
        return config.delays();
    }

    public ClusterClient cluster() {
        return cluster;
    }

    public BlockStore store() {
        return store;
    }

    public InetSocketAddress nbdAddress() {
        return nbd.localAddress();
    }

    /** The Prometheus endpoint's address, or null when it is off. */
    public InetSocketAddress metricsAddress() {
        return metricsEndpoint == null ? null : metricsEndpoint.localAddress();
    }

    public InetSocketAddress replicationAddress() {
        return replicationServer.localAddress();
    }

    /** {@code host:port} of ZooKeeper as this node uses it. */
    public String zkConnectString() {
        return cluster.connectString();
    }

    public boolean isController() {
        return controller != null && controller.isLeader();
    }

    @Override
    public void close() {
        if (publisher != null) {
            publisher.shutdownNow();
        }
        if (controller != null) {
            controller.close();
        }
        if (nbd != null) {
            nbd.close(); // in-flight requests finish (and reach the copies) before this returns
        }
        if (forwarding != null) {
            forwarding.close();
        }
        if (agent != null) {
            agent.close();
        }
        if (lease != null) {
            lease.close();
        }
        if (registration != null) {
            try {
                registration.close();
            } catch (IOException | RuntimeException e) {
                log.debug("registration close", e);
            }
        }
        if (metricsEndpoint != null) {
            metricsEndpoint.close();
        }
        if (replicationServer != null) {
            replicationServer.close();
        }
        if (replicationClient != null) {
            replicationClient.close();
        }
        if (cluster != null) {
            cluster.close();
        }
        if (embeddedZk != null) {
            embeddedZk.close();
        }
        if (store != null) {
            store.close();
        }
    }
}
