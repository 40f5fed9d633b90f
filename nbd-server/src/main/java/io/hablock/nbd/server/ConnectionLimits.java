package io.hablock.nbd.server;

import java.time.Duration;

/**
 * How much of a node hostile or broken clients may hold: connections in all and per client
 * address, how long a handshake may take, and how long a connection may hold a partial request
 * or unread replies without moving.
 *
 * @param maxConnections connections open at once; one more is closed as soon as it is accepted
 * @param maxConnectionsPerClient connections open at once from one IP address
 * @param handshakeTimeout a connection that has not finished option haggling by then is closed
 *     (qemu-nbd's limit is 10 s too)
 * @param stallTimeout a connection is closed when for this long it holds the start of a request
 *     (a header or a WRITE payload begun) or replies the client has not taken, and not one byte
 *     arrives or is taken; a connection the server itself holds back waits freely
 * @param memoryBytes what all connections together may hold in request payloads and replies not
 *     yet taken before they wait (see {@link MemoryBudget})
 */
public record ConnectionLimits(int maxConnections, int maxConnectionsPerClient, Duration handshakeTimeout,
                               Duration stallTimeout, long memoryBytes) {

    /** Limits with the {@linkplain #defaultMemoryBytes() default memory budget}. */
    public ConnectionLimits(int maxConnections, int maxConnectionsPerClient, Duration handshakeTimeout,
            Duration stallTimeout) {
        this(maxConnections, maxConnectionsPerClient, handshakeTimeout, stallTimeout, defaultMemoryBytes());
    }

    public ConnectionLimits {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("the connection limit must be at least 1");
        }
        if (maxConnectionsPerClient < 1 || maxConnectionsPerClient > maxConnections) {
            throw new IllegalArgumentException("the per-client connection limit must be between 1 and the connection limit");
        }
        if (handshakeTimeout.toMillis() < 1 || stallTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("timeouts must be at least 1 ms");
        }
        if (memoryBytes < MIN_MEMORY_BYTES) {
            throw new IllegalArgumentException("the memory budget must be at least " + (MIN_MEMORY_BYTES >> 20) + " MiB");
        }
    }

    /** Two whole requests of the largest payload (32 MiB each by default). */
    public static final long MIN_MEMORY_BYTES = 64L << 20;

    /**
     * A sixteenth of the direct memory the JVM allows (where request data lives), between
     * {@link #MIN_MEMORY_BYTES} and 128 MiB: 64 MiB with the 1 GiB that {@code ./hablock} and the
     * Ansible role give, room for 2 clients each with 32 requests of 1 MiB in flight, and for the
     * rest of the node (replication, the forwarders' connections, Netty's pools) within a node's
     * RSS of 512 MiB under attack (bench/nbd-fuzz.sh).
     */
    public static long defaultMemoryBytes() {
        long direct = io.netty.util.internal.PlatformDependent.maxDirectMemory();
        return Math.max(MIN_MEMORY_BYTES, Math.min(128L << 20, direct / 16));
    }

    /**
     * 1024 connections, 128 per client address, 10 s for a handshake, 30 s without progress, the
     * {@linkplain #defaultMemoryBytes() default memory budget}.
     */
    public static ConnectionLimits defaults() {
        return new ConnectionLimits(1024, 128, Duration.ofSeconds(10), Duration.ofSeconds(30));
    }
}
