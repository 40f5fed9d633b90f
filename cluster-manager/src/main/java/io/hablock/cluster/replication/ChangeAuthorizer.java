package io.hablock.cluster.replication;

import java.util.UUID;

/**
 * Whether a node may change a volume's copy here: only the node the catalogue names as the
 * volume's owner sends changes (writes, fences, flushes, its rebuilds and resyncs). The cached
 * answer serves nearly every frame; a node the cache does not name (a new owner just after a
 * failover, before this node's cache heard of it) is checked against ZooKeeper itself.
 */
public interface ChangeAuthorizer {
    /** From the cached catalogue, without blocking; false when the cache does not name {@code nodeId}. */
    boolean mayChangeCached(UUID volume, String nodeId);

    /** From a fresh read of the catalogue; may block (called off the network thread). */
    boolean mayChange(UUID volume, String nodeId);
}
