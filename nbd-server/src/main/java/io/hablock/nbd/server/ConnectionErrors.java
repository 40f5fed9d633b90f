package io.hablock.nbd.server;

import io.hablock.nbd.protocol.NbdProtocolException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Ends one connection with one log line; the rest of the server carries on. */
final class ConnectionErrors {
    private static final Logger log = LoggerFactory.getLogger("io.hablock.nbd.connection");

    private ConnectionErrors() {
    }

    static void close(ChannelHandlerContext ctx, String reason) {
        // Reasons may quote what the client sent: one line each, whatever it sent.
        log.warn("closing NBD connection from {}: {}", ctx.channel().remoteAddress(), LogText.oneLine(reason));
        ctx.close();
    }

    static void closeOnException(ChannelHandlerContext ctx, Throwable cause) {
        Throwable root = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (root instanceof NbdProtocolException) {
            close(ctx, "protocol violation: " + root.getMessage());
        } else if (root instanceof IOException) {
            // Resets and broken pipes are the client's business; not worth a warning.
            log.debug("NBD connection from {} failed: {}", ctx.channel().remoteAddress(), root.toString());
            ctx.close();
        } else {
            log.warn("closing NBD connection from {} after an unexpected error", ctx.channel().remoteAddress(), root);
            ctx.close();
        }
    }
}
