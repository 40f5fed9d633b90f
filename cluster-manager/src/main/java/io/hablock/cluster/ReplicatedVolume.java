package io.hablock.cluster;

import com.codahale.metrics.Timer;
import io.hablock.blockstore.Extent;
import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.replication.ReplicaRefusedException;
import io.hablock.cluster.replication.ReplicationClient;
import io.hablock.nativeio.OperationNotSupportedException;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.protocol.NbdError;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;

/**
 * A volume as its owner serves it: the local copy plus every other in-sync copy, reached over
 * the replication channel. A change is applied locally and sent to every in-sync copy in
 * parallel; it returns only when all have applied it. A copy that fails is first taken out of
 * the in-sync set in ZooKeeper (through {@link CopyFailureHandler}); if that cannot be done the
 * change fails and nothing is acknowledged.
 */
final class ReplicatedVolume {
    /** A copy other than the owner's. */
    record Peer(String nodeId, InetSocketAddress address) {
    }

    private record Target(Peer peer, Timer latency) {
    }

    /** A copy being rebuilt: it gets every change, but a failure only spoils the rebuild. */
    private record CatchUp(Peer peer, AtomicReference<Throwable> broken) {
    }

    /** Takes a failed copy out of the in-sync set; throws when that cannot be recorded. */
    interface CopyFailureHandler {
        void copyFailed(ReplicatedVolume volume, Peer peer, Throwable cause) throws IOException;
    }

    private final String name;
    private final UUID uuid;
    private final long epoch;
    private final LocalVolume local;
    private final ReplicationClient replication;
    private final CopyFailureHandler onFailure;
    private final Function<String, Timer> latencyOf;
    private volatile List<Target> targets;
    private volatile List<CatchUp> catchUps = List.of();
    /** Changes hold it shared; adding a copy holds it exclusively, so no change straddles the addition. */
    private final ReentrantReadWriteLock membership = new ReentrantReadWriteLock();
    private volatile String fencedBecause;
    private volatile String suspendedBecause;
    private final Object pause = new Object();
    /** Longest a request waits for ZooKeeper to come back before it fails. */
    static final long MAX_PAUSE_MS = 15_000;
    private final RangeLocks ranges = new RangeLocks();

    ReplicatedVolume(String name, UUID uuid, long epoch, LocalVolume local, List<Peer> peers,
            ReplicationClient replication, CopyFailureHandler onFailure, Function<String, Timer> latencyOf) {
        this.latencyOf = latencyOf;
        this.name = name;
        this.uuid = uuid;
        this.epoch = epoch;
        this.local = local;
        this.targets = peers.stream().map(p -> new Target(p, latencyOf.apply(p.nodeId()))).toList();
        this.replication = replication;
        this.onFailure = onFailure;
    }

    String name() {
        return name;
    }

    UUID uuid() {
        return uuid;
    }

    long epoch() {
        return epoch;
    }

    long size() {
        return local.size();
    }

    LocalVolume local() {
        return local;
    }

    List<Peer> peers() {
        return targets.stream().map(Target::peer).toList();
    }

    /** Stops sending to a copy (it is no longer in sync). */
    synchronized boolean removePeer(String nodeId) {
        List<Target> next = new ArrayList<>(targets);
        boolean removed = next.removeIf(t -> t.peer().nodeId().equals(nodeId));
        targets = List.copyOf(next);
        return removed;
    }

    boolean hasPeers() {
        return !targets.isEmpty() || !catchUps.isEmpty();
    }

    /** Starts sending every change to a copy being rebuilt; changes in flight finish first. */
    void addCatchUp(Peer peer) {
        membership.writeLock().lock();
        try {
            synchronized (this) {
                List<CatchUp> next = new ArrayList<>(catchUps);
                next.removeIf(c -> c.peer().nodeId().equals(peer.nodeId()));
                next.add(new CatchUp(peer, new AtomicReference<>()));
                catchUps = List.copyOf(next);
            }
        } finally {
            membership.writeLock().unlock();
        }
    }

    /** Stops sending changes to a copy being rebuilt. */
    synchronized void removeCatchUp(String nodeId) {
        List<CatchUp> next = new ArrayList<>(catchUps);
        next.removeIf(c -> c.peer().nodeId().equals(nodeId));
        catchUps = List.copyOf(next);
    }

    /** Why a copy being rebuilt missed a change, or null while it has them all. */
    Throwable catchUpFailure(String nodeId) {
        for (CatchUp c : catchUps) {
            if (c.peer().nodeId().equals(nodeId)) {
                return c.broken().get();
            }
        }
        return new IOException("it is not being rebuilt");
    }

    /** Work that records, in ZooKeeper, a rebuilt copy as in sync; true when it did. */
    interface Promotion {
        boolean commit() throws IOException;
    }

    /**
     * Makes a rebuilt copy a full member: with no change in flight, checks that it missed none,
     * lets {@code promotion} record it in ZooKeeper, and from then on treats its failures like any
     * in-sync copy's.
     */
    boolean promote(String nodeId, Promotion promotion) throws IOException {
        membership.writeLock().lock();
        try {
            Throwable missed = catchUpFailure(nodeId);
            if (missed != null) {
                throw new IOException("the copy on node " + nodeId + " missed a change: " + missed.getMessage(), missed);
            }
            CatchUp c = catchUps.stream().filter(x -> x.peer().nodeId().equals(nodeId)).findFirst().orElseThrow();
            if (!promotion.commit()) {
                return false;
            }
            synchronized (this) {
                removeCatchUp(nodeId);
                List<Target> next = new ArrayList<>(targets);
                next.add(new Target(c.peer(), latencyOf.apply(nodeId)));
                targets = List.copyOf(next);
            }
            return true;
        } finally {
            membership.writeLock().unlock();
        }
    }

    /** Locks a range against changes (a rebuild copies it meanwhile). */
    RangeLocks.Held lockRange(long offset, long length) {
        return ranges.lock(offset, length);
    }

    /** Refuses every later request: this node is no longer the owner at this epoch. */
    void fence(String why) {
        synchronized (pause) {
            fencedBecause = why;
            pause.notifyAll();
        }
    }

    boolean isFenced() {
        return fencedBecause != null;
    }

    /**
     * Refuses I/O until {@link #resume()}: this node cannot prove it still owns the volume (its
     * ZooKeeper connection is down, and another node may be taking over).
     */
    void suspend(String why) {
        suspendedBecause = why;
    }

    void resume() {
        synchronized (pause) {
            suspendedBecause = null;
            pause.notifyAll();
        }
    }

    /**
     * Passes when the volume may be served; while suspended, waits (a pause, not an error) until
     * ownership is confirmed again, the volume is fenced, or {@link #MAX_PAUSE_MS} ran out.
     */
    private void checkNotFenced() throws IOException {
        String why = fencedBecause;
        if (why != null) {
            throw new IOException("volume " + name + " is no longer served here: " + why);
        }
        if (suspendedBecause == null) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MAX_PAUSE_MS);
        synchronized (pause) {
            while (suspendedBecause != null && fencedBecause == null) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    throw new IOException("volume " + name + " is not served while " + suspendedBecause);
                }
                try {
                    pause.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while paused", e);
                }
            }
        }
        if (fencedBecause != null) {
            throw new IOException("volume " + name + " is no longer served here: " + fencedBecause);
        }
    }

    // ---- I/O ---------------------------------------------------------------------------------

    void read(long offset, ByteBuffer dst) throws IOException {
        checkNotFenced();
        local.read(dst, offset);
    }

    FileChannel zeroCopySource(long offset, long length) throws IOException {
        checkNotFenced();
        return local.transferSource(offset, length);
    }

    List<Extent> extents(long offset, long length) throws IOException {
        checkNotFenced();
        return local.extents(offset, length);
    }

    void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        write(offset, new ByteBuffer[] {src}, fua);
    }

    /** One write in parts (as it came off the socket): one message to each copy, one range lock. */
    void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        try (Change change = change(offset, BlockDevice.lengthOf(parts))) {
            change.replicate(p -> replication.write(p.address(), uuid, epoch, offset, parts, fua), () -> {
                long position = offset;
                for (ByteBuffer part : parts) {
                    local.write(part.duplicate(), position);
                    position += part.remaining();
                }
                if (fua) {
                    local.flush();
                }
            });
        }
    }

    void trim(long offset, long length, boolean fua) throws IOException {
        try (Change change = change(offset, length)) {
            change.replicate(p -> replication.trim(p.address(), uuid, epoch, offset, length, fua), () -> {
                local.trim(offset, length);
                if (fua) {
                    local.flush();
                }
            });
        }
    }

    void writeZeroes(long offset, long length, boolean mayPunch, boolean fastOnly, boolean fua) throws IOException {
        try (Change change = change(offset, length)) {
            if (fastOnly) {
                // Refused locally before anything is sent: then no copy changes.
                checkNotFenced();
                try {
                    local.writeZeroesFast(offset, length, mayPunch);
                } catch (OperationNotSupportedException e) {
                    throw new DeviceException(NbdError.ENOTSUP, "this file system cannot zero a range quickly", e);
                }
            }
            change.replicate(p -> replication.writeZeroes(p.address(), uuid, epoch, offset, length, mayPunch, fua), () -> {
                if (!fastOnly) {
                    local.writeZeroes(offset, length, mayPunch);
                }
                if (fua) {
                    local.flush();
                }
            });
        }
    }

    void flush() throws IOException {
        try (Change change = change(0, 0)) {
            change.replicate(p -> replication.flush(p.address(), uuid, epoch), local::flush);
        }
    }

    /** Tells every copy the epoch, so that messages of older owners are refused from now on. */
    void fencePeers() throws IOException {
        try (Change change = change(0, 0)) {
            change.replicate(p -> replication.fence(p.address(), uuid, epoch), () -> {
            });
        }
    }

    private interface LocalWork {
        void run() throws IOException;
    }

    /**
     * Starts a change of {@code [offset, offset + length)} (length 0: no range, as for FLUSH):
     * takes the membership shared, snapshots the copies to send to, and orders the change against
     * overlapping ones so that every copy applies them in the same order. Alone, a volume needs
     * no such order.
     */
    private Change change(long offset, long length) {
        membership.readLock().lock();
        try {
            List<Target> t = targets;
            List<CatchUp> c = catchUps;
            RangeLocks.Held held = length == 0 || (t.isEmpty() && c.isEmpty()) ? null : ranges.lock(offset, length);
            return new Change(t, c, held);
        } catch (RuntimeException | Error e) {
            membership.readLock().unlock();
            throw e;
        }
    }

    /** One change in progress; {@link #close()} releases its locks. */
    private final class Change implements AutoCloseable {
        private final List<Target> targets;
        private final List<CatchUp> catchUps;
        private final RangeLocks.Held held;

        Change(List<Target> targets, List<CatchUp> catchUps, RangeLocks.Held held) {
            this.targets = targets;
            this.catchUps = catchUps;
            this.held = held;
        }

        void replicate(Function<Peer, CompletableFuture<Void>> send, LocalWork localWork) throws IOException {
            checkNotFenced();
            List<CompletableFuture<Void>> sent = new ArrayList<>(targets.size());
            long start = System.nanoTime();
            for (Target t : targets) {
                CompletableFuture<Void> f = send.apply(t.peer());
                f.whenComplete((ok, failure) -> {
                    if (failure == null) {
                        t.latency().update(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                    }
                });
                sent.add(f);
            }
            List<CompletableFuture<Void>> toCatchUps = new ArrayList<>(catchUps.size());
            for (CatchUp c : catchUps) {
                toCatchUps.add(send.apply(c.peer()));
            }
            IOException localFailure = null;
            try {
                localWork.run();
            } catch (IOException e) {
                localFailure = e;
            }
            for (int i = 0; i < targets.size(); i++) {
                Throwable cause = outcome(sent.get(i));
                if (cause != null) {
                    checkNotDeposed(targets.get(i).peer(), cause);
                    onFailure.copyFailed(ReplicatedVolume.this, targets.get(i).peer(), cause);
                }
            }
            for (int i = 0; i < catchUps.size(); i++) {
                Throwable cause = outcome(toCatchUps.get(i));
                if (cause != null) {
                    checkNotDeposed(catchUps.get(i).peer(), cause);
                    catchUps.get(i).broken().compareAndSet(null, cause); // that rebuild fails; the write does not
                }
            }
            if (localFailure != null) {
                throw localFailure;
            }
        }

        @Override
        public void close() {
            try {
                if (held != null) {
                    held.close();
                }
            } finally {
                membership.readLock().unlock();
            }
        }
    }

    /** The failure of a sent request, or null when it succeeded. */
    private Throwable outcome(CompletableFuture<Void> f) throws IOException {
        try {
            f.get();
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the copies of " + name, e);
        }
    }

    /** A copy that knows a newer epoch means another node owns the volume: stop here. */
    private void checkNotDeposed(Peer peer, Throwable cause) throws IOException {
        if (cause instanceof ReplicaRefusedException refused
                && refused.reason() == ReplicaRefusedException.Reason.STALE_EPOCH) {
            fence("copy on node " + peer.nodeId() + " knows a newer owner");
            throw new IOException("volume " + name + ": " + fencedBecause, cause);
        }
    }
}
