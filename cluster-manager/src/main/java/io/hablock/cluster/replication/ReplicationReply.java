package io.hablock.cluster.replication;

import java.util.Objects;

/**
 * One reply.
 *
 * @param checksums for an OK CHECKSUMS reply; empty otherwise
 * @param message why, for a status other than OK; empty otherwise
 */
record ReplicationReply(
        MessageType type, long requestId, ReplyStatus status, long[] checksums, String message) {
    private static final long[] NONE = new long[0];

    ReplicationReply {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(checksums, "checksums");
        Objects.requireNonNull(message, "message");
    }

    static ReplicationReply ok(ReplicationRequest request) {
        return new ReplicationReply(request.type(), request.requestId(), ReplyStatus.OK, NONE, "");
    }

    static ReplicationReply checksums(ReplicationRequest request, long[] sums) {
        return new ReplicationReply(request.type(), request.requestId(), ReplyStatus.OK, sums, "");
    }

    static ReplicationReply refused(ReplicationRequest request, ReplyStatus status, String why) {
        return new ReplicationReply(request.type(), request.requestId(), status, NONE, why);
    }
}
