package io.hablock.cluster;

import com.codahale.metrics.Timer;
import io.hablock.blockstore.Extent;
import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.replication.ReplicaRefusedException;
import io.hablock.cluster.replication.ReplicationClient;
import io.hablock.nativeio.OperationNotSupportedException;
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
    private volatile String fencedBecause;
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
        return !targets.isEmpty();
    }

    /** Refuses every later request: this node is no longer the owner at this epoch. */
    void fence(String why) {
        fencedBecause = why;
    }

    boolean isFenced() {
        return fencedBecause != null;
    }

    private void checkNotFenced() throws IOException {
        String why = fencedBecause;
        if (why != null) {
            throw new IOException("volume " + name + " is no longer served here: " + why);
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
        try (RangeLocks.Held held = lock(offset, src.remaining())) {
            replicateAll(p -> replication.write(p.address(), uuid, epoch, offset, src.duplicate(), fua), () -> {
                local.write(src.duplicate(), offset);
                if (fua) {
                    local.flush();
                }
            });
        }
    }

    void trim(long offset, long length, boolean fua) throws IOException {
        try (RangeLocks.Held held = lock(offset, length)) {
            replicateAll(p -> replication.trim(p.address(), uuid, epoch, offset, length, fua), () -> {
                local.trim(offset, length);
                if (fua) {
                    local.flush();
                }
            });
        }
    }

    void writeZeroes(long offset, long length, boolean mayPunch, boolean fastOnly, boolean fua) throws IOException {
        try (RangeLocks.Held held = lock(offset, length)) {
            if (fastOnly) {
                // Refused locally before anything is sent: then no copy changes.
                checkNotFenced();
                try {
                    local.writeZeroesFast(offset, length, mayPunch);
                } catch (OperationNotSupportedException e) {
                    throw new DeviceException(NbdError.ENOTSUP, "this file system cannot zero a range quickly", e);
                }
            }
            replicateAll(p -> replication.writeZeroes(p.address(), uuid, epoch, offset, length, mayPunch, fua), () -> {
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
        replicateAll(p -> replication.flush(p.address(), uuid, epoch), local::flush);
    }

    /** Tells every copy the epoch, so that messages of older owners are refused from now on. */
    void fencePeers() throws IOException {
        replicateAll(p -> replication.fence(p.address(), uuid, epoch), () -> {
        });
    }

    private interface LocalWork {
        void run() throws IOException;
    }

    /**
     * Orders a change of {@code [offset, offset + length)} against overlapping ones, so that every
     * copy applies them in the same order. Alone, a volume needs no such order.
     */
    private RangeLocks.Held lock(long offset, long length) {
        return targets.isEmpty() ? null : ranges.lock(offset, length);
    }

    private void replicateAll(Function<Peer, CompletableFuture<Void>> send, LocalWork localWork) throws IOException {
        checkNotFenced();
        List<Target> targets = this.targets;
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
        IOException localFailure = null;
        try {
            localWork.run();
        } catch (IOException e) {
            localFailure = e;
        }
        for (int i = 0; i < targets.size(); i++) {
            try {
                sent.get(i).get();
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof ReplicaRefusedException refused
                        && refused.reason() == ReplicaRefusedException.Reason.STALE_EPOCH) {
                    fence("copy on node " + targets.get(i).peer().nodeId() + " knows a newer owner");
                    throw new IOException("volume " + name + ": " + fencedBecause, cause);
                }
                onFailure.copyFailed(this, targets.get(i).peer(), cause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the copies of " + name, e);
            }
        }
        if (localFailure != null) {
            throw localFailure;
        }
    }

}
