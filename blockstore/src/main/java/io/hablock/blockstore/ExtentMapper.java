package io.hablock.blockstore;

import io.hablock.nativeio.NativeIOException;
import io.hablock.nativeio.PosixFs;

import java.util.ArrayList;
import java.util.List;

/** Builds a data/hole map of a file range from lseek SEEK_DATA / SEEK_HOLE. */
final class ExtentMapper {
    private ExtentMapper() {}

    /**
     * Extents covering exactly {@code [offset, end)}, contiguous, adjacent ones of the same kind
     * merged. The file must be at least {@code end} bytes long.
     */
    static List<Extent> map(PosixFs fs, int fd, long offset, long end) throws NativeIOException {
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        while (pos < end) {
            long data = fs.seekData(fd, pos);
            if (data < 0 || data >= end) {
                append(out, pos, end, true);
                break;
            }
            if (data > pos) {
                append(out, pos, data, true);
            }
            long hole = fs.seekHole(fd, data);
            if (hole <= data) {
                // The range changed under us (a concurrent punch): look again from here.
                pos = data;
                continue;
            }
            long dataEnd = Math.min(hole, end);
            append(out, data, dataEnd, false);
            pos = dataEnd;
        }
        return out;
    }

    /** Bytes in data extents of {@code [0, size)}. */
    static long dataBytes(PosixFs fs, int fd, long size) throws NativeIOException {
        long sum = 0;
        for (Extent e : map(fs, fd, 0, size)) {
            if (!e.hole()) {
                sum += e.length();
            }
        }
        return sum;
    }

    private static void append(List<Extent> out, long start, long end, boolean hole) {
        int last = out.size() - 1;
        if (last >= 0 && out.get(last).hole() == hole && out.get(last).end() == start) {
            Extent prev = out.get(last);
            out.set(last, new Extent(prev.offset(), end - prev.offset(), hole));
        } else {
            out.add(new Extent(start, end - start, hole));
        }
    }
}
