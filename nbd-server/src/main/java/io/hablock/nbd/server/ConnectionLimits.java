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
 */
public record ConnectionLimits(int maxConnections, int maxConnectionsPerClient, Duration handshakeTimeout,
                               Duration stallTimeout) {

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
    }

    /** 1024 connections, 128 per client address, 10 s for a handshake, 30 s without progress. */
    public static ConnectionLimits defaults() {
        return new ConnectionLimits(1024, 128, Duration.ofSeconds(10), Duration.ofSeconds(30));
    }
}
