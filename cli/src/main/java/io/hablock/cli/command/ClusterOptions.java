package io.hablock.cli.command;

import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.ZkPaths;
import io.hablock.cluster.security.ClusterSecret;
import java.time.Duration;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** How a client command reaches the cluster: {@code --zk} / {@code HABLOCK_ZK}, {@code --cluster}, {@code --secret-file}. */
public final class ClusterOptions {
    /** The embedded ZooKeeper of a local {@code hablock server}, and of {@code cluster up}. */
    public static final String DEFAULT_ZK = "127.0.0.1:2181";

    @Option(names = "--zk", paramLabel = "HOST:PORT[,...]", defaultValue = "${env:HABLOCK_ZK:-" + DEFAULT_ZK + "}",
            description = "ZooKeeper of the cluster (env HABLOCK_ZK; default ${DEFAULT-VALUE}, "
                    + "the embedded one of a local hablock server).")
    String zk;

    @Option(names = "--cluster", paramLabel = "NAME", defaultValue = "${env:HABLOCK_CLUSTER:-" + ZkPaths.DEFAULT_CLUSTER + "}",
            description = "Cluster name (env HABLOCK_CLUSTER; default ${DEFAULT-VALUE}).")
    String cluster;

    @Mixin
    SecretFileOption secret;

    ClusterClient connect() throws ClusterException {
        return ClusterClient.connect(zk, cluster, Duration.ofSeconds(10), ClusterClient.DEFAULT_CONNECT_TIMEOUT, secret.load());
    }

    /** The cluster's credentials (for an administrator's certificate). */
    ClusterSecret secret() throws ClusterException {
        return secret.load();
    }
}
