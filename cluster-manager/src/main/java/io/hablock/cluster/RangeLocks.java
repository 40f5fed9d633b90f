package io.hablock.cluster;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * Serializes changes to overlapping byte ranges of one volume, so that the owner and every copy
 * apply them in the same order: two overlapping writes in flight could otherwise land in one
 * order locally and in the other on a copy, and the copies would differ. Ranges map to 64 KiB
 * chunks, chunks to a fixed set of stripes; a change locks the stripes of its chunks in
 * ascending order (no deadlock). Changes to different chunks rarely share a stripe and mostly
 * run in parallel.
 *
 * <p>No thread waits for a stripe: a change that finds one held queues a continuation behind it
 * (first come, first served) and the holder's release runs it, on the releasing thread. A held
 * range belongs to the change, not to a thread: any thread may release it.
 */
final class RangeLocks {
    // 64 KiB chunks on 4096 stripes: 32 random 4 KiB writes in flight rarely share a stripe
    // (under 1 %), and a 2 MiB write takes 32 stripes.
    private static final int CHUNK_SHIFT = 16;
    private static final int STRIPES = 4096;

    /** One stripe: held or not, and who waits for it. Guarded by itself. */
    private static final class Stripe {
        private boolean held;
        private ArrayDeque<Runnable> waiting; // made when first needed: most stripes never wait
    }

    private final Stripe[] stripes = new Stripe[STRIPES];

    RangeLocks() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new Stripe();
        }
    }

    /** A held set of stripes; {@link #close()} releases them, once, from any thread. */
    final class Held implements AutoCloseable {
        private final int[] locked; // ascending

        private Held(int[] locked) {
            this.locked = locked;
        }

        @Override
        public void close() {
            // Descending: a waiter handed a stripe goes on to higher ones, already free.
            for (int i = locked.length - 1; i >= 0; i--) {
                release(stripes[locked[i]]);
            }
        }
    }

    /**
     * Locks {@code [offset, offset + length)}: the future completes once no overlapping change
     * holds it any more, possibly at once (on this thread), else on the thread that releases the
     * last stripe it waited for. Dependent stages must not block.
     */
    CompletableFuture<Held> lockAsync(long offset, long length) {
        CompletableFuture<Held> locked = new CompletableFuture<>();
        int[] wanted = stripesOf(offset, length);
        acquire(wanted, 0, locked);
        return locked;
    }

    /** Locks {@code [offset, offset + length)}; blocks while an overlapping change holds it. */
    Held lock(long offset, long length) {
        return lockAsync(offset, length).join();
    }

    /** Locks {@code [offset, offset + length)} if no overlapping change holds it; null otherwise. */
    Held tryLock(long offset, long length) {
        int[] wanted = stripesOf(offset, length);
        for (int i = 0; i < wanted.length; i++) {
            Stripe s = stripes[wanted[i]];
            synchronized (s) {
                if (!s.held) {
                    s.held = true;
                    continue;
                }
            }
            for (int j = i - 1; j >= 0; j--) {
                release(stripes[wanted[j]]);
            }
            return null;
        }
        return new Held(wanted);
    }

    private void acquire(int[] wanted, int from, CompletableFuture<Held> locked) {
        for (int i = from; i < wanted.length; i++) {
            Stripe s = stripes[wanted[i]];
            int next = i + 1;
            synchronized (s) {
                if (s.held) {
                    if (s.waiting == null) {
                        s.waiting = new ArrayDeque<>(2);
                    }
                    s.waiting.add(() -> acquire(wanted, next, locked)); // handed the stripe, held
                    return;
                }
                s.held = true;
            }
        }
        locked.complete(new Held(wanted));
    }

    private static void release(Stripe s) {
        Runnable next;
        synchronized (s) {
            next = s.waiting == null ? null : s.waiting.poll();
            if (next == null) {
                s.held = false;
            }
        }
        if (next != null) {
            next.run(); // the stripe passes to it without ever being free
        }
    }

    private static int[] stripesOf(long offset, long length) {
        long first = offset >>> CHUNK_SHIFT;
        long last = (offset + Math.max(length, 1) - 1) >>> CHUNK_SHIFT;
        if (last - first + 1 >= STRIPES) {
            int[] all = new int[STRIPES];
            Arrays.setAll(all, i -> i);
            return all;
        }
        // Most changes touch one or two chunks: their stripes, in ascending order (no deadlock).
        int[] wanted = new int[(int) (last - first + 1)];
        for (long c = first; c <= last; c++) {
            wanted[(int) (c - first)] = (int) (c % STRIPES);
        }
        Arrays.sort(wanted);
        return wanted;
    }
}
