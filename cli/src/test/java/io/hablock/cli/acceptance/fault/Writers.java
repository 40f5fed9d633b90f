package io.hablock.cli.acceptance.fault;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Several {@link Writer}s, each on its own connection and its own share of the blocks, so that
 * several writes are in flight when a fault strikes (a single writer leaves at most one).
 */
final class Writers implements AutoCloseable {
    private final List<Writer> all = new ArrayList<>();

    Writers(ClusterView view, Ledger ledger, String volume, int count) {
        for (int i = 0; i < count; i++) {
            all.add(new Writer(view, ledger, volume, i, count));
        }
    }

    void start() {
        all.forEach(Writer::start);
    }

    long acks() {
        return all.stream().mapToLong(Writer::acks).sum();
    }

    long errors() {
        return all.stream().mapToLong(Writer::errors).sum();
    }

    String lastError() {
        return all.stream().map(Writer::lastError).filter(e -> !e.isEmpty()).findFirst().orElse("");
    }

    /**
     * The earliest last acknowledgement of a write sent after {@code since}, by an owner other
     * than {@code notBy} (null: any owner), or -1 when no writer has one yet. Writes sent
     * before the fault do not count: they may have reached every copy before it struck.
     */
    long ackedAfter(long since, String notBy) {
        long best = -1;
        for (Writer w : all) {
            long t = w.lastAckNanos();
            String by = w.lastAckOwnerId();
            if (w.lastAckSentNanos() > since && t > since && by != null && (notBy == null || !by.equals(notBy)) && (best < 0 || t < best)) {
                best = t;
            }
        }
        return best;
    }

    /** Reads everything back with all writes held. */
    Writer.ReadBack readBack() {
        return whilePaused(() -> all.get(0).readBack());
    }

    /** Runs {@code action} while no write is in flight. */
    <T> T whilePaused(Supplier<T> action) {
        all.forEach(Writer::pauseWrites);
        try {
            return action.get();
        } finally {
            all.forEach(Writer::resumeWrites);
        }
    }

    @Override
    public void close() {
        all.forEach(Writer::close);
    }
}
