package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RangeLocksTest {
    private static final long MIB = 1 << 20;

    @Test
    void overlappingRangesNeverHoldTheLockTogether() throws Exception {
        RangeLocks locks = new RangeLocks();
        // One counter per 64 KiB of a 64 MiB space: inside the lock, a range's counters must be 0.
        long unit = 64 << 10;
        AtomicIntegerArray inside = new AtomicIntegerArray((int) (64 * MIB / unit));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<Integer>> results = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            int seed = t;
            results.add(pool.submit(() -> {
                Random random = new Random(seed);
                int violations = 0;
                for (int i = 0; i < 2000; i++) {
                    long offset = random.nextInt(60) * MIB + random.nextInt((int) MIB);
                    long length = 1 + random.nextInt((int) (3 * MIB));
                    int first = (int) (offset / unit);
                    int last = (int) ((offset + length - 1) / unit);
                    try (RangeLocks.Held held = locks.lock(offset, length)) {
                        for (int c = first; c <= last; c++) {
                            violations += inside.getAndIncrement(c) == 0 ? 0 : 1;
                        }
                        for (int c = first; c <= last; c++) {
                            inside.decrementAndGet(c);
                        }
                    }
                }
                return violations;
            }));
        }
        int violations = 0;
        for (Future<Integer> f : results) {
            violations += f.get(60, TimeUnit.SECONDS); // a deadlock fails here
        }
        pool.shutdown();
        assertThat(violations).isZero();
    }

    @Test
    void disjointChunksDoNotWaitForEachOther() throws Exception {
        RangeLocks locks = new RangeLocks();
        CountDownLatch bothInside = new CountDownLatch(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<Boolean>> r = new ArrayList<>();
        for (long offset : new long[] {0, 5 * MIB}) {
            r.add(pool.submit(() -> {
                try (RangeLocks.Held held = locks.lock(offset, MIB)) {
                    bothInside.countDown();
                    return bothInside.await(10, TimeUnit.SECONDS);
                }
            }));
        }
        for (Future<Boolean> f : r) {
            assertThat(f.get()).isTrue();
        }
        pool.shutdown();
    }

    @Test
    void aHugeRangeLocksEverythingAndReleasesIt() {
        RangeLocks locks = new RangeLocks();
        try (RangeLocks.Held held = locks.lock(0, 1L << 40)) {
            assertThat(held).isNotNull();
        }
        try (RangeLocks.Held held = locks.lock(7 * MIB, 1)) {
            assertThat(held).isNotNull();
        }
    }

    @Test
    void aChangeThatMustWaitHoldsNoThreadAndGetsTheRangeFromItsRelease() throws Exception {
        RangeLocks locks = new RangeLocks();
        RangeLocks.Held first = locks.lock(0, 2 * MIB);
        CompletableFuture<RangeLocks.Held> second = locks.lockAsync(MIB, MIB);
        CompletableFuture<RangeLocks.Held> third = locks.lockAsync(MIB + 4096, 4096);
        assertThat(second).isNotDone();
        assertThat(third).isNotDone();
        assertThat(locks.tryLock(MIB, 1)).isNull();

        AtomicReference<Thread> completedOn = new AtomicReference<>();
        second.thenRun(() -> completedOn.set(Thread.currentThread()));
        Thread releaser = new Thread(first::close, "releaser");
        releaser.start();
        releaser.join();
        assertThat(second).isDone();
        assertThat(completedOn.get()).isSameAs(releaser);
        assertThat(third).as("first come, first served").isNotDone();
        second.join().close();
        third.get(10, TimeUnit.SECONDS).close();
    }

    @Test
    void aFailedTryLockLeavesNothingHeld() {
        RangeLocks locks = new RangeLocks();
        try (RangeLocks.Held held = locks.lock(3 * MIB, 1)) {
            // Chunks 0..3: 0, 1 and 2 are taken before 3 is found held, then given back.
            assertThat(locks.tryLock(0, 4 * MIB)).isNull();
            try (RangeLocks.Held low = locks.tryLock(0, 3 * MIB)) {
                assertThat(low).isNotNull();
            }
        }
        try (RangeLocks.Held all = locks.tryLock(0, 4 * MIB)) {
            assertThat(all).isNotNull();
        }
    }
}
