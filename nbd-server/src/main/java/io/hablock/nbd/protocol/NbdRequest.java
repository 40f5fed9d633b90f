package io.hablock.nbd.protocol;

import io.netty.buffer.ByteBuf;

/**
 * One transmission-phase request. {@code length} is the unsigned 32-bit length widened to a long.
 * {@code payload} is the WRITE data as a retained slice of the inbound buffer (no copy), or
 * {@code null} for every other command and for a WRITE whose payload follows in
 * {@link NbdWritePiece}s; the consumer releases it.
 */
public record NbdRequest(int flags, int type, long cookie, long offset, long length, ByteBuf payload) {

    public boolean hasFlag(int flag) {
        return (flags & flag) != 0;
    }

    /** A WRITE too long to be handed on whole: its payload follows as {@link NbdWritePiece}s. */
    public boolean payloadFollows() {
        return type == Nbd.CMD_WRITE && payload == null;
    }

    public void release() {
        if (payload != null) {
            payload.release();
        }
    }

    /** The end of the requested range, or -1 if offset + length overflows. */
    public long end() {
        long end = offset + length;
        return (offset < 0 || end < offset) ? -1 : end;
    }
}
