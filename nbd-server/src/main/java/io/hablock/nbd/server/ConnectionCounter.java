package io.hablock.nbd.server;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Connections open in all and per client address, held to their {@link ConnectionLimits}. */
final class ConnectionCounter {
    private final ConnectionLimits limits;
    private final AtomicInteger total = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> perClient = new ConcurrentHashMap<>();

    ConnectionCounter(ConnectionLimits limits) {
        this.limits = limits;
    }

    /**
     * Counts a new connection from {@code client}, or returns why it is refused (and counts
     * nothing); a peer counts toward the node's cap only. Every admitted connection must be
     * {@linkplain #release released} once, with the same {@code peer}.
     */
    String admit(InetAddress client, boolean peer) {
        if (total.incrementAndGet() > limits.maxConnections()) {
            total.decrementAndGet();
            return "the node has " + limits.maxConnections() + " connections open, its limit";
        }
        if (peer) {
            return null;
        }
        boolean[] over = new boolean[1];
        perClient.compute(client, (address, n) -> {
            int count = n == null ? 0 : n;
            if (count >= limits.maxConnectionsPerClient()) {
                over[0] = true;
                return n;
            }
            return count + 1;
        });
        if (over[0]) {
            total.decrementAndGet();
            return "the client has " + limits.maxConnectionsPerClient()
                    + " connections open, the limit per client";
        }
        return null;
    }

    void release(InetAddress client, boolean peer) {
        if (!peer) {
            perClient.computeIfPresent(client, (address, n) -> n == 1 ? null : n - 1);
        }
        total.decrementAndGet();
    }
}
