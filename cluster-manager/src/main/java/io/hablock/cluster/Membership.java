package io.hablock.cluster;

import com.codahale.metrics.Timer;
import io.hablock.blockstore.Generation;
import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.ReplicatedVolume.Peer;
import io.hablock.cluster.replication.ReplicaRefusedException;
import io.hablock.cluster.replication.ReplicationClient;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * The copies a served volume writes to, and at which generation. The set changes only with the
 * catalogue: a copy leaves it after the compare-and-set that took it out of sync (or a fresh read
 * that no longer lists it), joins it in the same step as the compare-and-set that put it in sync,
 * with no change in flight; every change of the set moves all members to a new generation, fenced
 * on each, so nothing sent on an older connection lands afterwards. Changes hold the membership
 * shared ({@link #beginAsync}); changing it holds it exclusively.
 *
 * <p>A change holds no thread: it is admitted (or queued while the membership changes), gets its
 * range, and is released by whichever thread finishes it. Only the rare exclusive holders (a
 * fence, a promotion: never an I/O thread) wait.
 */
final class Membership {
    /**
     * A copy written to, with the latency of its replies; {@code removed} fails once the copy has
     * left the set (then no change waits for its answer any more).
     */
    record Target(Peer peer, Timer latency, CompletableFuture<Void> removed) {
        Target(Peer peer, Timer latency) {
            this(peer, latency, new CompletableFuture<>());
        }
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

    /**
     * A change in progress: the members it goes to; {@link #close()} (once, from any thread) lets
     * the membership change again.
     */
    final class Change implements AutoCloseable {
        private final Members members;
        private final RangeLocks.Held held;
        private final AtomicBoolean closed = new AtomicBoolean();

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
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            try {
                if (held != null) {
                    held.close();
                }
            } finally {
                exitShared();
            }
        }
    }

    private final ReplicatedVolume volume;
    private final LocalVolume local;
    private final ReplicationClient replication;
    private final ReplicatedVolume.Catalogue catalogue;
    private final ServingGate gate;
    private final Function<String, Timer> latencyOf;
    private final RangeLocks ranges = new RangeLocks();
    /** Guards the next four: who holds the membership, shared or exclusive, and who waits. */
    private final Object holders = new Object();
    private int changesInFlight;
    private boolean exclusive;
    private int exclusiveWaiting;
    private final ArrayDeque<Runnable> admissions = new ArrayDeque<>();
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
     * takes the membership shared, orders the change against overlapping ones so that every copy
     * applies them in the same order, and snapshots the members. Completes at once, or when the
     * membership change or the overlapping changes it waits for are done, on the thread that
     * finished them: dependent stages must not block. Fails (an {@link IOException}) for a change
     * of data with fewer than {@code minCopies} copies in sync.
     */
    CompletableFuture<Change> beginAsync(long offset, long length, int minCopies) {
        CompletableFuture<Change> begun = new CompletableFuture<>();
        enterShared(() -> {
            if (length == 0) {
                begun.complete(new Change(members, null));
                return;
            }
            ranges.lockAsync(offset, length).thenAccept(held -> admit(begun, held, minCopies));
        });
        return begun;
    }

    /**
     * Like {@link #beginAsync}, for a caller that must not wait: the change when it can start
     * now, else null (and nothing held).
     */
    Change tryBegin(long offset, long length, int minCopies) throws IOException {
        if (!tryEnterShared()) {
            return null;
        }
        RangeLocks.Held held = null;
        if (length > 0 && (held = ranges.tryLock(offset, length)) == null) {
            exitShared();
            return null;
        }
        CompletableFuture<Change> begun = new CompletableFuture<>();
        if (held == null) {
            begun.complete(new Change(members, null));
        } else {
            admit(begun, held, minCopies);
        }
        return ReplicatedVolume.await(begun);
    }

    /** A change of data got its range: it starts with the members of now, if there are enough. */
    private void admit(CompletableFuture<Change> begun, RangeLocks.Held held, int minCopies) {
        Change change = new Change(members, held);
        int copies = 1 + change.members().targets().size();
        if (copies < minCopies) {
            change.close();
            begun.completeExceptionally(new IOException("volume " + volume.name() + " is read-only: " + copies + " cop"
                    + (copies == 1 ? "y" : "ies") + " in sync, fewer than its --min-copies " + minCopies));
            return;
        }
        begun.complete(change);
    }

    // ---- who holds the membership -------------------------------------------------------------

    /** Runs {@code admitted} holding the membership shared: now, or once no exclusive holder waits. */
    private void enterShared(Runnable admitted) {
        synchronized (holders) {
            if (exclusive || exclusiveWaiting > 0) {
                admissions.add(admitted);
                return;
            }
            changesInFlight++;
        }
        admitted.run();
    }

    private boolean tryEnterShared() {
        synchronized (holders) {
            if (exclusive || exclusiveWaiting > 0) {
                return false;
            }
            changesInFlight++;
            return true;
        }
    }

    private void exitShared() {
        synchronized (holders) {
            if (--changesInFlight == 0) {
                holders.notifyAll();
            }
        }
    }

    /** Waits until no change is in flight and holds the membership alone; not on an I/O thread. */
    private void lockExclusive() {
        boolean interrupted = false;
        synchronized (holders) {
            exclusiveWaiting++;
            try {
                while (exclusive || changesInFlight > 0) {
                    try {
                        holders.wait();
                    } catch (InterruptedException e) {
                        interrupted = true; // as Lock.lock(): finish waiting, keep the flag
                    }
                }
            } finally {
                exclusiveWaiting--;
            }
            exclusive = true;
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Lets changes in again: those queued meanwhile start, unless another exclusive holder waits. */
    private void unlockExclusive() {
        List<Runnable> admitted;
        synchronized (holders) {
            exclusive = false;
            holders.notifyAll();
            if (exclusiveWaiting > 0) {
                return;
            }
            admitted = new ArrayList<>(admissions);
            admissions.clear();
            changesInFlight += admitted.size();
        }
        admitted.forEach(Runnable::run);
    }

    /** Holds the membership shared for {@code work}, waiting if it changes; not on an I/O thread. */
    private <T> T shared(Function<Members, T> work) {
        CompletableFuture<Void> in = new CompletableFuture<>();
        enterShared(() -> in.complete(null));
        in.join();
        try {
            return work.apply(members);
        } finally {
            exitShared();
        }
    }

    /** Returns once no change is in flight (after the gate stopped, none starts any more). */
    void awaitIdle() {
        lockExclusive();
        unlockExclusive();
    }

    /**
     * Stops sending to a copy whose removal from the in-sync set was recorded; the changes still
     * waiting for its answer stop waiting.
     */
    boolean removePeer(String nodeId) {
        List<Target> gone;
        synchronized (this) {
            Members m = members;
            List<Target> next = new ArrayList<>(m.targets());
            gone = next.stream().filter(t -> t.peer().nodeId().equals(nodeId)).toList();
            next.removeAll(gone);
            members = m.withTargets(next);
        }
        for (Target t : gone) {
            t.removed().completeExceptionally(
                    new IOException("the copy on node " + nodeId + " was taken out of sync meanwhile"));
        }
        return !gone.isEmpty();
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
        lockExclusive();
        try {
            gate.throwIfStopped();
            fenceMembers(members.generation().next(), null);
        } finally {
            unlockExclusive();
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
        lockExclusive();
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
            unlockExclusive();
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
        lockExclusive();
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
            unlockExclusive();
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
        gate.throwIfStopped();
        T sent = shared(m -> gate.isStopped() ? null : send.apply(m.generation()));
        gate.throwIfStopped();
        return sent;
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

    /** A copy that knows a newer epoch means another node owns the volume: stop here. */
    void checkNotDeposed(Peer peer, Throwable cause) throws IOException {
        if (cause instanceof ReplicaRefusedException refused
                && refused.reason() == ReplicaRefusedException.Reason.STALE_EPOCH) {
            gate.stop("copy on node " + peer.nodeId() + " knows a newer owner");
            throw new IOException("volume " + volume.name() + ": " + gate.stoppedBecause(), cause);
        }
    }
}
