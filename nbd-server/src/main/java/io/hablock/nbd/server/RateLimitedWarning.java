package io.hablock.nbd.server;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * One kind of warning logged at most once per interval, with the number of times it was left
 * out since: a flood of refused connections must not become a flood of log lines.
 */
final class RateLimitedWarning {
    private final Logger log;
    private final long intervalNanos;
    private final AtomicLong nextAt = new AtomicLong(System.nanoTime());
    private final AtomicLong suppressed = new AtomicLong();

    RateLimitedWarning(Logger log, java.time.Duration interval) {
        this.log = log;
        this.intervalNanos = interval.toNanos();
    }

    /** Logs {@code message} now, or counts it for the next line if one was logged within the interval. */
    void warn(String message) {
        long now = System.nanoTime();
        long next = nextAt.get();
        if (now - next < 0 || !nextAt.compareAndSet(next, now + intervalNanos)) {
            suppressed.incrementAndGet();
            return;
        }
        long left = suppressed.getAndSet(0);
        if (left == 0) {
            log.warn(message);
        } else {
            log.warn("{} (and {} more like it since the last such line)", message, left);
        }
    }
}
