package io.hablock.cluster;

import com.codahale.metrics.Timer;
import io.hablock.blockstore.Extent;
import io.hablock.blockstore.Generation;
import io.hablock.blockstore.LocalVolume;
import io.hablock.blockstore.StaleEpochException;
import io.hablock.cluster.replication.ReplicationClient;
import io.hablock.nativeio.OperationNotSupportedException;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.protocol.NbdError;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A volume as its owner serves it: the local copy plus every other in-sync copy, reached over
 * the replication channel. A change is applied locally and sent to every in-sync copy in
 * parallel; it returns only when all have applied it. A copy that fails is first taken out of
 * the in-sync set in ZooKeeper (through {@link Catalogue}); if that cannot be done the change
 * fails and nothing is acknowledged.
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
        this.delays = delays;
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

    void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        write(offset, new ByteBuffer[] {src}, fua);
    }

    /** One write in parts (as it came off the socket): one message to each copy, one range lock. */
    void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        try (Membership.Change change = change(offset, BlockDevice.lengthOf(parts))) {
            replicate(change, p -> replication.write(p.address(), uuid, change.members().generation(), offset, parts, fua), () -> {
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
        try (Membership.Change change = change(offset, length)) {
            replicate(change, p -> replication.trim(p.address(), uuid, change.members().generation(), offset, length, fua), () -> {
                local.trim(offset, length);
                if (fua) {
                    local.flush();
                }
            });
        }
    }

    void writeZeroes(long offset, long length, boolean mayPunch, boolean fastOnly, boolean fua) throws IOException {
        try (Membership.Change change = change(offset, length)) {
            if (fastOnly) {
                // Refused locally before anything is sent: then no copy changes.
                try {
                    local.fenced(change.members().generation(), () -> {
                        local.writeZeroesFast(offset, length, mayPunch);
                        return null;
                    });
                } catch (OperationNotSupportedException e) {
                    throw new DeviceException(NbdError.ENOTSUP, "this file system cannot zero a range quickly", e);
                }
            }
            replicate(change, p -> replication.writeZeroes(p.address(), uuid, change.members().generation(), offset, length, mayPunch,
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
        try (Membership.Change change = change(0, 0)) {
            replicate(change, p -> replication.flush(p.address(), uuid, change.members().generation()), local::flush);
        }
    }

    private interface LocalWork {
        void run() throws IOException;
    }

    /** Lets a change in (lease, stop) and starts it (enough copies for a change of data, its range). */
    private Membership.Change change(long offset, long length) throws IOException {
        gate.admit();
        return membership.begin(offset, length, minCopies);
    }

    /**
     * Sends the change to every member and applies it locally, fenced by its generation: returns
     * once every copy applied it, or was taken out of sync; throws when it may not be acknowledged.
     */
    private void replicate(Membership.Change change, Function<Peer, CompletableFuture<Void>> send, LocalWork localWork)
            throws IOException {
        gate.throwIfStopped();
        Membership.Members members = change.members();
        List<Membership.Target> targets = members.targets();
        List<Membership.CatchUp> catchUps = members.catchUps();
        List<CompletableFuture<Void>> sent = new ArrayList<>(targets.size());
        long start = System.nanoTime();
        for (Membership.Target t : targets) {
            CompletableFuture<Void> f = send.apply(t.peer());
            f.whenComplete((ok, failure) -> {
                if (failure == null) {
                    t.latency().update(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                }
            });
            sent.add(f);
        }
        List<CompletableFuture<Void>> toCatchUps = new ArrayList<>(catchUps.size());
        for (Membership.CatchUp c : catchUps) {
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
            gate.stop("a newer owner fenced this node's copy (" + e.getMessage() + ")");
            localFailure = e;
        } catch (IOException e) {
            localFailure = e;
        }
        int failed = 0;
        for (int i = 0; i < targets.size(); i++) {
            Throwable cause = membership.outcomeUnlessRemoved(sent.get(i), targets.get(i).peer());
            if (cause != null) {
                membership.checkNotDeposed(targets.get(i).peer(), cause);
                catalogue.copyFailed(this, targets.get(i).peer(), cause);
                failed++;
            }
        }
        for (int i = 0; i < catchUps.size(); i++) {
            Throwable cause = membership.outcome(toCatchUps.get(i));
            if (cause != null) {
                membership.checkNotDeposed(catchUps.get(i).peer(), cause);
                catchUps.get(i).broken().compareAndSet(null, cause); // that rebuild fails; the write does not
            }
        }
        if (localFailure != null) {
            throw localFailure;
        }
        if (change.changesData() && 1 + targets.size() - failed < minCopies) {
            throw new IOException("volume " + name + ": only " + (1 + targets.size() - failed) + " cop"
                    + (targets.size() - failed == 0 ? "y" : "ies") + " applied the change, fewer than its --min-copies "
                    + minCopies + "; it is not acknowledged");
        }
    }
}
