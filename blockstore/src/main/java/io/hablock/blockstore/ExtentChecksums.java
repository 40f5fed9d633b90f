package io.hablock.blockstore;

import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * XXHash64 of each chunk of a volume, by content: a chunk that is a hole hashes like the same
 * chunk full of written zeros, so copies that differ only in allocation compare equal. Holes are
 * never read: the extent map says where they are.
 */
final class ExtentChecksums {
    /** The largest chunk: one buffer of this size is held while hashing. */
    static final long MAX_CHUNK = 64L << 20;

    private static final long SEED = 0;
    private static final XXHash64 HASH = XXHashFactory.fastestInstance().hash64();

    private ExtentChecksums() {}

    static long[] compute(VolumeFile file, long chunkSize) throws IOException {
        if (chunkSize <= 0 || chunkSize > MAX_CHUNK) {
            throw new IllegalArgumentException(
                    "chunk size " + chunkSize + " is not in 1.." + MAX_CHUNK);
        }
        long size = file.size();
        long count = (size + chunkSize - 1) / chunkSize;
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(
                    "chunk size " + chunkSize + " gives too many chunks for " + size + " bytes");
        }
        long[] out = new long[(int) count];
        List<Extent> extents = file.extents(0, size);
        byte[] buf = new byte[(int) Math.min(chunkSize, size)];
        Map<Integer, Long> zeroHashes = new HashMap<>(); // at most two lengths: full and last
        int next = 0; // first extent that may overlap the current chunk
        for (int i = 0; i < out.length; i++) {
            long start = i * chunkSize;
            long end = Math.min(start + chunkSize, size);
            int len = (int) (end - start);
            while (extents.get(next).end() <= start) {
                next++;
            }
            boolean data = false;
            for (int e = next; e < extents.size() && extents.get(e).offset() < end; e++) {
                data |= !extents.get(e).hole();
            }
            if (!data) {
                out[i] = zeroHashes.computeIfAbsent(len, n -> hashOfZeros(buf, n));
                continue;
            }
            for (int e = next; e < extents.size() && extents.get(e).offset() < end; e++) {
                Extent x = extents.get(e);
                long from = Math.max(x.offset(), start);
                long to = Math.min(x.end(), end);
                int at = (int) (from - start);
                int n = (int) (to - from);
                if (x.hole()) {
                    Arrays.fill(buf, at, at + n, (byte) 0);
                } else {
                    file.read(ByteBuffer.wrap(buf, at, n), from);
                }
            }
            out[i] = HASH.hash(buf, 0, len, SEED);
        }
        return out;
    }

    private static long hashOfZeros(byte[] buf, int length) {
        Arrays.fill(buf, 0, length, (byte) 0);
        return HASH.hash(buf, 0, length, SEED);
    }
}
