package io.hablock.cluster;

import io.hablock.blockstore.LocalVolume;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.WouldBlockException;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Whether a served volume may answer a request now, and when it may answer a read it has done.
 * A volume is first <em>opening</em> (registered, so that a client the catalogue sent here finds
 * it, but waiting for the compare-and-set that records it served), then <em>open</em>, and at
 * last <em>stopped</em> for good. While open it answers only while this node's {@link Lease}
 * of the session it started under holds; a request waits for the lease (at most
 * {@link #MAX_PAUSE_MS}), or, on a network thread, is sent to a worker to wait there.
 */
final class ServingGate {
    /** Longest a request waits for the lease (or the opening) before it fails. */
    static final long MAX_PAUSE_MS = 15_000;

    /** Why the volume is no longer served here. */
    private record Stopped(String why) {
    }

    private final String name;
    private final long epoch;
    private final LocalVolume local;
    private final Lease lease;
    private final long session;
    private final CountDownLatch opened = new CountDownLatch(1);
    private final AtomicReference<Stopped> stopped = new AtomicReference<>();

    ServingGate(String name, long epoch, LocalVolume local, Lease lease, long session) {
        this.name = name;
        this.epoch = epoch;
        this.local = local;
        this.lease = lease;
        this.session = session;
    }

    /** The lease session the volume is served under. */
    long session() {
        return session;
    }

    /** The catalogue records the volume served here: requests go through. */
    void open() {
        opened.countDown();
    }

    /** Refuses every later request. Final. */
    void stop(String why) {
        stopped.compareAndSet(null, new Stopped(why));
        opened.countDown(); // requests waiting for the opening see the stop
    }

    boolean isStopped() {
        return stopped.get() != null;
    }

    /** Why the volume is no longer served here, or null while it is. */
    String stoppedBecause() {
        Stopped s = stopped.get();
        return s == null ? null : s.why();
    }

    void throwIfStopped() throws IOException {
        Stopped s = stopped.get();
        if (s != null) {
            throw new IOException("volume " + name + " is no longer served here: " + s.why());
        }
    }

    /** True when a request may go in now, without waiting; throws once stopped. */
    boolean admitsNow() throws IOException {
        throwIfStopped();
        return opened.getCount() == 0 && lease.holds(session);
    }

    /**
     * Lets a request in: refuses once stopped; while opening, or while the lease does not hold,
     * waits (at most {@link #MAX_PAUSE_MS}) or, on a network thread, sends it to a worker.
     */
    void admit() throws IOException {
        throwIfStopped();
        if (opened.getCount() > 0) {
            mustMayWait("being opened");
            try {
                if (!opened.await(MAX_PAUSE_MS, TimeUnit.MILLISECONDS)) {
                    throw new IOException("volume " + name + " is not served: still being opened");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting", e);
            }
            throwIfStopped();
        }
        if (lease.holds(session)) {
            return;
        }
        mustMayWait("waiting for the lease");
        boolean held;
        try {
            held = lease.await(session, TimeUnit.MILLISECONDS.toNanos(MAX_PAUSE_MS), this::isStopped);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while paused", e);
        }
        throwIfStopped();
        if (!held) {
            throw new IOException("volume " + name + " is not served: this node cannot confirm in ZooKeeper that it still "
                    + "owns it");
        }
    }

    private void mustMayWait(String why) throws WouldBlockException {
        if (!BlockDevice.mayWait()) {
            throw new WouldBlockException("volume " + name + ": " + why);
        }
    }

    /**
     * After a read got its data: true when it may be answered, the lease having held and no newer
     * owner having fenced this copy (so the data was current when read). A newer owner stops the
     * volume here for good.
     */
    boolean stillOwner() {
        if (local.epoch() > epoch) {
            stop("a newer owner (epoch " + local.epoch() + ") fenced this node's copy");
        }
        return stopped.get() == null && lease.holds(session);
    }
}
