package io.hablock.cluster.replication;

/** Kinds of replication requests, with their wire codes. */
enum MessageType {
    WRITE(1, true),
    TRIM(2, true),
    WRITE_ZEROES(3, true),
    FLUSH(4, true),
    /** The copy persists the generation (if higher) and replies with the one it held before. */
    FENCE(5, true),
    /** The copy's checksums for a chunk size; read-only, no epoch check. */
    CHECKSUMS(6, false),
    PING(7, false),
    /** A WRITE whose payload is one LZ4 block; {@code length} is the uncompressed size (rebuilds). */
    WRITE_LZ4(8, true);

    private static final MessageType[] BY_CODE = new MessageType[9];

    static {
        for (MessageType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    final int code;
    /** Whether the copy checks (and may raise) its generation before acting. */
    final boolean fenced;

    MessageType(int code, boolean fenced) {
        this.code = code;
        this.fenced = fenced;
    }

    /** The type with that code, or null. */
    static MessageType of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
