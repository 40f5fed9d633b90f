package io.hablock.nbd.server;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory all connections of a server may hold together: WRITE payloads received and not yet
 * answered, READ data read and not yet taken by the client. Each connection's own limits bound
 * what one client holds; this bounds what many hold at once, so that a thousand connections that
 * send requests and never read their replies cannot exhaust the node's direct memory.
 *
 * <p>A connection reserves bytes before it reads a payload or starts a READ, and releases them
 * once the reply is out. When the budget is spent it waits: it reads nothing more until bytes are
 * released. A connection that holds nothing may always take one request of up to
 * {@link #FLOOR_BYTES}, even over the budget: a client that reads its replies keeps being served
 * while others hog the rest (for at most the stall timeout, after which they are closed). The
 * budget may be exceeded by that floor times the connections that use it, and by the pieces of
 * READs longer than the maximum payload once they have started (a few per connection).
 */
final class MemoryBudget {
    /** What a connection that holds nothing may always take. */
    static final long FLOOR_BYTES = 256 << 10;

    private final long limit;
    private final AtomicLong used = new AtomicLong();
    private final Queue<Runnable> waiters = new ConcurrentLinkedQueue<>();

    MemoryBudget(long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("the memory budget must be at least 1 byte");
        }
        this.limit = limit;
    }

    long limit() {
        return limit;
    }

    long used() {
        return used.get();
    }

    /**
     * Takes {@code bytes} if the budget has room for them, or if the caller holds nothing and
     * asks for no more than the floor. False when the caller must wait ({@link #await}).
     */
    boolean tryReserve(long bytes, boolean holdsNothing) {
        boolean floor = holdsNothing && bytes <= FLOOR_BYTES;
        while (true) {
            long now = used.get();
            if (now + bytes > limit && !floor) {
                return false;
            }
            if (used.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    /** Takes {@code bytes} whatever the budget says: for work already under way that cannot wait. */
    void reserve(long bytes) {
        used.addAndGet(bytes);
    }

    /** Gives {@code bytes} back and wakes the connections waiting once there is room again. */
    void release(long bytes) {
        if (bytes == 0) {
            return;
        }
        long now = used.addAndGet(-bytes);
        if (now < limit && !waiters.isEmpty()) {
            wakeAll();
        }
    }

    /**
     * Runs {@code wake} once bytes have been released (at once if there is room already, as the
     * release may have come between the caller's failed reservation and this call). A woken
     * connection tries again, and waits again if others took the room first.
     */
    void await(Runnable wake) {
        waiters.add(wake);
        if (used.get() < limit) {
            wakeAll();
        }
    }

    private void wakeAll() {
        Runnable wake;
        while ((wake = waiters.poll()) != null) {
            wake.run();
        }
    }
}
