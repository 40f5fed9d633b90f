package io.hablock.nbd.server;

import io.hablock.nbd.protocol.TransmissionReplies;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits the data of a structured READ reply into OFFSET_DATA chunks and OFFSET_HOLE chunks
 * for the runs of zeros it contains, so zeros never cross the wire.
 *
 * <p>Zeros are found in the data itself rather than through the file's allocation map: SEEK_HOLE
 * can cost milliseconds per call on some filesystems (tmpfs scans page by page), and a zero run
 * is a hole to the client whether or not the disk allocated it. Data that is not zero is
 * recognised at its first non-zero byte, so the scan costs almost nothing on real data.
 */
final class ZeroRuns {
    /** Granularity of the scan: runs of whole, aligned granules become holes. */
    static final int GRANULE = 4096;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(GRANULE).asReadOnlyBuffer();

    private ZeroRuns() {
    }

    /**
     * The reply chunks for {@code data} read at {@code offset}, the last one flagged DONE.
     * Takes ownership of {@code data}.
     */
    static List<Object> chunks(ByteBufAllocator alloc, long cookie, long offset, ByteBuf data) {
        int length = data.readableBytes();
        ByteBuffer view = data.nioBuffer(0, length);
        // Chunk boundaries: granules aligned to the export, so the first and last may be partial.
        List<Object> out = null;
        int runStart = 0;
        boolean runZero = false;
        int pos = 0;
        while (pos < length) {
            int next = (int) Math.min(length, GRANULE - ((offset + pos) % GRANULE) + pos);
            boolean zero = isZero(data, view, pos, next);
            if (pos == 0) {
                runZero = zero;
            } else if (zero != runZero) {
                if (out == null) {
                    out = new ArrayList<>();
                }
                add(out, alloc, cookie, offset, data, runStart, pos, runZero, false);
                runStart = pos;
                runZero = zero;
            }
            pos = next;
        }
        if (out == null) {
            // The common case: one run, all data or all zeros.
            if (runZero) {
                data.release();
                return List.of(TransmissionReplies.offsetHole(alloc, cookie, true, offset, length));
            }
            return List.of(TransmissionReplies.offsetDataHeader(alloc, cookie, true, offset, length), data);
        }
        add(out, alloc, cookie, offset, data, runStart, length, runZero, true);
        data.release();
        return out;
    }

    private static void add(List<Object> out, ByteBufAllocator alloc, long cookie, long offset, ByteBuf data,
                            int from, int to, boolean zero, boolean last) {
        if (zero) {
            out.add(TransmissionReplies.offsetHole(alloc, cookie, last, offset + from, to - from));
        } else {
            out.add(TransmissionReplies.offsetDataHeader(alloc, cookie, last, offset + from, to - from));
            out.add(data.retainedSlice(from, to - from));
        }
    }

    private static boolean isZero(ByteBuf data, ByteBuffer view, int from, int to) {
        if (to - from >= Long.BYTES && data.getLong(from) != 0) {
            return false; // most data is told apart here, without a full compare
        }
        ByteBuffer part = view.duplicate().limit(to).position(from);
        ByteBuffer zeros = ZEROS.duplicate().limit(to - from);
        return part.mismatch(zeros) < 0;
    }
}
