package io.hablock.cluster;

import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.RebuildProgress;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeState;
import io.hablock.cluster.replication.ReplicaRefusedException;
import io.hablock.cluster.replication.ReplicationClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings one copy of a volume up to date, run by the volume's owner: new changes reach the copy
 * from the start (it is a catch-up target), then every chunk whose checksum differs from the
 * owner's is sent (LZ4 on the wire; zero chunks as WRITE_ZEROES), at most at the configured rate.
 * A new, empty copy thus receives only allocated data; a stale copy only what changed while it
 * was away (delta). At the end the copy joins the in-sync set atomically (compare-and-set, with no
 * change in flight). Any failure leaves it stale, to be tried again; a partial copy is never
 * marked in sync.
 */
final class Rebuild implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(Rebuild.class);
    private static final long RUN_BYTES = 1 << 20;
    private static final int RUNS_IN_FLIGHT = 8;
    private static final long PROGRESS_EVERY_NS = TimeUnit.SECONDS.toNanos(1);

    private final ReplicatedVolume volume;
    private final String vdisk;
    private final ReplicatedVolume.Peer target;
    private final ReplicationClient replication;
    private final ClusterClient cluster;
    private final String ownerId;
    private final long bytesPerSecond;
    private final Consumer<Long> sentBytes;
    private final Runnable onEnd;
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private volatile boolean succeeded;
    /** An in-sync copy checked after a failover (it gets every change already), not a rebuild. */
    private final boolean reconcileOnly;
    private final ReplicatedVolume.Catalogue onCopyFailure;
    private final TestDelays delays;

    Rebuild(ReplicatedVolume volume, String vdisk, ReplicatedVolume.Peer target, ReplicationClient replication,
            ClusterClient cluster, String ownerId, long bytesPerSecond, Consumer<Long> sentBytes, TestDelays delays,
            Runnable onEnd) {
        this(volume, vdisk, target, replication, cluster, ownerId, bytesPerSecond, sentBytes, onEnd, false, null, delays);
    }

    /**
     * After a failover, makes an in-sync copy identical to the new owner's: writes the old owner
     * had sent but not acknowledged when it died may have reached some copies and not others.
     * Differences are pushed like a rebuild; a copy that fails is taken out of sync.
     */
    static Rebuild reconcile(ReplicatedVolume volume, String vdisk, ReplicatedVolume.Peer target,
            ReplicationClient replication, ClusterClient cluster, String ownerId, Consumer<Long> sentBytes, Runnable onEnd,
            ReplicatedVolume.Catalogue onCopyFailure) {
        return new Rebuild(volume, vdisk, target, replication, cluster, ownerId, 0, sentBytes, onEnd, true, onCopyFailure,
                TestDelays.NONE);
    }

    private Rebuild(ReplicatedVolume volume, String vdisk, ReplicatedVolume.Peer target, ReplicationClient replication,
            ClusterClient cluster, String ownerId, long bytesPerSecond, Consumer<Long> sentBytes, Runnable onEnd,
            boolean reconcileOnly, ReplicatedVolume.Catalogue onCopyFailure, TestDelays delays) {
        this.delays = delays;
        this.reconcileOnly = reconcileOnly;
        this.onCopyFailure = onCopyFailure;
        this.volume = volume;
        this.vdisk = vdisk;
        this.target = target;
        this.replication = replication;
        this.cluster = cluster;
        this.ownerId = ownerId;
        this.bytesPerSecond = bytesPerSecond;
        this.sentBytes = sentBytes;
        this.onEnd = onEnd;
    }

    void cancel() {
        cancelled.set(true);
    }

    /** True once the copy was brought up to date (and, for a rebuild, recorded in sync). */
    boolean succeeded() {
        return succeeded;
    }

    /** The node whose copy this rebuild brings up to date. */
    String targetId() {
        return target.nodeId();
    }

    /** True for the check after a takeover (the copy stays in sync), false for a rebuild. */
    boolean isCheckOnly() {
        return reconcileOnly;
    }

    /** Chunk size of the comparison: 4 KiB up to 1 GiB volumes, so a delta resync sends little. */
    static long chunkSize(long volumeSize) {
        long chunk = 4096; // the owner may ask its copies for chunks this small; no one else may
        while (volumeSize / chunk > (256 << 10) && chunk < (64 << 20)) {
            chunk <<= 1;
        }
        return chunk;
    }

    @Override
    public void run() {
        String label = "volume " + volume.name() + " (" + vdisk + ")";
        long started = System.currentTimeMillis();
        long startNs = System.nanoTime();
        long sent = 0;
        try {
            if (!reconcileOnly) {
                joinAsCatchUp();
            }
            long chunk = chunkSize(volume.size());
            long[] mine = volume.local().checksums(chunk);
            long[] theirs = targetChecksums(chunk);
            sent += 8L * theirs.length;
            if (theirs.length != mine.length) {
                throw new IOException("the copy has " + theirs.length + " chunks, this one " + mine.length);
            }
            long differing = 0;
            for (int i = 0; i < mine.length; i++) {
                differing += mine[i] != theirs[i] ? 1 : 0;
            }
            publish(new RebuildProgress(target.nodeId(), differing, 0, sent, started, chunk));
            long done = 0;
            long lastPublish = System.nanoTime();
            // A few runs in flight: the range lock is held while a run is read and handed to the
            // connection, which keeps it in order with later changes of that range.
            java.util.ArrayDeque<java.util.concurrent.CompletableFuture<Void>> inFlight = new java.util.ArrayDeque<>();
            int i = 0;
            while (i < mine.length) {
                if (cancelled.get()) {
                    throw new IOException("cancelled");
                }
                if (mine[i] == theirs[i]) {
                    i++;
                    continue;
                }
                int first = i;
                while (i < mine.length && mine[i] != theirs[i] && (long) (i - first + 1) * chunk <= Math.max(RUN_BYTES, chunk)) {
                    i++;
                }
                long offset = first * chunk;
                long length = Math.min(volume.size(), i * chunk) - offset;
                Sent s = sendRun(offset, length);
                inFlight.add(s.future());
                sent += s.bytes();
                done += i - first;
                while (inFlight.size() >= RUNS_IN_FLIGHT) {
                    await(inFlight.poll());
                }
                throttle(sent, startNs);
                if (System.nanoTime() - lastPublish > PROGRESS_EVERY_NS) {
                    publish(new RebuildProgress(target.nodeId(), differing, done, sent, started, chunk));
                    lastPublish = System.nanoTime();
                }
            }
            while (!inFlight.isEmpty()) {
                await(inFlight.poll());
            }
            await(volume.membership().sendAtCurrentGeneration(g -> replication.flush(target.address(), volume.uuid(), g)));
            long total = sent;
            if (reconcileOnly) {
                if (done > 0) {
                    cluster.recordQuietly(Event.info(Controller.SOURCE, label + " copy on node " + target.nodeId() + " reconciled after "
                            + "failover: " + done + " chunk(s) differed (writes in flight when the old owner died)"));
                }
                log.info("{}: copy on {} checked after failover, {} chunk(s) differed", label, target.nodeId(), done);
                succeeded = true;
                return;
            }
            if (cancelled.get()) {
                throw new IOException("cancelled");
            }
            delays.at(TestDelays.REBUILD_BEFORE_PROMOTE);
            boolean joined = volume.membership().promote(target.nodeId(), () -> cluster.updateVolume(volume.name(), cur -> {
                if (cur.epoch() != volume.epoch() || !ownerId.equals(cur.owner()) || cur.state() != VolumeState.READY
                        || cur.replicas().get(target.nodeId()) != ReplicaState.REBUILDING) {
                    throw new IllegalStateException("the volume changed meanwhile");
                }
                return cur.withReplica(target.nodeId(), ReplicaState.IN_SYNC);
            }).isPresent());
            if (!joined) {
                throw new IOException("the volume is gone");
            }
            succeeded = true;
            delays.at(TestDelays.REBUILD_AFTER_PROMOTE);
            double seconds = Math.max(0.001, (System.nanoTime() - startNs) / 1e9);
            cluster.recordQuietly(Event.info(Controller.SOURCE, label + " volume rebuild completed on node " + target.nodeId()
                    + ", ret:0: " + done + " of " + mine.length + " chunks differed, " + human(total) + " sent in "
                    + String.format("%.1f", seconds) + " s (" + String.format("%.1f", total / seconds / 1e6) + " MB/s)"));
            log.info("{}: rebuild on {} done, {} bytes sent", label, target.nodeId(), total);
        } catch (IOException | RuntimeException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (reconcileOnly) {
                if (!cancelled.get() && !volume.isStopped()) {
                    try {
                        onCopyFailure.copyFailed(volume, target, e);
                    } catch (IOException ex) {
                        log.warn("{}: cannot take the copy on {} out of sync: {}", label, target.nodeId(), ex.getMessage());
                    }
                }
                return;
            }
            volume.membership().removeCatchUp(target.nodeId());
            log.warn("{}: rebuild on {} failed: {}", label, target.nodeId(), why);
            try {
                cluster.updateVolume(volume.name(), cur -> cur.replicas().get(target.nodeId()) == ReplicaState.REBUILDING
                        && cur.epoch() == volume.epoch() ? cur.withReplica(target.nodeId(), ReplicaState.STALE) : cur);
            } catch (ClusterException | IllegalStateException ex) {
                log.warn("{}: cannot mark the copy on {} stale again: {}", label, target.nodeId(), ex.getMessage());
            }
            if (!cancelled.get()) {
                cluster.recordQuietly(Event.warn(Controller.SOURCE, label + " rebuild on node " + target.nodeId() + " failed: " + why
                        + "; it will be retried"));
            }
        } finally {
            sentBytes.accept(sent);
            unpublish();
            onEnd.run();
        }
    }

    /**
     * Has every change sent to the target from now on, at a new generation it persisted first.
     * The target node creates its copy when it sees the rebuild: give it a moment.
     */
    private void joinAsCatchUp() throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                volume.membership().addCatchUp(target);
                return;
            } catch (IOException e) {
                boolean noCopyYet = e.getCause() instanceof ReplicaRefusedException r
                        && r.reason() == ReplicaRefusedException.Reason.UNKNOWN_VOLUME;
                if (!noCopyYet || System.nanoTime() > deadline || cancelled.get()) {
                    throw e;
                }
                sleep(200);
            }
        }
    }

    private long[] targetChecksums(long chunk) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                return replication.checksums(target.address(), volume.uuid(), chunk).get();
            } catch (ExecutionException e) {
                // The target node creates its copy when it sees the rebuild: give it a moment.
                if (e.getCause() instanceof ReplicaRefusedException r && r.reason() == ReplicaRefusedException.Reason.UNKNOWN_VOLUME
                        && System.nanoTime() < deadline && !cancelled.get()) {
                    sleep(200);
                    continue;
                }
                throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
    }

    private record Sent(java.util.concurrent.CompletableFuture<Void> future, long bytes) {
    }

    /**
     * Reads one run and sends it at the volume's current generation, with the range locked until
     * the copy answered: a change of that range goes out only then, so it lands after the run
     * even when it travels on another connection to the copy.
     */
    private Sent sendRun(long offset, long length) throws IOException {
        RangeLocks.Held held = volume.membership().lockRange(offset, length);
        try {
            ByteBuffer data = ByteBuffer.allocate((int) length);
            volume.local().read(data, offset);
            data.flip();
            Sent sent;
            if (isZero(data.array())) {
                sent = volume.membership().sendAtCurrentGeneration(g -> new Sent(replication.writeZeroes(target.address(),
                        volume.uuid(), g, offset, length, true, false), HEADER_BYTES));
            } else {
                sent = volume.membership().sendAtCurrentGeneration(g -> {
                    ReplicationClient.CompressedWrite w = replication.writeCompressed(target.address(), volume.uuid(), g,
                            offset, data);
                    return new Sent(w.future(), HEADER_BYTES + w.wireBytes());
                });
            }
            sent.future().whenComplete((ok, failure) -> held.close());
            return sent;
        } catch (IOException | RuntimeException e) {
            held.close();
            throw e;
        }
    }

    /** Bytes of a frame's length prefix and header, counted as sent. */
    private static final long HEADER_BYTES = 68;

    private static boolean isZero(byte[] b) {
        return Arrays.mismatch(b, new byte[b.length]) < 0;
    }

    private void throttle(long sent, long startNs) {
        if (bytesPerSecond <= 0) {
            return;
        }
        long dueNs = (long) (sent * 1e9 / bytesPerSecond);
        long aheadMs = (dueNs - (System.nanoTime() - startNs)) / 1_000_000;
        if (aheadMs > 0) {
            sleep(aheadMs);
        }
    }

    private static void await(java.util.concurrent.CompletableFuture<Void> f) throws IOException {
        try {
            f.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private void publish(RebuildProgress p) {
        String path = cluster.paths().rebuild(volume.name());
        byte[] data = Json.write(p);
        try {
            try {
                cluster.curator().setData().forPath(path, data);
            } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
                cluster.curator().create().creatingParentsIfNeeded().withMode(org.apache.zookeeper.CreateMode.EPHEMERAL)
                        .forPath(path, data);
            }
        } catch (Exception e) {
            log.debug("cannot publish rebuild progress: {}", e.getMessage());
        }
    }

    private void unpublish() {
        try {
            cluster.curator().delete().forPath(cluster.paths().rebuild(volume.name()));
        } catch (Exception e) {
            log.debug("cannot remove rebuild progress: {}", e.getMessage());
        }
    }

    private static String human(long bytes) {
        return bytes < (1 << 20) ? bytes / 1024 + " KiB" : String.format("%.1f MiB", bytes / 1048576.0);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
