package io.hablock.cluster;

import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's right to serve its volumes, measured on the monotonic clock.
 *
 * <p>Every {@code sessionTimeout / 10} the lease asks ZooKeeper whether this node's ephemeral
 * registration znode exists and belongs to the current session. An answer proves that the
 * session was alive when the question was <em>sent</em>: ZooKeeper expires a session only after
 * hearing nothing from it for a whole session timeout, and the controller moves a volume away
 * from a node only after its registration is gone. So the lease holds until
 * {@code sent + FRACTION x sessionTimeout}, well before any other node can have been given one of
 * this node's volumes (the rest of the session timeout is the margin for clock rates and
 * scheduling). A paused process (GC, SIGSTOP, a frozen VM) wakes up with an expired lease, before
 * any event told it so; a brief ZooKeeper outage lets the lease run for its remainder.
 *
 * <p>A lease belongs to one session: after the session expired (a new one is made), every volume
 * served under the old one must be given a new epoch before it is served again.
 */
final class Lease implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Lease.class);
    /** The share of the session timeout a confirmation is good for. */
    static final double FRACTION = 0.5;

    /** What a confirmation proved: the session, and until when (monotonic nanos) its lease holds. */
    record Grant(long session, long until) {
        static final Grant NONE = new Grant(0, Long.MIN_VALUE);
    }

    private final CuratorFramework curator;
    private final String registration;
    private final Duration sessionTimeout;
    private final LongSupplier nanoTime;
    private final ScheduledExecutorService timer;
    private final Object changed = new Object();
    private volatile Grant grant = Grant.NONE;
    /** A session ZooKeeper (or Curator, after a whole session timeout without it) declared expired. */
    private volatile long lostSession;
    private volatile Runnable onChange = () -> {
    };
    private volatile boolean closed;

    /**
     * @param registration the path of this node's ephemeral znode; null for a lease on the session
     *     alone (any answer in the session confirms it: the Docker plugin's mount claims)
     * @param nanoTime the monotonic clock ({@code System::nanoTime})
     */
    Lease(CuratorFramework curator, String registration, Duration sessionTimeout, LongSupplier nanoTime) {
        this.curator = curator;
        this.registration = registration;
        this.sessionTimeout = sessionTimeout;
        this.nanoTime = nanoTime;
        this.timer = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("lease", true));
    }

    /** Called (on the lease's thread) when a renewal gives a lease after none held, or a new session's. */
    Lease onChange(Runnable listener) {
        this.onChange = listener;
        return this;
    }

    Lease start() {
        long period = Math.max(50, sessionTimeout.toMillis() / 10);
        timer.scheduleWithFixedDelay(this::renew, 0, period, TimeUnit.MILLISECONDS);
        return this;
    }

    /** Asks ZooKeeper once; on an answer from this session with our registration, extends the lease. */
    void renew() {
        if (closed) {
            return;
        }
        long sent = nanoTime.getAsLong();
        try {
            ZooKeeper zk = curator.getZookeeperClient().getZooKeeper();
            long session = zk.getSessionId();
            Stat stat = zk.exists(registration == null ? "/" : registration, false);
            if (stat == null || registration != null && stat.getEphemeralOwner() != session || session == 0) {
                return; // not registered in this session (yet): no lease
            }
            long negotiated = zk.getSessionTimeout();
            long timeoutMs = negotiated > 0 ? Math.min(negotiated, sessionTimeout.toMillis()) : sessionTimeout.toMillis();
            long until = sent + (long) (TimeUnit.MILLISECONDS.toNanos(timeoutMs) * FRACTION);
            boolean news;
            synchronized (changed) {
                Grant g = grant;
                news = g.session() != session || sent - g.until() >= 0;
                if (g.session() != session || until - g.until() > 0) {
                    grant = new Grant(session, until);
                }
                changed.notifyAll();
            }
            if (news) {
                onChange.run();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.debug("lease not renewed: {}", e.toString());
        }
    }

    /** The current session's id when its lease holds now, else 0. */
    long validSession() {
        Grant g = grant;
        return nanoTime.getAsLong() - g.until() < 0 && g.session() != lostSession ? g.session() : 0;
    }

    /**
     * The session is gone for good (Curator's LOST): its lease can never hold again, so nothing
     * waits for it any more; volumes served under it are taken again at a new epoch.
     */
    void sessionLost() {
        synchronized (changed) {
            lostSession = grant.session();
            changed.notifyAll();
        }
    }

    /**
     * True when {@code session} can never hold the lease again: it was declared lost, or a newer
     * session was confirmed since.
     */
    boolean gone(long session) {
        Grant g = grant;
        return session == lostSession || g.session() != 0 && g.session() != session;
    }

    /** True while the lease of {@code session} holds. */
    boolean holds(long session) {
        return session != 0 && validSession() == session;
    }

    /** The session the lease was last confirmed for (its lease may have run out). */
    long session() {
        return grant.session();
    }

    /**
     * Waits until the lease of {@code session} holds, at most {@code maxNanos}; true when it does.
     * Returns false at once when the lease moved to another session, and soon after
     * {@code giveUp} says so.
     */
    boolean await(long session, long maxNanos, java.util.function.BooleanSupplier giveUp) throws InterruptedException {
        long deadline = nanoTime.getAsLong() + maxNanos;
        synchronized (changed) {
            while (!holds(session)) {
                if (closed || giveUp.getAsBoolean() || session == lostSession
                        || (grant.session() != session && grant.session() != 0)) {
                    return false;
                }
                long left = deadline - nanoTime.getAsLong();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(changed, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            }
            return true;
        }
    }

    @Override
    public void close() {
        closed = true;
        timer.shutdownNow();
        synchronized (changed) {
            changed.notifyAll();
        }
    }
}
