package io.hablock.cluster.metrics;

import com.codahale.metrics.Clock;
import com.codahale.metrics.Counter;
import com.codahale.metrics.Timer;
import java.util.concurrent.TimeUnit;

/**
 * The I/O metrics of one volume, resolved once so that the hot path only touches counters and
 * timers it holds, never the registry.
 */
final class VolumeMetrics {

    /** The operations of a block device that are counted and timed; the label is {@code op}. */
    enum Op {
        READ("read"), WRITE("write"), FLUSH("flush"), TRIM("trim"), ZERO("zero");

        final String label;

        Op(String label) {
            this.label = label;
        }
    }

    /** Count, failures and latency of one operation. */
    static final class OpMetrics {
        private final Clock clock;
        private final Counter ops;
        private final Counter errors;
        private final Timer latency;

        OpMetrics(Clock clock, Counter ops, Counter errors, Timer latency) {
            this.clock = clock;
            this.ops = ops;
            this.errors = errors;
            this.latency = latency;
        }

        /** The tick to pass to {@link #completed}. */
        long start() {
            return clock.getTick();
        }

        /** Records one call that began at {@code startTick}; a failed call counts as an error too. */
        void completed(long startTick, boolean ok) {
            latency.update(clock.getTick() - startTick, TimeUnit.NANOSECONDS);
            ops.inc();
            if (!ok) {
                errors.inc();
            }
        }

        /** Counts a call that the server completes itself (zero-copy read): no latency known. */
        void countUntimed() {
            ops.inc();
        }
    }

    final OpMetrics read;
    final OpMetrics write;
    final OpMetrics flush;
    final OpMetrics trim;
    final OpMetrics zero;
    final Counter readBytes;
    final Counter writtenBytes;

    VolumeMetrics(OpMetrics read, OpMetrics write, OpMetrics flush, OpMetrics trim, OpMetrics zero,
            Counter readBytes, Counter writtenBytes) {
        this.read = read;
        this.write = write;
        this.flush = flush;
        this.trim = trim;
        this.zero = zero;
        this.readBytes = readBytes;
        this.writtenBytes = writtenBytes;
    }
}
