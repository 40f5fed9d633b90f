package io.hablock.cluster.metrics;

import com.codahale.metrics.Clock;
import com.codahale.metrics.Timer;
import java.time.Duration;

/**
 * A Dropwizard {@link Timer} over a {@link RecentSamplesReservoir}: lock-free and
 * allocation-free to update, quantiles over the last minute, and an exact total of recorded
 * time for the exporter's {@code _sum}.
 */
final class LatencyTimer extends Timer {

    /** Enough samples for a stable p99.9 without much memory (16 KiB per timer). */
    static final int SAMPLES = 1024;
    /** About one scrape interval or four: quantiles describe now, not the last hour. */
    static final Duration WINDOW = Duration.ofMinutes(1);

    private final RecentSamplesReservoir reservoir;

    LatencyTimer(Clock clock) {
        this(new RecentSamplesReservoir(SAMPLES, WINDOW, clock), clock);
    }

    private LatencyTimer(RecentSamplesReservoir reservoir, Clock clock) {
        super(reservoir, clock);
        this.reservoir = reservoir;
    }

    /** Total of every recorded duration, in nanoseconds. */
    long sumNanos() {
        return reservoir.sum();
    }
}
