package io.hablock.nbd.client;

import io.hablock.nbd.protocol.Nbd;
import java.io.IOException;

/**
 * The server refused an option during the handshake (an {@code NBD_REP_ERR_*} reply). The
 * message carries the server's own text, which for hablock names the node that serves a
 * volume asked for at the wrong node.
 */
public final class NbdOptionException extends IOException {
    private final int replyType;
    private final String serverMessage;

    NbdOptionException(String what, int replyType, String serverMessage) {
        super(what + ": " + replyName(replyType) + (serverMessage.isEmpty() ? "" : ": " + serverMessage));
        this.replyType = replyType;
        this.serverMessage = serverMessage;
    }

    /** The reply type, e.g. {@link Nbd#REP_ERR_UNKNOWN}. */
    public int replyType() {
        return replyType;
    }

    /** The spec's name of the reply type, e.g. {@code NBD_REP_ERR_UNKNOWN}. */
    public String replyName() {
        return replyName(replyType);
    }

    /** What the server said, possibly empty. */
    public String serverMessage() {
        return serverMessage;
    }

    static String replyName(int type) {
        return switch (type) {
            case Nbd.REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP";
            case Nbd.REP_ERR_POLICY -> "NBD_REP_ERR_POLICY";
            case Nbd.REP_ERR_INVALID -> "NBD_REP_ERR_INVALID";
            case Nbd.REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM";
            case Nbd.REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD";
            case Nbd.REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN";
            case Nbd.REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN";
            case Nbd.REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
            case Nbd.REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG";
            default -> String.format("NBD_REP_ERR_0x%08x", type);
        };
    }
}
