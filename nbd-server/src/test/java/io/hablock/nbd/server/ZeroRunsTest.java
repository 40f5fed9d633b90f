package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class ZeroRunsTest {
    private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;

    /** A decoded chunk: type, offset, and the bytes it stands for. */
    private record Chunk(int type, boolean done, long offset, byte[] bytes) {
    }

    @Property(tries = 300)
    void chunksTileTheRangeAndCarryTheData(@ForAll @LongRange(min = 0, max = 1L << 40) long offset,
                                           @ForAll @IntRange(min = 1, max = 64 * 1024) int length,
                                           @ForAll @Size(max = 12) List<@IntRange(min = 0, max = 64 * 1024) Integer> dataAt) {
        byte[] content = new byte[length];
        for (int at : dataAt) {
            if (at < length) {
                content[at] = (byte) (at % 251 + 1);
            }
        }
        List<Chunk> chunks = decode(ZeroRuns.chunks(ALLOC, 7, offset, ALLOC.directBuffer(length).writeBytes(content)));

        long expected = offset;
        byte[] rebuilt = new byte[length];
        for (int i = 0; i < chunks.size(); i++) {
            Chunk c = chunks.get(i);
            assertThat(c.offset()).as("chunks are in order and contiguous").isEqualTo(expected);
            assertThat(c.done()).as("only the last chunk is DONE").isEqualTo(i == chunks.size() - 1);
            assertThat(c.bytes().length).isPositive();
            System.arraycopy(c.bytes(), 0, rebuilt, (int) (c.offset() - offset), c.bytes().length);
            if (i > 0) {
                assertThat(c.type()).as("adjacent chunks differ in kind").isNotEqualTo(chunks.get(i - 1).type());
            }
            expected += c.bytes().length;
        }
        assertThat(expected).isEqualTo(offset + length);
        assertThat(rebuilt).isEqualTo(content);
    }

    @Test
    void allZerosIsOneHoleAndAllDataIsOneDataChunk() {
        List<Chunk> hole = decode(ZeroRuns.chunks(ALLOC, 1, 4096, ALLOC.directBuffer(8192).writeZero(8192)));
        assertThat(hole).singleElement().satisfies(c -> {
            assertThat(c.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_HOLE);
            assertThat(c.bytes()).hasSize(8192);
        });
        byte[] ones = new byte[8192];
        java.util.Arrays.fill(ones, (byte) 1);
        List<Chunk> data = decode(ZeroRuns.chunks(ALLOC, 1, 4096, ALLOC.directBuffer(8192).writeBytes(ones)));
        assertThat(data).singleElement().satisfies(c -> assertThat(c.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA));
    }

    @Test
    void zeroRunsAreAlignedToTheExportNotToTheRequest() {
        // A read starting 512 bytes before a 4 KiB boundary: the first 512 bytes are a granule of their own.
        byte[] content = new byte[512 + 4096];
        content[0] = 9;
        List<Chunk> chunks = decode(ZeroRuns.chunks(ALLOC, 1, 4096 - 512, ALLOC.directBuffer().writeBytes(content)));
        assertThat(chunks).extracting(Chunk::type)
                .containsExactly(Nbd.REPLY_TYPE_OFFSET_DATA, Nbd.REPLY_TYPE_OFFSET_HOLE);
        assertThat(chunks.get(1).offset()).isEqualTo(4096);
    }

    /** Parses the encoded chunks back (header + payload buffers) and releases them. */
    private static List<Chunk> decode(List<Object> messages) {
        List<Chunk> chunks = new ArrayList<>();
        try {
            for (int i = 0; i < messages.size(); i++) {
                ByteBuf h = (ByteBuf) messages.get(i);
                assertThat(h.readInt()).isEqualTo(Nbd.STRUCTURED_REPLY_MAGIC);
                boolean done = (h.readUnsignedShort() & Nbd.REPLY_FLAG_DONE) != 0;
                int type = h.readUnsignedShort();
                h.readLong();
                int length = h.readInt();
                long offset = h.readLong();
                if (type == Nbd.REPLY_TYPE_OFFSET_HOLE) {
                    chunks.add(new Chunk(type, done, offset, new byte[h.readInt()]));
                } else {
                    ByteBuf data = (ByteBuf) messages.get(++i);
                    assertThat(data.readableBytes()).isEqualTo(length - 8);
                    byte[] bytes = new byte[data.readableBytes()];
                    data.getBytes(data.readerIndex(), bytes);
                    chunks.add(new Chunk(type, done, offset, bytes));
                }
            }
        } finally {
            messages.forEach(ReferenceCountUtil::release);
        }
        return chunks;
    }
}
