package io.hablock.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/** Encoders for the server's side of the handshake. */
public final class OptionReplies {
    private OptionReplies() {
    }

    /** The server's greeting: NBDMAGIC, IHAVEOPT and the handshake flags. */
    public static ByteBuf greeting(ByteBufAllocator alloc, int handshakeFlags) {
        return alloc.buffer(18).writeLong(Nbd.NBDMAGIC).writeLong(Nbd.IHAVEOPT).writeShort(handshakeFlags);
    }

    /** An option reply with no data (ACK, or an error without a message). */
    public static ByteBuf reply(ByteBufAllocator alloc, int option, int type) {
        return header(alloc, option, type, 0);
    }

    /** An error reply with a human-readable message. */
    public static ByteBuf error(ByteBufAllocator alloc, int option, int type, String message) {
        byte[] text = truncate(message);
        ByteBuf buf = header(alloc, option, type, text.length);
        return buf.writeBytes(text);
    }

    /** NBD_REP_SERVER for NBD_OPT_LIST. */
    public static ByteBuf server(ByteBufAllocator alloc, int option, String name, String description) {
        byte[] n = truncate(name);
        byte[] d = truncate(description);
        ByteBuf buf = header(alloc, option, Nbd.REP_SERVER, 4 + n.length + d.length);
        return buf.writeInt(n.length).writeBytes(n).writeBytes(d);
    }

    /** NBD_REP_INFO with NBD_INFO_EXPORT. */
    public static ByteBuf infoExport(ByteBufAllocator alloc, int option, long size, int transmissionFlags) {
        return header(alloc, option, Nbd.REP_INFO, 12)
                .writeShort(Nbd.INFO_EXPORT).writeLong(size).writeShort(transmissionFlags);
    }

    /** NBD_REP_INFO with NBD_INFO_NAME or NBD_INFO_DESCRIPTION. */
    public static ByteBuf infoText(ByteBufAllocator alloc, int option, int infoType, String text) {
        byte[] t = truncate(text);
        return header(alloc, option, Nbd.REP_INFO, 2 + t.length).writeShort(infoType).writeBytes(t);
    }

    /** NBD_REP_INFO with NBD_INFO_BLOCK_SIZE. */
    public static ByteBuf infoBlockSize(ByteBufAllocator alloc, int option, int min, int preferred, int max) {
        return header(alloc, option, Nbd.REP_INFO, 14)
                .writeShort(Nbd.INFO_BLOCK_SIZE).writeInt(min).writeInt(preferred).writeInt(max);
    }

    /** NBD_REP_META_CONTEXT. */
    public static ByteBuf metaContext(ByteBufAllocator alloc, int option, int contextId, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return header(alloc, option, Nbd.REP_META_CONTEXT, 4 + n.length).writeInt(contextId).writeBytes(n);
    }

    /** The reply to NBD_OPT_EXPORT_NAME: size, flags and, without NO_ZEROES, 124 zero bytes. */
    public static ByteBuf exportNameReply(ByteBufAllocator alloc, long size, int transmissionFlags, boolean zeroes) {
        ByteBuf buf = alloc.buffer(zeroes ? 134 : 10).writeLong(size).writeShort(transmissionFlags);
        return zeroes ? buf.writeZero(124) : buf;
    }

    private static ByteBuf header(ByteBufAllocator alloc, int option, int type, int length) {
        return alloc.buffer(20 + length).writeLong(Nbd.OPTION_REPLY_MAGIC).writeInt(option).writeInt(type).writeInt(length);
    }

    private static byte[] truncate(String s) {
        return Nbd.utf8(s, Nbd.MAX_STRING);
    }
}
