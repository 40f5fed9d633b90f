package io.hablock.nbd.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Comparator;
import java.util.List;

/**
 * A whole reply to one request: a simple reply ({@code chunks} empty) or every chunk of a
 * structured one, up to the one marked DONE. {@code data} is what a READ returned: the simple
 * reply's payload, or the content chunks put back together (holes as zeros).
 */
public record Reply(long cookie, int error, byte[] data, boolean structured, List<Chunk> chunks) {

    public static Reply simple(SimpleReply r) {
        return new Reply(r.cookie(), r.error(), r.data(), false, List.of());
    }

    /**
     * A structured reply to a request for {@code [offset, offset + length)}. When it succeeded,
     * its content chunks must tile that range exactly: none outside, none overlapping, no gap.
     */
    public static Reply structured(long cookie, List<Chunk> chunks, long offset, int length) {
        assertThat(chunks).as("chunks of reply %d", cookie).isNotEmpty();
        assertThat(chunks.get(chunks.size() - 1).isDone()).as("last chunk is DONE").isTrue();
        assertThat(chunks.subList(0, chunks.size() - 1)).as("only the last chunk is DONE")
                .noneMatch(Chunk::isDone);
        int error = chunks.stream().filter(Chunk::isError).mapToInt(Chunk::error).findFirst().orElse(0);
        byte[] data = new byte[0];
        boolean content = chunks.stream().anyMatch(Reply::isContent);
        if (error == 0 && content) {
            data = assemble(chunks, offset, length);
        }
        return new Reply(cookie, error, data, true, chunks);
    }

    private static boolean isContent(Chunk c) {
        return c.type() == Wire.REPLY_TYPE_OFFSET_DATA || c.type() == Wire.REPLY_TYPE_OFFSET_HOLE;
    }

    private static byte[] assemble(List<Chunk> chunks, long offset, int length) {
        byte[] out = new byte[length];
        List<Chunk> content = chunks.stream().filter(Reply::isContent)
                .sorted(Comparator.comparingLong(Chunk::offset)).toList();
        long next = offset;
        for (Chunk c : content) {
            assertThat(c.offset()).as("content chunks tile the request (gap or overlap at %d)", next).isEqualTo(next);
            assertThat(c.contentLength()).as("content chunk length").isPositive();
            next = c.offset() + c.contentLength();
            assertThat(next).as("content chunk ends inside the request").isLessThanOrEqualTo(offset + length);
            if (c.type() == Wire.REPLY_TYPE_OFFSET_DATA) {
                System.arraycopy(c.data(), 0, out, (int) (c.offset() - offset), (int) c.contentLength());
            }
        }
        assertThat(next).as("content chunks cover the whole request").isEqualTo(offset + length);
        return out;
    }
}
