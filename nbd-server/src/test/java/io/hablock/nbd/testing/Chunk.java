package io.hablock.nbd.testing;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** One structured reply chunk, with readers for the payload of each chunk type. */
public record Chunk(int flags, int type, long cookie, byte[] payload) implements ServerMessage {

    /** One (length, flags) pair of a BLOCK_STATUS chunk. */
    public record Extent(long length, int flags) {
    }

    public boolean isDone() {
        return (flags & Wire.REPLY_FLAG_DONE) != 0;
    }

    public boolean isError() {
        return (type & 0x8000) != 0;
    }

    public int error() {
        return buffer().getInt();
    }

    public String errorMessage() {
        int length = buffer().getShort(4) & 0xffff;
        return new String(payload, 6, length, StandardCharsets.UTF_8);
    }

    /** The offset of an OFFSET_DATA or OFFSET_HOLE chunk. */
    public long offset() {
        return buffer().getLong();
    }

    /** The bytes of an OFFSET_DATA chunk. */
    public byte[] data() {
        return Arrays.copyOfRange(payload, 8, payload.length);
    }

    /** The length an OFFSET_DATA or OFFSET_HOLE chunk covers. */
    public long contentLength() {
        return type == Wire.REPLY_TYPE_OFFSET_HOLE ? buffer().getInt(8) & 0xffffffffL : payload.length - 8;
    }

    public int contextId() {
        return buffer().getInt();
    }

    public List<Extent> extents() {
        ByteBuffer b = buffer();
        b.getInt();
        List<Extent> out = new ArrayList<>();
        while (b.hasRemaining()) {
            out.add(new Extent(b.getInt() & 0xffffffffL, b.getInt()));
        }
        return out;
    }

    private ByteBuffer buffer() {
        return ByteBuffer.wrap(payload);
    }

    @Override
    public String toString() {
        return String.format("Chunk[flags=%d, type=%d, cookie=%d, %d bytes%s]", flags, type, cookie, payload.length,
                isError() && payload.length >= 6 ? ": error " + error() + " " + errorMessage() : "");
    }
}
