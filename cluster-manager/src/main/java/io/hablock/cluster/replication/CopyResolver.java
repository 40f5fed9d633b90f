package io.hablock.cluster.replication;

import io.hablock.blockstore.LocalVolume;

import java.io.IOException;
import java.util.UUID;

/**
 * Finds this node's copy of a volume for the {@link ReplicationServer}. Called from the server's
 * I/O threads, possibly concurrently.
 */
@FunctionalInterface
public interface CopyResolver {
    /**
     * An open handle on the local copy of {@code volume}, or null if this node holds none. The
     * resolver owns the handle: the server never closes it.
     */
    LocalVolume copy(UUID volume) throws IOException;
}
