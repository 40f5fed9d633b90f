package io.hablock.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Encoders for transmission-phase replies. Data is never copied: a READ reply is a small
 * header buffer followed by the data buffer itself, written as two messages.
 */
public final class TransmissionReplies {
    private TransmissionReplies() {
    }

    public static final int SIMPLE_HEADER = 16;
    public static final int CHUNK_HEADER = 20;

    /** A simple reply header; READ data, if any, follows as its own buffer. */
    public static ByteBuf simple(ByteBufAllocator alloc, long cookie, int error) {
        return alloc.buffer(SIMPLE_HEADER).writeInt(Nbd.SIMPLE_REPLY_MAGIC).writeInt(error).writeLong(cookie);
    }

    /** NBD_REPLY_TYPE_NONE, always the last chunk. */
    public static ByteBuf done(ByteBufAllocator alloc, long cookie) {
        return chunkHeader(alloc, CHUNK_HEADER, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, 0);
    }

    /** The header of an OFFSET_DATA chunk; {@code dataLength} bytes of data follow as their own buffer. */
    public static ByteBuf offsetDataHeader(ByteBufAllocator alloc, long cookie, boolean last, long offset, int dataLength) {
        return chunkHeader(alloc, CHUNK_HEADER + 8, last ? Nbd.REPLY_FLAG_DONE : 0, Nbd.REPLY_TYPE_OFFSET_DATA,
                cookie, 8 + dataLength).writeLong(offset);
    }

    /** An OFFSET_HOLE chunk. */
    public static ByteBuf offsetHole(ByteBufAllocator alloc, long cookie, boolean last, long offset, int length) {
        return chunkHeader(alloc, CHUNK_HEADER + 12, last ? Nbd.REPLY_FLAG_DONE : 0, Nbd.REPLY_TYPE_OFFSET_HOLE,
                cookie, 12).writeLong(offset).writeInt(length);
    }

    /** An ERROR chunk, which ends the reply. */
    public static ByteBuf error(ByteBufAllocator alloc, long cookie, int error, String message) {
        byte[] text = Nbd.utf8(message, Nbd.MAX_STRING);
        int len = text.length;
        return chunkHeader(alloc, CHUNK_HEADER + 6 + len, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, cookie, 6 + len)
                .writeInt(error).writeShort(len).writeBytes(text, 0, len);
    }

    /**
     * A BLOCK_STATUS chunk for one metadata context: {@code count} descriptors of
     * (length, flags), taken from the two arrays.
     */
    public static ByteBuf blockStatus(ByteBufAllocator alloc, long cookie, boolean last, int contextId,
                                      long[] lengths, int[] flags, int count) {
        int payload = 4 + 8 * count;
        ByteBuf buf = chunkHeader(alloc, CHUNK_HEADER + payload, last ? Nbd.REPLY_FLAG_DONE : 0,
                Nbd.REPLY_TYPE_BLOCK_STATUS, cookie, payload).writeInt(contextId);
        for (int i = 0; i < count; i++) {
            buf.writeInt((int) lengths[i]).writeInt(flags[i]);
        }
        return buf;
    }

    private static ByteBuf chunkHeader(ByteBufAllocator alloc, int capacity, int flags, int type, long cookie, int length) {
        return alloc.buffer(capacity).writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(flags).writeShort(type)
                .writeLong(cookie).writeInt(length);
    }
}
