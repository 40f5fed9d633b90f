package io.hablock.nbd.server;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory all connections of a server may hold together: WRITE payloads received and not yet
 * answered, READ data read and not yet taken by the client. Each connection's own limits bound
 * what one client holds; this bounds what many hold at once, so that a thousand connections that
 * send requests and never read their replies cannot exhaust the node's direct memory.
 *
 * <p>A connection reserves bytes through its {@link Account} before it reads a payload or starts
 * a READ, and releases them once the reply is out. Within the limit anyone may reserve. Beyond
 * it, a connection that holds nothing may still take one request: of up to {@link #FLOOR_BYTES}
 * always, and of up to its fair share (the limit divided among the connections holding memory,
 * itself included) while the total stays under one and a half times the limit. So a client that
 * reads its replies is served at once while others hog the budget, and the hogs wait; everything
 * held is bounded by one and a half times the limit plus the floor per connection, plus the
 * pieces of READs longer than the maximum payload once started (a few per connection).
 */
final class MemoryBudget {
    /** What a connection that holds nothing may always take. */
    static final long FLOOR_BYTES = 256 << 10;

    private final long limit;
    private final AtomicLong used = new AtomicLong();
    /** Connections that hold memory now. */
    private final AtomicInteger holders = new AtomicInteger();
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

    /** A new connection's account. */
    Account open() {
        return new Account();
    }

    /**
     * Runs {@code wake} once bytes have been released (at once if {@code account} has room for
     * {@code bytes} already, as the release may have come between its failed reservation and this
     * call). A woken connection tries again, and waits again if it still does not fit: only a
     * release wakes it then, so a connection that wants more than there is never spins.
     */
    void await(Account account, long bytes, Runnable wake) {
        waiters.add(wake);
        if (account.fits(bytes, used.get())) {
            wakeAll();
        }
    }

    private void giveBack(long bytes) {
        long now = used.addAndGet(-bytes);
        if (now < limit && !waiters.isEmpty()) {
            wakeAll();
        }
    }

    private void wakeAll() {
        Runnable wake;
        while ((wake = waiters.poll()) != null) {
            wake.run();
        }
    }

    /** What one connection holds. Used on the connection's event loop only. */
    final class Account {
        private long held;
        private boolean closed;

        /** Takes {@code bytes} if the rules above allow it; false when the caller must wait ({@link #await}). */
        boolean tryReserve(long bytes) {
            if (closed) {
                return true;
            }
            while (true) {
                long now = used.get();
                if (!fits(bytes, now)) {
                    return false;
                }
                if (used.compareAndSet(now, now + bytes)) {
                    add(bytes);
                    return true;
                }
            }
        }

        /** Whether the rules above let this connection take {@code bytes} when {@code now} are in use. */
        boolean fits(long bytes, long now) {
            if (closed || now + bytes <= limit) {
                return true;
            }
            boolean first = held == 0;
            return first && bytes <= FLOOR_BYTES
                    || first && bytes <= Math.max(FLOOR_BYTES, limit / (holders.get() + 1)) && now + bytes <= limit + limit / 2;
        }

        /** Takes {@code bytes} whatever the budget says: for work under way that cannot wait. */
        void reserve(long bytes) {
            if (!closed) {
                used.addAndGet(bytes);
                add(bytes);
            }
        }

        /** Gives {@code bytes} back and wakes the connections waiting once there is room again. */
        void release(long bytes) {
            if (closed || bytes == 0) {
                return;
            }
            held -= bytes;
            if (held == 0) {
                holders.decrementAndGet();
            }
            giveBack(bytes);
        }

        /**
         * The connection closed: what it holds is free for others now; what is still under way is
         * dropped as it finishes, and later releases are void.
         */
        void close() {
            if (!closed) {
                closed = true;
                if (held > 0) {
                    holders.decrementAndGet();
                    giveBack(held);
                }
                held = 0;
            }
        }

        long held() {
            return held;
        }

        private void add(long bytes) {
            if (bytes > 0 && held == 0) {
                holders.incrementAndGet();
            }
            held += bytes;
        }
    }
}
