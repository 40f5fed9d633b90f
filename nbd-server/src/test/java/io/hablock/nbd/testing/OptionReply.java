package io.hablock.nbd.testing;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** One option reply as it came off the wire: the option it answers, its type and its data. */
public record OptionReply(int option, int type, byte[] data) {

    public boolean isError() {
        return (type & 0x80000000) != 0;
    }

    /** Ends the replies to one option: an ACK or an error. */
    public boolean isFinal() {
        return type == Wire.REP_ACK || isError();
    }

    /** The data read as text: the message of an error. */
    public String text() {
        return new String(data, StandardCharsets.UTF_8);
    }

    /** The information type of an NBD_REP_INFO. */
    public int infoType() {
        return ByteBuffer.wrap(data).getShort() & 0xffff;
    }

    /** The text of NBD_INFO_NAME or NBD_INFO_DESCRIPTION. */
    public String infoText() {
        return new String(data, 2, data.length - 2, StandardCharsets.UTF_8);
    }

    /** The context id of an NBD_REP_META_CONTEXT. */
    public int contextId() {
        return ByteBuffer.wrap(data).getInt();
    }

    /** The context name of an NBD_REP_META_CONTEXT. */
    public String contextName() {
        return new String(data, 4, data.length - 4, StandardCharsets.UTF_8);
    }

    /** The export name of an NBD_REP_SERVER. */
    public String serverName() {
        int length = ByteBuffer.wrap(data).getInt();
        return new String(data, 4, length, StandardCharsets.UTF_8);
    }

    /** What follows the name in an NBD_REP_SERVER. */
    public String serverDescription() {
        int length = ByteBuffer.wrap(data).getInt();
        return new String(data, 4 + length, data.length - 4 - length, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return String.format("OptionReply[option=%d, type=0x%08x, %d bytes%s]", option, type, data.length,
                isError() ? ": " + text() : "");
    }
}
