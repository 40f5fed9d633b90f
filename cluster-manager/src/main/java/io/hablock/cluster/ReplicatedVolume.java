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
import io.hablock.nbd.DeviceError;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.IoContext;
import io.hablock.nbd.WouldBlockException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A volume as its owner serves it: the local copy plus every other in-sync copy, reached over
 * the replication channel. A change is applied locally and sent to every in-sync copy in
 * parallel; it completes only when all have applied it. A copy that fails is first taken out of
 * the in-sync set in ZooKeeper (through {@link Catalogue}); if that cannot be done the change
 * fails and nothing is acknowledged. No thread waits for the copies: a change's local part runs
 * on an I/O worker, its outcome is settled by the last answer (or, when a copy failed, on the
 * {@code failures} executor, which may wait on ZooKeeper).
 *
 * <p>Who may be answered, and when ({@link ServingGate}): a request waits for this node's
 * {@link Lease} (an owner that cannot prove its ZooKeeper session alive answers nothing), and a
 * read is answered only if, <em>after</em> its data was read, the lease still held and no newer
 * owner had fenced this node's copy. Every change, the local one included, runs under the
 * volume's {@link Generation} and is refused by a copy (or the local file) that a newer owner, or
 * a newer membership, has fenced. Below {@code minCopies} in-sync copies (the owner's included)
 * writes are refused. The set of copies written to changes only with the catalogue
 * ({@link Membership}).
 */
final class ReplicatedVolume {
    /** A copy other than the owner's. */
    record Peer(String nodeId, InetSocketAddress address) {
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

    private final String name;
    private final UUID uuid;
    private final long epoch;
    private final int minCopies;
    private final LocalVolume local;
    private final ReplicationClient replication;
    private final Catalogue catalogue;
    private final TestDelays delays;
    private final ServingGate gate;
    private final Membership membership;
    private final Executor failures;

    ReplicatedVolume(String name, UUID uuid, long epoch, int minCopies, Generation generation, LocalVolume local,
            List<Peer> peers, ReplicationClient replication, Catalogue catalogue, Lease lease, long session,
            TestDelays delays, Function<String, Timer> latencyOf, Executor failures) {
        this.name = name;
        this.uuid = uuid;
        this.epoch = epoch;
        this.minCopies = minCopies;
        this.local = local;
        this.replication = replication;
        this.catalogue = catalogue;
        this.delays = delays;
        this.failures = failures;
        this.gate = new ServingGate(name, epoch, local, lease, session);
        this.membership = new Membership(this, local, generation, peers, replication, catalogue, gate, latencyOf);
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
        return gate.session();
    }

    Generation generation() {
        return membership.now().generation();
    }

    long size() {
        return local.size();
    }

    LocalVolume local() {
        return local;
    }

    /** The copies written to (the owner's aside). */
    List<Peer> peers() {
        return membership.peers();
    }

    boolean hasPeers() {
        Membership.Members m = membership.now();
        return !m.targets().isEmpty() || !m.catchUps().isEmpty();
    }

    /** True when writes are acknowledged: enough copies in sync. */
    boolean isWritable() {
        return 1 + membership.now().targets().size() >= minCopies;
    }

    /** The set of copies written to, for the owner's and the rebuilds' changes of it. */
    Membership membership() {
        return membership;
    }

    // ---- serving (see ServingGate) ----------------------------------------------------------

    /** The catalogue records the volume served here: requests go through. */
    void open() {
        gate.open();
    }

    /** Refuses every later request: this node no longer serves the volume at this epoch. Final. */
    void stop(String why) {
        gate.stop(why);
    }

    boolean isStopped() {
        return gate.isStopped();
    }

    /** Why the volume is no longer served here, or null while it is. */
    String stoppedBecause() {
        return gate.stoppedBecause();
    }

    /** Returns once no change is in flight (after {@link #stop}, none starts any more). */
    void awaitIdle() {
        membership.awaitIdle();
    }

    /** Stops sending to a copy whose removal from the in-sync set was recorded. */
    boolean removePeer(String nodeId) {
        return membership.removePeer(nodeId);
    }

    // ---- I/O ---------------------------------------------------------------------------------

    void read(long offset, ByteBuffer dst) throws IOException {
        int position = dst.position();
        while (true) {
            gate.admit();
            waitableDelay(TestDelays.OWNER_READ);
            local.read(dst, offset);
            delays.at(TestDelays.OWNER_READ);
            if (gate.stillOwner()) {
                return;
            }
            gate.throwIfStopped();
            dst.position(position); // the lease ran out meanwhile: wait for it and read again
        }
    }

    List<Extent> extents(long offset, long length) throws IOException {
        while (true) {
            gate.admit();
            List<Extent> extents = local.extents(offset, length);
            if (gate.stillOwner()) {
                return extents;
            }
            gate.throwIfStopped();
        }
    }

    /** {@link #write(long, ByteBuffer[], boolean)} of one buffer. */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        write(offset, new ByteBuffer[] {src}, fua);
    }

    /**
     * A change, waited for on this thread (a caller that may not wait, the network thread, gets a
     * {@link WouldBlockException} instead when the change cannot start and finish at once).
     */
    void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        await(changeNow(offset, BlockDevice.lengthOf(parts), writeOf(offset, parts, fua)));
    }

    void trim(long offset, long length, boolean fua) throws IOException {
        await(changeNow(offset, length, trimOf(offset, length, fua)));
    }

    void writeZeroes(long offset, long length, boolean mayPunch, boolean fastOnly, boolean fua) throws IOException {
        await(changeNow(offset, length, writeZeroesOf(offset, length, mayPunch, fastOnly, fua)));
    }

    void flush() throws IOException {
        await(changeNow(0, 0, flushOf()));
    }

    /**
     * One write in parts (as it came off the socket): one message to each copy, one range lock.
     * Holds no thread while the copies answer: the local write runs on {@code io}'s workers.
     */
    CompletableFuture<Void> writeAsync(long offset, ByteBuffer[] parts, boolean fua, IoContext io) {
        return changeAsync(offset, BlockDevice.lengthOf(parts), io, writeOf(offset, parts, fua));
    }

    CompletableFuture<Void> trimAsync(long offset, long length, boolean fua, IoContext io) {
        return changeAsync(offset, length, io, trimOf(offset, length, fua));
    }

    CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean mayPunch, boolean fastOnly, boolean fua,
            IoContext io) {
        return changeAsync(offset, length, io, writeZeroesOf(offset, length, mayPunch, fastOnly, fua));
    }

    CompletableFuture<Void> flushAsync(IoContext io) {
        return changeAsync(0, 0, io, flushOf());
    }

    private Work writeOf(long offset, ByteBuffer[] parts, boolean fua) {
        return new Work((p, g) -> replication.write(p.address(), uuid, g, offset, parts, fua), null, () -> {
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

    private Work trimOf(long offset, long length, boolean fua) {
        return new Work((p, g) -> replication.trim(p.address(), uuid, g, offset, length, fua), null, () -> {
            local.trim(offset, length);
            if (fua) {
                local.flush();
            }
        });
    }

    private Work writeZeroesOf(long offset, long length, boolean mayPunch, boolean fastOnly, boolean fua) {
        // FAST_ZERO: refused locally before anything is sent, so then no copy changes.
        LocalWork fastFirst = !fastOnly ? null : () -> {
            try {
                local.writeZeroesFast(offset, length, mayPunch);
            } catch (OperationNotSupportedException e) {
                throw new DeviceException(DeviceError.NOT_SUPPORTED, "this file system cannot zero a range quickly", e);
            }
        };
        return new Work((p, g) -> replication.writeZeroes(p.address(), uuid, g, offset, length, mayPunch, fua), fastFirst,
                () -> {
                    if (!fastOnly) {
                        local.writeZeroes(offset, length, mayPunch);
                    }
                    if (fua) {
                        local.flush();
                    }
                });
    }

    private Work flushOf() {
        return new Work((p, g) -> replication.flush(p.address(), uuid, g), null, local::flush);
    }

    private interface LocalWork {
        void run() throws IOException;
    }

    private interface Send {
        CompletableFuture<Void> to(Peer peer, Generation generation);
    }

    /**
     * What a change does: what it sends to each copy, what it does locally, and what it must do
     * locally first, before anything is sent (null: nothing).
     */
    private record Work(Send send, LocalWork first, LocalWork local) {
    }

    /** A change whose message is out to every member and whose local part is done. */
    private record Sent(Membership.Change change, List<Membership.Target> targets, List<CompletableFuture<Void>> toTargets,
            List<Membership.CatchUp> catchUps, List<CompletableFuture<Void>> toCatchUps, IOException localFailure) {
        boolean aTargetFailed() {
            return toTargets.stream().anyMatch(CompletableFuture::isCompletedExceptionally);
        }
    }

    /** Lets a change in (lease, stop), waiting for it on a worker if need be, and starts it. */
    private CompletableFuture<Void> changeAsync(long offset, long length, IoContext io, Work work) {
        CompletableFuture<Void> admitted;
        try {
            admitted = gate.admitsNow() ? CompletableFuture.completedFuture(null) : io.blocking(() -> {
                gate.admit();
                return null;
            });
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        return admitted.thenCompose(x -> membership.beginAsync(offset, length, minCopies))
                .thenCompose(change -> run(change, io, work));
    }

    /** Like {@link #changeAsync}, its waits (lease, membership, range) on this thread. */
    private CompletableFuture<Void> changeNow(long offset, long length, Work work) {
        try {
            Membership.Change change;
            if (BlockDevice.mayWait()) {
                gate.admit();
                change = await(membership.beginAsync(offset, length, minCopies));
            } else {
                gate.admit(); // throws WouldBlockException rather than wait
                change = membership.tryBegin(offset, length, minCopies);
                if (change == null) {
                    throw new WouldBlockException("volume " + name + ": an overlapping change is in flight");
                }
                if (!change.members().targets().isEmpty() || !change.members().catchUps().isEmpty()) {
                    change.close();
                    throw new WouldBlockException("volume " + name + ": the change goes to copies");
                }
            }
            return run(change, IoContext.CALLER, work);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Runs a begun change to its end; the change is closed (its range freed) after its outcome is known. */
    private CompletableFuture<Void> run(Membership.Change change, IoContext io, Work work) {
        CompletableFuture<Void> done;
        try {
            done = io.blocking(() -> send(change, work)).thenCompose(this::settle);
        } catch (RuntimeException e) {
            done = CompletableFuture.failedFuture(e);
        }
        return done.whenComplete((ok, failure) -> change.close());
    }

    /**
     * Sends the change to every member and applies it locally, fenced by its generation; on a
     * thread that may block (the local part is a pwrite, an fsync).
     */
    private Sent send(Membership.Change change, Work work) throws IOException {
        gate.throwIfStopped();
        waitableDelay(TestDelays.OWNER_CHANGE);
        Membership.Members members = change.members();
        Generation generation = members.generation();
        if (work.first() != null) {
            local.fenced(generation, () -> {
                work.first().run();
                return null;
            });
        }
        List<Membership.Target> targets = members.targets();
        List<CompletableFuture<Void>> toTargets = new ArrayList<>(targets.size());
        long start = System.nanoTime();
        for (Membership.Target t : targets) {
            CompletableFuture<Void> f = work.send().to(t.peer(), generation);
            f.whenComplete((ok, failure) -> {
                if (failure == null) {
                    t.latency().update(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                }
            });
            // A copy taken out of sync by another change meanwhile: its answer no longer matters.
            toTargets.add(f.applyToEither(t.removed(), x -> x));
        }
        List<Membership.CatchUp> catchUps = members.catchUps();
        List<CompletableFuture<Void>> toCatchUps = new ArrayList<>(catchUps.size());
        for (Membership.CatchUp c : catchUps) {
            toCatchUps.add(work.send().to(c.peer(), generation));
        }
        IOException localFailure = null;
        delays.at(TestDelays.OWNER_CHANGE);
        try {
            // The owner's own copy is fenced like any other: once a newer owner (a move) has
            // fenced it, nothing of this one lands there.
            local.fenced(generation, () -> {
                work.local().run();
                return null;
            });
        } catch (StaleEpochException e) {
            gate.stop("a newer owner fenced this node's copy (" + e.getMessage() + ")");
            localFailure = e;
        } catch (IOException e) {
            localFailure = e;
        }
        return new Sent(change, targets, toTargets, catchUps, toCatchUps, localFailure);
    }

    /**
     * Once every member answered (or left the set): the outcome. A copy that failed is first
     * taken out of sync in the catalogue, which waits on ZooKeeper, so that runs on
     * {@link #failures}, never on the thread that completed the last answer (a network thread).
     */
    private CompletableFuture<Void> settle(Sent s) {
        List<CompletableFuture<Void>> all = new ArrayList<>(s.toTargets());
        all.addAll(s.toCatchUps());
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handle((x, ignored) -> s)
                .thenCompose(answered -> answered.aTargetFailed()
                        ? CompletableFuture.supplyAsync(() -> conclude(answered), failures).thenCompose(c -> c)
                        : conclude(answered));
    }

    /** Whether the change may be acknowledged, all answers in: throws when it may not. */
    private CompletableFuture<Void> conclude(Sent s) {
        try {
            int failed = 0;
            Throwable noSpace = null;
            for (int i = 0; i < s.targets().size(); i++) {
                Throwable cause = causeOf(s.toTargets().get(i));
                if (cause != null) {
                    Peer peer = s.targets().get(i).peer();
                    membership.checkNotDeposed(peer, cause);
                    if (isNoSpace(cause)) {
                        // A full copy is not a broken one: the change fails (ENOSPC) and, as after
                        // any failed write, its range is unknown until written again; the copy
                        // stays in sync, for it has every acknowledged write.
                        noSpace = cause;
                        continue;
                    }
                    catalogue.copyFailed(this, peer, cause);
                    failed++;
                }
            }
            for (int i = 0; i < s.catchUps().size(); i++) {
                Throwable cause = causeOf(s.toCatchUps().get(i));
                if (cause != null) {
                    membership.checkNotDeposed(s.catchUps().get(i).peer(), cause);
                    s.catchUps().get(i).broken().compareAndSet(null, cause); // that rebuild fails; the write does not
                }
            }
            if (s.localFailure() != null) {
                throw s.localFailure();
            }
            if (noSpace != null) {
                throw new DeviceException(DeviceError.NO_SPACE, "volume " + name + ": " + noSpace.getMessage(), noSpace);
            }
            int applied = 1 + s.targets().size() - failed;
            if (s.change().changesData() && applied < minCopies) {
                throw new IOException("volume " + name + ": only " + applied + " cop" + (applied == 1 ? "y" : "ies")
                        + " applied the change, fewer than its --min-copies " + minCopies + "; it is not acknowledged");
            }
            return CompletableFuture.completedFuture(null);
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static boolean isNoSpace(Throwable cause) {
        return cause instanceof ReplicaRefusedException r && r.reason() == ReplicaRefusedException.Reason.NO_SPACE;
    }

    /** A test delay ahead is not slept on a network thread: the request goes to a worker first. */
    private void waitableDelay(String step) throws WouldBlockException {
        if (!BlockDevice.mayWait() && delays.armed(step)) {
            throw new WouldBlockException("volume " + name + ": test delay " + step + " ahead");
        }
    }

    /** The failure of a completed future, or null when it succeeded. */
    private static Throwable causeOf(CompletableFuture<?> f) {
        try {
            f.join();
            return null;
        } catch (CompletionException e) {
            return e.getCause() == null ? e : e.getCause();
        } catch (CancellationException e) {
            return e;
        }
    }

    /** Waits for {@code f} and gives its failure back as it was thrown. */
    static <T> T await(CompletableFuture<T> f) throws IOException {
        try {
            return f.join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IOException(cause);
        } catch (CancellationException e) {
            throw new IOException("cancelled", e);
        }
    }
}
