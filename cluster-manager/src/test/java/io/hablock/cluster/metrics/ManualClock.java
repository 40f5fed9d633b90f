package io.hablock.cluster.metrics;

import com.codahale.metrics.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A clock that moves only when told to. */
final class ManualClock extends Clock {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

    @Override
    public long getTick() {
        return nanos.get();
    }

    void advance(Duration by) {
        nanos.addAndGet(by.toNanos());
    }
}
