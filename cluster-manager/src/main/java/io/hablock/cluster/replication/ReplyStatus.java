package io.hablock.cluster.replication;

/** The status byte of a reply: OK, or why the copy refused. */
enum ReplyStatus {
    OK(0, null),
    STALE_EPOCH(1, ReplicaRefusedException.Reason.STALE_EPOCH),
    UNKNOWN_VOLUME(2, ReplicaRefusedException.Reason.UNKNOWN_VOLUME),
    IO_ERROR(3, ReplicaRefusedException.Reason.IO_ERROR),
    INVALID_REQUEST(4, ReplicaRefusedException.Reason.INVALID_REQUEST),
    SHUTTING_DOWN(5, ReplicaRefusedException.Reason.SHUTTING_DOWN),
    STALE_GENERATION(6, ReplicaRefusedException.Reason.STALE_GENERATION),
    NO_SPACE(7, ReplicaRefusedException.Reason.NO_SPACE);

    final int code;
    /** The client-side reason; null for OK. */
    final ReplicaRefusedException.Reason reason;

    ReplyStatus(int code, ReplicaRefusedException.Reason reason) {
        this.code = code;
        this.reason = reason;
    }

    /** The status with that code, or null. */
    static ReplyStatus of(int code) {
        for (ReplyStatus s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        return null;
    }
}
