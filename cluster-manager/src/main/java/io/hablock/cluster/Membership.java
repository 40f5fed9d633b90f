package io.hablock.cluster;

import com.codahale.metrics.Timer;
import io.hablock.blockstore.Generation;
import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.ReplicatedVolume.Peer;
import io.hablock.cluster.replication.ReplicaRefusedException;
import io.hablock.cluster.replication.ReplicationClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;

/**
 * The copies a served volume writes to, and at which generation. The set changes only with the
 * catalogue: a copy leaves it after the compare-and-set that took it out of sync (or a fresh read
 * that no longer lists it), joins it in the same step as the compare-and-set that put it in sync,
 * with no change in flight; every change of the set moves all members to a new generation, fenced
 * on each, so nothing sent on an older connection lands afterwards. Changes hold the membership
 * shared ({@link #begin}); changing it holds it exclusively.
 */
final class Membership {
    /** A copy written to, with the latency of its replies. */
    record Target(Peer peer, Timer latency) {
    }

    /** A copy being rebuilt: it gets every change, but a failure only spoils the rebuild. */
    record CatchUp(Peer peer, AtomicReference<Throwable> broken) {
    }

    /** Whom changes go to, and at which generation: replaced whole, never changed in place. */
    record Members(Generation generation, List<Target> targets, List<CatchUp> catchUps) {
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

    /** A change in progress: the members it goes to; {@link #close()} lets the membership change again. */
    final class Change implements AutoCloseable {
        private final Members members;
        private final RangeLocks.Held held;

        private Change(Members members, RangeLocks.Held held) {
            this.members = members;
            this.held = held;
        }

        Members members() {
            return members;
        }

        /** True when the change covers a range of data (not a FLUSH). */
        boolean changesData() {
            return held != null;
        }

        @Override
        public void close() {
            try {
                if (held != null) {
                    held.close();
                }
            } finally {
                lock.readLock().unlock();
            }
        }
    }

    private final ReplicatedVolume volume;
    private final LocalVolume local;
    private final ReplicationClient replication;
    private final ReplicatedVolume.Catalogue catalogue;
    private final ServingGate gate;
    private final Function<String, Timer> latencyOf;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final RangeLocks ranges = new RangeLocks();
    private volatile Members members;

    Membership(ReplicatedVolume volume, LocalVolume local, Generation generation, List<Peer> peers,
            ReplicationClient replication, ReplicatedVolume.Catalogue catalogue, ServingGate gate,
            Function<String, Timer> latencyOf) {
        this.volume = volume;
        this.local = local;
        this.replication = replication;
        this.catalogue = catalogue;
        this.gate = gate;
        this.latencyOf = latencyOf;
        this.members = new Members(generation, peers.stream().map(p -> new Target(p, latencyOf.apply(p.nodeId()))).toList(),
                List.of());
    }

    Members now() {
        return members;
    }

    List<Peer> peers() {
        return members.targets().stream().map(Target::peer).toList();
    }

    boolean contains(Peer peer) {
        return members.targets().stream().anyMatch(t -> t.peer().nodeId().equals(peer.nodeId()));
    }

    /**
     * Starts a change of {@code [offset, offset + length)} (length 0: no range, as for FLUSH):
     * takes the membership shared, snapshots the members, and orders the change against
     * overlapping ones so that every copy applies them in the same order.
     *
     * @throws IOException a change of data with fewer than {@code minCopies} copies in sync
     */
    Change begin(long offset, long length, int minCopies) throws IOException {
        lock.readLock().lock();
        try {
            Members m = members;
            if (length > 0 && 1 + m.targets().size() < minCopies) {
                throw new IOException("volume " + volume.name() + " is read-only: " + (1 + m.targets().size()) + " cop"
                        + (m.targets().isEmpty() ? "y" : "ies") + " in sync, fewer than its --min-copies " + minCopies);
            }
            return new Change(m, length == 0 ? null : ranges.lock(offset, length));
        } catch (IOException | RuntimeException | Error e) {
            lock.readLock().unlock();
            throw e;
        }
    }

    /** Returns once no change is in flight (after the gate stopped, none starts any more). */
    void awaitIdle() {
        lock.writeLock().lock();
        lock.writeLock().unlock();
    }

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
        List<String> inSync = catalogue.inSyncNow(volume);
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
     * member persist it, then the catalogue records it. A copy that cannot be fenced is taken out
     * of sync (a copy being rebuilt: its rebuild fails). Called after a copy left the set, so that
     * its data, should it ever claim to be in sync, shows as older than the others'.
     */
    void advanceGeneration() throws IOException {
        lock.writeLock().lock();
        try {
            gate.throwIfStopped();
            fenceMembers(members.generation().next(), null);
        } finally {
            lock.writeLock().unlock();
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
        Throwable probe = outcome(replication.fence(peer.address(), volume.uuid(), members.generation()));
        if (probe != null) {
            checkNotDeposed(peer, probe);
            throw new IOException("cannot fence the copy on node " + peer.nodeId() + ": " + probe.getMessage(), probe);
        }
        lock.writeLock().lock();
        try {
            gate.throwIfStopped();
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
            lock.writeLock().unlock();
        }
    }

    /** Fences the local copy, targets and catch-ups at {@code next}; under the write lock. */
    private void fenceMembers(Generation next, String mustSucceed) throws IOException {
        Members m = members;
        local.raise(next);
        List<CompletableFuture<Generation>> targetFences = new ArrayList<>();
        for (Target t : m.targets()) {
            targetFences.add(replication.fence(t.peer().address(), volume.uuid(), next));
        }
        List<CompletableFuture<Generation>> catchUpFences = new ArrayList<>();
        for (CatchUp c : m.catchUps()) {
            catchUpFences.add(replication.fence(c.peer().address(), volume.uuid(), next));
        }
        for (int i = 0; i < m.targets().size(); i++) {
            Throwable cause = outcome(targetFences.get(i));
            if (cause != null) {
                checkNotDeposed(m.targets().get(i).peer(), cause);
                catalogue.copyFailed(volume, m.targets().get(i).peer(), cause);
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
        catalogue.generationFenced(volume, next);
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
    boolean promote(String nodeId, ReplicatedVolume.Promotion promotion) throws IOException {
        lock.writeLock().lock();
        try {
            gate.throwIfStopped();
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
            lock.writeLock().unlock();
        }
    }

    /** Locks a range against changes (a rebuild copies it meanwhile). */
    RangeLocks.Held lockRange(long offset, long length) {
        return ranges.lock(offset, length);
    }

    /**
     * Hands one frame of a rebuild to the connection at the current generation, in order with
     * the changes: the membership is held shared meanwhile.
     */
    <T> T sendAtCurrentGeneration(Function<Generation, T> send) throws IOException {
        lock.readLock().lock();
        try {
            gate.throwIfStopped();
            return send.apply(members.generation());
        } finally {
            lock.readLock().unlock();
        }
    }

    /** The failure of a sent request, or null when it succeeded. */
    Throwable outcome(CompletableFuture<?> f) throws IOException {
        try {
            f.get();
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the copies of " + volume.name(), e);
        }
    }

    /**
     * Like {@link #outcome}, but stops waiting once the copy has left the set (another change
     * took it out of sync in the catalogue): then its answer no longer matters.
     */
    Throwable outcomeUnlessRemoved(CompletableFuture<?> f, Peer peer) throws IOException {
        while (true) {
            try {
                f.get(100, TimeUnit.MILLISECONDS);
                return null;
            } catch (TimeoutException e) {
                if (!contains(peer)) {
                    return new IOException("the copy on node " + peer.nodeId() + " was taken out of sync meanwhile");
                }
            } catch (ExecutionException e) {
                return e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the copies of " + volume.name(), e);
            }
        }
    }

    /** A copy that knows a newer epoch means another node owns the volume: stop here. */
    void checkNotDeposed(Peer peer, Throwable cause) throws IOException {
        if (cause instanceof ReplicaRefusedException refused
                && refused.reason() == ReplicaRefusedException.Reason.STALE_EPOCH) {
            gate.stop("copy on node " + peer.nodeId() + " knows a newer owner");
            throw new IOException("volume " + volume.name() + ": " + gate.stoppedBecause(), cause);
        }
    }
}
