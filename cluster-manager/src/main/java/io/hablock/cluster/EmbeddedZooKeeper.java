package io.hablock.cluster;

import io.hablock.cluster.security.ClusterSecret;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.zookeeper.server.ServerCnxnFactory;
import org.apache.zookeeper.server.ZooKeeperServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A standalone ZooKeeper server in this process, its data in a directory of its own: what makes
 * {@code hablock server} without {@code --zk} a one-node cluster, and what {@code hablock
 * zookeeper} runs for a local cluster. Other nodes may join it with {@code --zk HOST:PORT}.
 */
public final class EmbeddedZooKeeper implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedZooKeeper.class);
    /**
     * ZooKeeper expires a session at the first tick after its timeout: a dead node's session ends
     * 0-250 ms after the timeout rather than 0-500 ms (the failover's time).
     */
    private static final int TICK_MS = 250;

    private final ZooKeeperServer server;
    private final ServerCnxnFactory factory;

    private EmbeddedZooKeeper(ZooKeeperServer server, ServerCnxnFactory factory) {
        this.server = server;
        this.factory = factory;
    }

    /**
     * Starts a server keeping its snapshots and log under {@code dataDir}.
     *
     * @param listen client address; port 0 picks a free one
     * @param maxSessionTimeoutMs the longest session a client may ask for
     * @param secret the cluster's credentials: only they may read or change anything (the root's ACL)
     */
    public static EmbeddedZooKeeper start(Path dataDir, InetSocketAddress listen, int maxSessionTimeoutMs,
            ClusterSecret secret) throws IOException {
        // No admin web server, and the four-letter words operators use for health checks.
        System.setProperty("zookeeper.admin.enableServer", "false");
        System.setProperty("zookeeper.4lw.commands.whitelist", "ruok,srvr,stat,mntr");
        Files.createDirectories(dataDir);
        ZooKeeperServer server = new ZooKeeperServer(dataDir.toFile(), dataDir.toFile(), TICK_MS);
        server.setMinSessionTimeout(2 * TICK_MS);
        server.setMaxSessionTimeout(Math.max(maxSessionTimeoutMs, 4 * TICK_MS));
        ServerCnxnFactory factory = ServerCnxnFactory.createFactory();
        try {
            factory.configure(listen, 1000, -1);
        } catch (BindException e) {
            throw new IOException("cannot listen on " + listen.getHostString() + ":" + listen.getPort()
                    + " for the embedded ZooKeeper: address already in use (another hablock server? use --zk to join it)", e);
        }
        try {
            factory.startup(server);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            factory.shutdown();
            throw new IOException("interrupted while starting ZooKeeper", e);
        }
        EmbeddedZooKeeper zk = new EmbeddedZooKeeper(server, factory);
        try {
            ZkAcls.lockRoot(zk.connectString(), secret);
        } catch (ClusterException e) {
            zk.close();
            throw e;
        }
        log.info("embedded ZooKeeper listening on {} (data in {})", zk.connectString(), dataDir);
        return zk;
    }

    /** {@code host:port} to give clients. */
    public String connectString() {
        InetSocketAddress a = factory.getLocalAddress();
        String host = a.getAddress().isAnyLocalAddress() ? "127.0.0.1" : a.getHostString();
        return host + ":" + factory.getLocalPort();
    }

    public int port() {
        return factory.getLocalPort();
    }

    @Override
    public void close() {
        factory.shutdown();
        server.shutdown(true);
    }
}
