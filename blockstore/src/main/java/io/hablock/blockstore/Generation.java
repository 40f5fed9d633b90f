package io.hablock.blockstore;

/**
 * The fencing token of a volume's copy, persisted with it: the owner's {@code epoch} (raised on
 * every change of owner) and, within an epoch, the {@code seq}uence of the owner's membership
 * changes (a copy joining or leaving the set it writes to). Ordered epoch first. A copy refuses
 * any request of a generation below the one it persisted, so neither an older owner nor an older
 * connection of the current one can change it (the idea of DRBD's generation identifiers).
 *
 * @param epoch the owner's epoch, 0 before any owner fenced the copy
 * @param seq membership changes within the epoch
 */
public record Generation(long epoch, long seq) implements Comparable<Generation> {
    /** A copy no owner has fenced yet. */
    public static final Generation ZERO = new Generation(0, 0);

    public Generation {
        if (epoch < 0 || seq < 0) {
            throw new IllegalArgumentException("negative generation " + epoch + "." + seq);
        }
    }

    /** The first generation of {@code epoch}. */
    public static Generation of(long epoch) {
        return new Generation(epoch, 0);
    }

    /** The next membership generation of the same epoch. */
    public Generation next() {
        return new Generation(epoch, seq + 1);
    }

    public boolean isBelow(Generation other) {
        return compareTo(other) < 0;
    }

    @Override
    public int compareTo(Generation o) {
        int c = Long.compare(epoch, o.epoch);
        return c != 0 ? c : Long.compare(seq, o.seq);
    }

    /** {@code 3.2}: epoch 3, second membership change. */
    @Override
    public String toString() {
        return epoch + "." + seq;
    }
}
