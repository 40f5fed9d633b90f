package io.hablock.nbd.testing;

/**
 * A simple reply; {@code data} holds the payload of a successful READ (empty otherwise).
 */
public record SimpleReply(int error, long cookie, byte[] data) implements ServerMessage {

    @Override
    public String toString() {
        return "SimpleReply[error=" + error + ", cookie=" + cookie + ", " + data.length + " bytes]";
    }
}
