package io.hablock.cluster;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Serializes changes to overlapping byte ranges of one volume, so that the owner and every copy
 * apply them in the same order: two overlapping writes in flight could otherwise land in one
 * order locally and in the other on a copy, and the copies would differ. Ranges map to 1 MiB
 * chunks, chunks to a fixed set of stripes; a change locks the stripes of its chunks in
 * ascending order (no deadlock). Changes to different chunks rarely share a stripe and mostly
 * run in parallel.
 */
final class RangeLocks {
    private static final int CHUNK_SHIFT = 20;
    private static final int STRIPES = 512;

    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];

    RangeLocks() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    /** A held set of stripes; {@link #close()} releases them. */
    final class Held implements AutoCloseable {
        private final int[] locked; // ascending

        private Held(int[] locked) {
            this.locked = locked;
        }

        @Override
        public void close() {
            for (int i = locked.length - 1; i >= 0; i--) {
                stripes[locked[i]].unlock();
            }
        }
    }

    /** Locks {@code [offset, offset + length)}; blocks while an overlapping change holds it. */
    Held lock(long offset, long length) {
        long first = offset >>> CHUNK_SHIFT;
        long last = (offset + Math.max(length, 1) - 1) >>> CHUNK_SHIFT;
        int[] wanted;
        if (last - first + 1 >= STRIPES) {
            wanted = new int[STRIPES];
            for (int i = 0; i < STRIPES; i++) {
                wanted[i] = i;
            }
        } else {
            // Most changes touch one or two chunks: their stripes, in ascending order (no deadlock).
            wanted = new int[(int) (last - first + 1)];
            for (long c = first; c <= last; c++) {
                wanted[(int) (c - first)] = (int) (c % STRIPES);
            }
            java.util.Arrays.sort(wanted);
        }
        for (int i : wanted) {
            stripes[i].lock();
        }
        return new Held(wanted);
    }
}
