package io.hablock.nbd.protocol;

import io.netty.buffer.ByteBuf;

/**
 * A piece of the payload of a WRITE too long to be handed on whole (see
 * {@link NbdRequest#payloadFollows()}): the pieces come right after their request, in order,
 * {@code last} on the final one. {@code data} is a retained slice of the inbound bytes; the
 * consumer releases it.
 */
public record NbdWritePiece(ByteBuf data, boolean last) {

    public void release() {
        data.release();
    }
}
