package io.hablock.cluster.replication;

import io.hablock.blockstore.Generation;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.util.Objects;
import java.util.UUID;

/**
 * One decoded (or to be encoded) request. Whoever holds it owns one reference of {@code payload}
 * (empty unless WRITE): the encoder passes it on to the channel, the server releases it once
 * applied.
 *
 * @param length WRITE: payload bytes; TRIM, WRITE_ZEROES: range length; CHECKSUMS: chunk size
 * @param flags {@link WireFormat#FLAG_FUA}, {@link WireFormat#FLAG_MAY_PUNCH}
 */
record ReplicationRequest(
        MessageType type,
        long requestId,
        UUID volume,
        Generation generation,
        long offset,
        long length,
        int flags,
        ByteBuf payload) {
    ReplicationRequest {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(volume, "volume");
        Objects.requireNonNull(generation, "generation");
        Objects.requireNonNull(payload, "payload");
    }

    static ReplicationRequest of(
            MessageType type, UUID volume, Generation generation, long offset, long length, int flags) {
        return new ReplicationRequest(
                type, 0, volume, generation, offset, length, flags, Unpooled.EMPTY_BUFFER);
    }

    ReplicationRequest withId(long id) {
        return new ReplicationRequest(type, id, volume, generation, offset, length, flags, payload);
    }

    boolean fua() {
        return (flags & WireFormat.FLAG_FUA) != 0;
    }

    boolean mayPunch() {
        return (flags & WireFormat.FLAG_MAY_PUNCH) != 0;
    }

    @Override
    public String toString() {
        return type + "#" + requestId + "(" + volume + " generation " + generation + " @" + offset + "+"
                + length + (fua() ? " fua" : "") + ")";
    }
}
