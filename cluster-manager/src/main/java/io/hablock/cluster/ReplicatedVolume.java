package io.hablock.cluster;

import com.codahale.metrics.Timer;
import io.hablock.blockstore.Extent;
import io.hablock.blockstore.Generation;
import io.hablock.blockstore.LocalVolume;
import io.hablock.blockstore.StaleEpochException;
import io.hablock.cluster.replication.ReplicaRefusedException;
import io.hablock.cluster.replication.ReplicationClient;
import io.hablock.nativeio.OperationNotSupportedException;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.WouldBlockException;
import io.hablock.nbd.protocol.NbdError;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
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
 * the in-sync set in ZooKeeper (through {@link Catalogue}); if that cannot be done the change
 * fails and nothing is acknowledged.
 *
 * <p>Who may be answered, and when:
 * <ul>
 * <li>Every request waits for (or, on a network thread, is sent back from) this node's
 * {@link Lease}: an owner that cannot prove its ZooKeeper session is alive answers nothing.</li>
 * <li>A read is answered only if, <em>after</em> its data was read, the lease still held and no
 * newer owner had fenced this node's copy: so the data was current when it was read.</li>
 * <li>Every change, the local one included, runs under the volume's {@link Generation} and is
 * refused by a copy (or the local file) that a newer owner, or a newer membership, has fenced.</li>
 * <li>Below {@code minCopies} in-sync copies (the owner's included) writes are refused.</li>
 * </ul>
 *
 * <p>The set of copies written to changes only with the catalogue: a copy leaves it after the
 * compare-and-set that took it out of sync, joins it in the same step as the compare-and-set that
 * put it in sync (with no change in flight), and a copy the catalogue no longer lists is dropped
 * only after a fresh read of the catalogue. Each change of the set moves the volume to a new
 * generation, fenced on every member, so nothing sent on an older connection lands afterwards.
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

    /** Whom changes go to, and at which generation: replaced whole, never changed in place. */
    private record Members(Generation generation, List<Target> targets, List<CatchUp> catchUps) {
        Members withTargets(List<Target> t) {
            return new Members(generation, List.copyOf(t), catchUps);
        }

        Members withCatchUps(List<CatchUp> c) {
            return new Members(generation, targets, List.copyOf(c));
        }

        Members at(Generation g) {
            return new Members(g, targets, catchUps);
        }
    }

    /** Why the volume is no longer served here. */
    private record Stopped(String why) {
    }

    /** The catalogue operations a served volume needs; each is a compare-and-set in ZooKeeper. */
    interface Catalogue {
        /** Takes a failed copy out of the in-sync set; throws when that cannot be recorded. */
        void copyFailed(ReplicatedVolume volume, Peer peer, Throwable cause) throws IOException;

        /** Records that every in-sync copy has persisted {@code generation}. */
        void generationFenced(ReplicatedVolume volume, Generation generation) throws IOException;

        /** The in-sync copies of the volume now, read from ZooKeeper (not a cache). */
        List<String> inSyncNow(ReplicatedVolume volume) throws IOException;
    }

    /** Work that records, in ZooKeeper, a rebuilt copy as in sync; true when it did. */
    interface Promotion {
        boolean commit() throws IOException;
    }

    /** Longest a request waits for the lease to come back before it fails. */
    static final long MAX_PAUSE_MS = 15_000;

    private final String name;
    private final UUID uuid;
    private final long epoch;
    private final int minCopies;
    private final LocalVolume local;
    private final ReplicationClient replication;
    private final Catalogue catalogue;
    private final Lease lease;
    private final long session;
    private final TestDelays delays;
    private final Function<String, Timer> latencyOf;
    private volatile Members members;
    /** Changes hold it shared; changing the set of copies holds it exclusively, with no change in flight. */
    private final ReentrantReadWriteLock membership = new ReentrantReadWriteLock();
    private final AtomicReference<Stopped> stopped = new AtomicReference<>();
    /** Counted down when the catalogue records that this volume is served here (see {@link #open()}). */
    private final java.util.concurrent.CountDownLatch opened = new java.util.concurrent.CountDownLatch(1);
    private final RangeLocks ranges = new RangeLocks();

    ReplicatedVolume(String name, UUID uuid, long epoch, int minCopies, Generation generation, LocalVolume local,
            List<Peer> peers, ReplicationClient replication, Catalogue catalogue, Lease lease, long session,
            TestDelays delays, Function<String, Timer> latencyOf) {
        this.name = name;
        this.uuid = uuid;
        this.epoch = epoch;
        this.minCopies = minCopies;
        this.local = local;
        this.replication = replication;
        this.catalogue = catalogue;
        this.lease = lease;
        this.session = session;
        this.delays = delays;
        this.latencyOf = latencyOf;
        this.members = new Members(generation, peers.stream().map(p -> new Target(p, latencyOf.apply(p.nodeId()))).toList(),
                List.of());
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

    /** The lease session this volume is served under. */
    long session() {
        return session;
    }

    Generation generation() {
        return members.generation();
    }

    long size() {
        return local.size();
    }

    LocalVolume local() {
        return local;
    }

    List<Peer> peers() {
        return members.targets().stream().map(Target::peer).toList();
    }

    boolean hasPeers() {
        Members m = members;
        return !m.targets().isEmpty() || !m.catchUps().isEmpty();
    }

    /** True when writes are acknowledged: enough copies in sync. */
    boolean isWritable() {
        return 1 + members.targets().size() >= minCopies;
    }

    // ---- serving ------------------------------------------------------------------------------

    /**
     * Lets requests through: the catalogue now records that this node serves the volume (with
     * the copies that could not be fenced out of sync). Until then, requests wait.
     */
    void open() {
        opened.countDown();
    }

    /** Refuses every later request: this node no longer serves the volume at this epoch. Final. */
    void stop(String why) {
        stopped.compareAndSet(null, new Stopped(why));
        opened.countDown(); // requests waiting for the opening see the stop
    }

    /** Returns once no change is in flight (after {@link #stop}, none starts any more). */
    void awaitIdle() {
        membership.writeLock().lock();
        membership.writeLock().unlock();
    }

    boolean isStopped() {
        return stopped.get() != null;
    }

    /** Why the volume is no longer served here, or null while it is. */
    String stoppedBecause() {
        Stopped s = stopped.get();
        return s == null ? null : s.why();
    }

    /**
     * Lets a request in: refuses once stopped; while the lease does not hold, waits for it (at
     * most {@link #MAX_PAUSE_MS}) or, on a network thread, sends the request to a worker.
     */
    private void admit() throws IOException {
        throwIfStopped();
        if (opened.getCount() > 0) {
            if (!BlockDevice.mayWait()) {
                throw new WouldBlockException("volume " + name + ": being opened");
            }
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
        if (!BlockDevice.mayWait()) {
            throw new WouldBlockException("volume " + name + ": waiting for the lease");
        }
        boolean held;
        try {
            held = lease.await(session, TimeUnit.MILLISECONDS.toNanos(MAX_PAUSE_MS), () -> stopped.get() != null);
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

    private void throwIfStopped() throws IOException {
        Stopped s = stopped.get();
        if (s != null) {
            throw new IOException("volume " + name + " is no longer served here: " + s.why());
        }
    }

    /**
     * After a read got its data: true when it may be answered, the lease having held and no newer
     * owner having fenced this copy (so the data was current when read). A newer owner stops the
     * volume here for good.
     */
    private boolean stillOwner() {
        if (local.epoch() > epoch) {
            stop("a newer owner (epoch " + local.epoch() + ") fenced this node's copy");
        }
        return stopped.get() == null && lease.holds(session);
    }

    // ---- membership ---------------------------------------------------------------------------

    /** Stops sending to a copy whose removal from the in-sync set was recorded. */
    synchronized boolean removePeer(String nodeId) {
        Members m = members;
        List<Target> next = new ArrayList<>(m.targets());
        boolean removed = next.removeIf(t -> t.peer().nodeId().equals(nodeId));
        members = m.withTargets(next);
        return removed;
    }

    /**
     * Drops the copies that the catalogue, read now, no longer lists in sync (the controller
     * removed one it no longer needs). Only the owner adds copies to the in-sync set, and it does
     * so under this lock: what the fresh read does not list is out for good.
     *
     * @return true when a copy was dropped
     */
    synchronized boolean dropCopiesNotInSync() throws IOException {
        List<String> inSync = catalogue.inSyncNow(this);
        boolean dropped = false;
        for (Peer p : peers()) {
            if (!inSync.contains(p.nodeId())) {
                dropped |= removePeer(p.nodeId());
            }
        }
        return dropped;
    }

    /**
     * Moves the volume to a new generation: with no change in flight, the local copy and every
     * copy written to persist it, then the catalogue records it. A copy that cannot be fenced is
     * taken out of sync (a copy being rebuilt: its rebuild fails). Called after a copy left the
     * set, so that its data, should it ever claim to be in sync, shows as older than the others'.
     */
    void advanceGeneration() throws IOException {
        membership.writeLock().lock();
        try {
            throwIfStopped();
            fenceMembers(members.generation().next(), null);
        } finally {
            membership.writeLock().unlock();
        }
    }

    /**
     * Starts sending every change to a copy being rebuilt, at a new generation fenced on every
     * member, the new one included: anything still on its way from an older connection to that
     * copy is refused from then on. Changes in flight finish first.
     *
     * @throws IOException the new copy could not be fenced (the rebuild cannot start)
     */
    void addCatchUp(Peer peer) throws IOException {
        // First, with no lock held: is the copy there and answering? Writes would otherwise wait
        // out the replication timeout behind an unresponsive new member. (A fence at the current
        // generation gives it nothing the other members do not hold already.)
        Throwable probe = outcome(replication.fence(peer.address(), uuid, members.generation()));
        if (probe != null) {
            checkNotDeposed(peer, probe);
            throw new IOException("cannot fence the copy on node " + peer.nodeId() + ": " + probe.getMessage(), probe);
        }
        membership.writeLock().lock();
        try {
            throwIfStopped();
            synchronized (this) {
                List<CatchUp> next = new ArrayList<>(members.catchUps());
                next.removeIf(c -> c.peer().nodeId().equals(peer.nodeId()));
                next.add(new CatchUp(peer, new AtomicReference<>()));
                members = members.withCatchUps(next);
            }
            fenceMembers(members.generation().next(), peer.nodeId());
        } catch (IOException | RuntimeException e) {
            removeCatchUp(peer.nodeId());
            throw e;
        } finally {
            membership.writeLock().unlock();
        }
    }

    /** Fences local copy, targets and catch-ups at {@code next}; under the write lock. */
    private void fenceMembers(Generation next, String mustSucceed) throws IOException {
        Members m = members;
        local.raise(next);
        List<CompletableFuture<Generation>> targetFences = new ArrayList<>();
        for (Target t : m.targets()) {
            targetFences.add(replication.fence(t.peer().address(), uuid, next));
        }
        List<CompletableFuture<Generation>> catchUpFences = new ArrayList<>();
        for (CatchUp c : m.catchUps()) {
            catchUpFences.add(replication.fence(c.peer().address(), uuid, next));
        }
        for (int i = 0; i < m.targets().size(); i++) {
            Throwable cause = outcome(targetFences.get(i));
            if (cause != null) {
                checkNotDeposed(m.targets().get(i).peer(), cause);
                catalogue.copyFailed(this, m.targets().get(i).peer(), cause);
            }
        }
        IOException mustFailure = null;
        for (int i = 0; i < m.catchUps().size(); i++) {
            CatchUp c = m.catchUps().get(i);
            Throwable cause = outcome(catchUpFences.get(i));
            if (cause != null) {
                checkNotDeposed(c.peer(), cause);
                c.broken().compareAndSet(null, cause);
                if (c.peer().nodeId().equals(mustSucceed)) {
                    mustFailure = new IOException("cannot fence the copy on node " + c.peer().nodeId() + ": "
                            + cause.getMessage(), cause);
                }
            }
        }
        // The members that were fenced hold the new generation now: every later change must carry it.
        members = members.at(next);
        catalogue.generationFenced(this, next);
        if (mustFailure != null) {
            throw mustFailure;
        }
    }

    /** Stops sending changes to a copy being rebuilt. */
    synchronized void removeCatchUp(String nodeId) {
        List<CatchUp> next = new ArrayList<>(members.catchUps());
        next.removeIf(c -> c.peer().nodeId().equals(nodeId));
        members = members.withCatchUps(next);
    }

    /** Why a copy being rebuilt missed a change, or null while it has them all. */
    Throwable catchUpFailure(String nodeId) {
        for (CatchUp c : members.catchUps()) {
            if (c.peer().nodeId().equals(nodeId)) {
                return c.broken().get();
            }
        }
        return new IOException("it is not being rebuilt");
    }

    /**
     * Makes a rebuilt copy a full member: with no change in flight, checks that it missed none,
     * lets {@code promotion} record it in ZooKeeper, and from then on treats its failures like any
     * in-sync copy's.
     */
    boolean promote(String nodeId, Promotion promotion) throws IOException {
        membership.writeLock().lock();
        try {
            throwIfStopped();
            Throwable missed = catchUpFailure(nodeId);
            if (missed != null) {
                throw new IOException("the copy on node " + nodeId + " missed a change: " + missed.getMessage(), missed);
            }
            CatchUp c = members.catchUps().stream().filter(x -> x.peer().nodeId().equals(nodeId)).findFirst().orElseThrow();
            if (!promotion.commit()) {
                return false;
            }
            synchronized (this) {
                removeCatchUp(nodeId);
                List<Target> next = new ArrayList<>(members.targets());
                next.add(new Target(c.peer(), latencyOf.apply(nodeId)));
                members = members.withTargets(next);
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

    /**
     * Sends one run of a rebuild at the volume's current generation, in order with the changes:
     * the membership is held shared while the frame is handed to the connection.
     */
    <T> T sendRebuildRun(Function<Generation, T> send) throws IOException {
        membership.readLock().lock();
        try {
            throwIfStopped();
            return send.apply(members.generation());
        } finally {
            membership.readLock().unlock();
        }
    }

    // ---- I/O ---------------------------------------------------------------------------------

    void read(long offset, ByteBuffer dst) throws IOException {
        int position = dst.position();
        while (true) {
            admit();
            local.read(dst, offset);
            delays.at(TestDelays.OWNER_READ);
            if (stillOwner()) {
                return;
            }
            throwIfStopped();
            dst.position(position); // the lease ran out meanwhile: wait for it and read again
        }
    }

    List<Extent> extents(long offset, long length) throws IOException {
        while (true) {
            admit();
            List<Extent> extents = local.extents(offset, length);
            if (stillOwner()) {
                return extents;
            }
            throwIfStopped();
        }
    }

    void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        write(offset, new ByteBuffer[] {src}, fua);
    }

    /** One write in parts (as it came off the socket): one message to each copy, one range lock. */
    void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        try (Change change = change(offset, BlockDevice.lengthOf(parts))) {
            change.replicate(p -> replication.write(p.address(), uuid, change.generation(), offset, parts, fua), () -> {
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
            change.replicate(p -> replication.trim(p.address(), uuid, change.generation(), offset, length, fua), () -> {
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
                try {
                    local.fenced(change.generation(), () -> {
                        local.writeZeroesFast(offset, length, mayPunch);
                        return null;
                    });
                } catch (OperationNotSupportedException e) {
                    throw new DeviceException(NbdError.ENOTSUP, "this file system cannot zero a range quickly", e);
                }
            }
            change.replicate(p -> replication.writeZeroes(p.address(), uuid, change.generation(), offset, length, mayPunch,
                    fua), () -> {
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
            change.replicate(p -> replication.flush(p.address(), uuid, change.generation()), local::flush);
        }
    }

    private interface LocalWork {
        void run() throws IOException;
    }

    /**
     * Starts a change of {@code [offset, offset + length)} (length 0: no range, as for FLUSH):
     * lets it in (lease, stop, enough copies for a change of data), takes the membership shared, snapshots the copies
     * to send to, and orders the change against overlapping ones so that every copy applies them
     * in the same order.
     */
    private Change change(long offset, long length) throws IOException {
        admit();
        membership.readLock().lock();
        try {
            Members m = members;
            if (length > 0 && 1 + m.targets().size() < minCopies) {
                throw new IOException("volume " + name + " is read-only: " + (1 + m.targets().size()) + " cop"
                        + (m.targets().isEmpty() ? "y" : "ies") + " in sync, fewer than its --min-copies " + minCopies);
            }
            RangeLocks.Held held = length == 0 ? null : ranges.lock(offset, length);
            return new Change(m, held);
        } catch (IOException | RuntimeException | Error e) {
            membership.readLock().unlock();
            throw e;
        }
    }

    /** One change in progress; {@link #close()} releases its locks. */
    private final class Change implements AutoCloseable {
        private final Members members;
        private final RangeLocks.Held held;

        Change(Members members, RangeLocks.Held held) {
            this.members = members;
            this.held = held;
        }

        Generation generation() {
            return members.generation();
        }

        void replicate(Function<Peer, CompletableFuture<Void>> send, LocalWork localWork) throws IOException {
            throwIfStopped();
            List<Target> targets = members.targets();
            List<CatchUp> catchUps = members.catchUps();
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
            delays.at(TestDelays.OWNER_CHANGE);
            try {
                // The owner's own copy is fenced like any other: once a newer owner (a move) has
                // fenced it, nothing of this one lands there.
                local.fenced(members.generation(), () -> {
                    localWork.run();
                    return null;
                });
            } catch (StaleEpochException e) {
                stop("a newer owner fenced this node's copy (" + e.getMessage() + ")");
                localFailure = e;
            } catch (IOException e) {
                localFailure = e;
            }
            int failed = 0;
            for (int i = 0; i < targets.size(); i++) {
                Throwable cause = outcomeUnlessRemoved(sent.get(i), targets.get(i).peer());
                if (cause != null) {
                    checkNotDeposed(targets.get(i).peer(), cause);
                    catalogue.copyFailed(ReplicatedVolume.this, targets.get(i).peer(), cause);
                    failed++;
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
            if (held != null && 1 + targets.size() - failed < minCopies) {
                throw new IOException("volume " + name + ": only " + (1 + targets.size() - failed) + " cop"
                        + (targets.size() - failed == 0 ? "y" : "ies") + " applied the change, fewer than its --min-copies "
                        + minCopies + "; it is not acknowledged");
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

    /**
     * Like {@link #outcome}, but stops waiting once the copy has left the set (another change
     * took it out of sync in the catalogue): then its answer no longer matters.
     */
    private Throwable outcomeUnlessRemoved(CompletableFuture<?> f, Peer peer) throws IOException {
        while (true) {
            try {
                f.get(100, TimeUnit.MILLISECONDS);
                return null;
            } catch (java.util.concurrent.TimeoutException e) {
                if (members.targets().stream().noneMatch(t -> t.peer().nodeId().equals(peer.nodeId()))) {
                    return new IOException("the copy on node " + peer.nodeId() + " was taken out of sync meanwhile");
                }
            } catch (ExecutionException e) {
                return e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the copies of " + name, e);
            }
        }
    }

    /** The failure of a sent request, or null when it succeeded. */
    private Throwable outcome(CompletableFuture<?> f) throws IOException {
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
            stop("copy on node " + peer.nodeId() + " knows a newer owner");
            throw new IOException("volume " + name + ": " + stoppedBecause(), cause);
        }
    }
}
