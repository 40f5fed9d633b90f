package io.hablock.cluster.model;

/**
 * What a live node publishes in its ephemeral znode.
 *
 * @param id the node id (8 hex digits, kept in the data directory)
 * @param name the node name ({@code v1}, a host name)
 * @param host the address other nodes and clients reach it on
 * @param nbdPort NBD listener
 * @param replicationPort replication listener
 * @param metricsPort Prometheus endpoint, 0 when off
 * @param capacityBytes space for copies (the data directory's file system, or configured)
 * @param usedBytes bytes allocated by its copies
 * @param version hablock version
 * @param started when the process started (epoch millis)
 */
public record NodeInfo(String id, String name, String host, int nbdPort, int replicationPort, int metricsPort,
        long capacityBytes, long usedBytes, String version, long started) {
}
