package io.hablock.cluster.replication;

import java.net.InetSocketAddress;

/** The copy answered, and refused the request: nothing was applied (except for IO_ERROR). */
public final class ReplicaRefusedException extends ReplicationException {
    /** Why the copy refused. */
    public enum Reason {
        /** The request's epoch is below the copy's persisted epoch: the sender was deposed. */
        STALE_EPOCH,
        /**
         * Same epoch, older membership sequence: the request comes from a connection the owner
         * abandoned when the set of copies changed. The owner is not deposed; this copy missed it.
         */
        STALE_GENERATION,
        /** The peer holds no copy of the volume. */
        UNKNOWN_VOLUME,
        /** The copy failed to apply it (disk error); its content in that range is unknown. */
        IO_ERROR,
        /**
         * The copy's file system is full (down to its reserve): the change did not fit there; its
         * content in that range is unknown, as after any failed write. The copy stays in sync.
         */
        NO_SPACE,
        /** A range outside the volume or a bad argument. */
        INVALID_REQUEST,
        /** The peer is stopping. */
        SHUTTING_DOWN
    }

    private final Reason reason;

    public ReplicaRefusedException(InetSocketAddress peer, Reason reason, String detail) {
        super(peer, "peer " + describe(peer) + " refused: " + reason + ": " + detail, null);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
