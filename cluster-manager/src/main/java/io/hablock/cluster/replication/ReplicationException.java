package io.hablock.cluster.replication;

import java.io.IOException;
import java.net.InetSocketAddress;

/** A replication request to a copy failed; the message is one line and names the peer. */
public abstract class ReplicationException extends IOException {
    private final InetSocketAddress peer;

    ReplicationException(InetSocketAddress peer, String message, Throwable cause) {
        super(message, cause);
        this.peer = peer;
    }

    /** The node the request was sent to. */
    public InetSocketAddress peer() {
        return peer;
    }

    static String describe(InetSocketAddress peer) {
        return peer.getHostString() + ":" + peer.getPort();
    }
}
