package io.hablock.cluster.metrics;

import com.codahale.metrics.Clock;
import com.codahale.metrics.Reservoir;
import com.codahale.metrics.Snapshot;
import com.codahale.metrics.UniformSnapshot;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The latest {@code capacity} samples no older than {@code window}, plus the exact sum of every
 * sample ever recorded (what a Prometheus summary's {@code _sum} needs, which Dropwizard
 * snapshots lack).
 *
 * <p>Written to on the I/O hot path, so an update takes no lock and allocates nothing: one
 * {@code getAndIncrement} picks a slot of a ring, the value and its time go in with ordered
 * stores. Dropwizard's default reservoir locks on every update and its lock-free variant
 * allocates a skip-list node per kept sample. A reader may see a slot's new time with its old
 * value; a quantile is a statistic, that is harmless.
 */
final class RecentSamplesReservoir implements Reservoir {

    private final Clock clock;
    private final long windowNanos;
    private final int mask;
    private final AtomicLongArray values;
    private final AtomicLongArray ticks;
    private final AtomicLong written = new AtomicLong();
    private final LongAdder sum = new LongAdder();

    /**
     * @param capacity ring size, a power of two
     * @param window how old a sample may be and still count in a snapshot
     * @param clock source of ticks, in nanoseconds
     */
    RecentSamplesReservoir(int capacity, Duration window, Clock clock) {
        if (capacity <= 0 || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two: " + capacity);
        }
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("window must be positive: " + window);
        }
        this.clock = clock;
        this.windowNanos = window.toNanos();
        this.mask = capacity - 1;
        this.values = new AtomicLongArray(capacity);
        this.ticks = new AtomicLongArray(capacity);
    }

    /** Samples a snapshot may hold at most. */
    @Override
    public int size() {
        return (int) Math.min(written.get(), values.length());
    }

    @Override
    public void update(long value) {
        long now = clock.getTick();
        int slot = (int) (written.getAndIncrement() & mask);
        values.setRelease(slot, value);
        ticks.setRelease(slot, now);
        sum.add(value);
    }

    /** The sum of every value recorded so far, including those out of the window. */
    long sum() {
        return sum.sum();
    }

    @Override
    public Snapshot getSnapshot() {
        long now = clock.getTick();
        int filled = size();
        long[] recent = new long[filled];
        int n = 0;
        for (int slot = 0; slot < filled; slot++) {
            if (now - ticks.getAcquire(slot) <= windowNanos) {
                recent[n++] = values.getAcquire(slot);
            }
        }
        return new UniformSnapshot(Arrays.copyOf(recent, n));
    }
}
