package io.hablock.cluster.replication;

import io.hablock.blockstore.Generation;
import java.util.Objects;

/**
 * One reply.
 *
 * @param checksums for an OK CHECKSUMS reply; empty otherwise
 * @param previous for an OK FENCE reply, the generation the copy held before; else null
 * @param message why, for a status other than OK; empty otherwise
 */
record ReplicationReply(
        MessageType type, long requestId, ReplyStatus status, long[] checksums, Generation previous, String message) {
    private static final long[] NONE = new long[0];

    ReplicationReply {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(checksums, "checksums");
        Objects.requireNonNull(message, "message");
    }

    static ReplicationReply ok(ReplicationRequest request) {
        return new ReplicationReply(request.type(), request.requestId(), ReplyStatus.OK, NONE, null, "");
    }

    static ReplicationReply fenced(ReplicationRequest request, Generation previous) {
        return new ReplicationReply(request.type(), request.requestId(), ReplyStatus.OK, NONE,
                Objects.requireNonNull(previous, "previous"), "");
    }

    static ReplicationReply checksums(ReplicationRequest request, long[] sums) {
        return new ReplicationReply(request.type(), request.requestId(), ReplyStatus.OK, sums, null, "");
    }

    static ReplicationReply refused(ReplicationRequest request, ReplyStatus status, String why) {
        return new ReplicationReply(request.type(), request.requestId(), status, NONE, null, why);
    }
}
