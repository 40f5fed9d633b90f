package io.hablock.cluster.replication;

import java.net.InetSocketAddress;

/**
 * No answer from the copy: connection refused or lost, or no reply within the request timeout.
 * The request may or may not have been applied.
 */
public final class ReplicaUnreachableException extends ReplicationException {
    public ReplicaUnreachableException(InetSocketAddress peer, String detail, Throwable cause) {
        super(peer, "peer " + describe(peer) + " unreachable: " + detail, cause);
    }
}
