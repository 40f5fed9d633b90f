package io.hablock.nbd.protocol;

import io.netty.buffer.ByteBuf;

/**
 * One option of the handshake phase, as the client sent it. {@code data} is a retained
 * slice of the inbound buffer; whoever consumes the option releases it.
 */
public record NbdOption(int code, ByteBuf data) {
    public void release() {
        data.release();
    }
}
