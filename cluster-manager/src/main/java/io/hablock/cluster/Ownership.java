package io.hablock.cluster;

import io.hablock.blockstore.Generation;
import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.metrics.NodeMetrics;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import io.hablock.cluster.replication.ReplicationClient;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The volumes this node owns and serves: it starts serving a volume the catalogue gives it
 * (after fencing every copy), stops when the catalogue or its lease says so, hands a volume over
 * when the controller asks, takes a volume again at a new epoch after its session ended, and is
 * the only writer of the copy states of the volumes it serves (a copy out of sync, a rebuilt copy
 * in sync, the generation every in-sync copy holds). Called from the node's pass; the
 * {@link ReplicatedVolume.Catalogue} operations come from I/O threads too.
 */
final class Ownership implements ReplicatedVolume.Catalogue, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Ownership.class);

    private final ClusterClient cluster;
    private final String nodeId;
    private final LocalCopies copies;
    private final ReplicationClient replication;
    private final Lease lease;
    private final NodeMetrics metrics;
    private final TestDelays delays;
    private final RebuildScheduler rebuilds;
    /** Volumes this node serves as owner, by name. */
    private final Map<String, ReplicatedVolume> served = new ConcurrentHashMap<>();
    /** Membership changes that wait for no change in flight: off the pass and off the I/O threads. */
    private final ExecutorService membership = Executors.newSingleThreadExecutor(new DefaultThreadFactory("membership", true));
    /**
     * Where a change whose copy failed takes it out of sync (a ZooKeeper compare-and-set): never
     * the network thread that saw the failure. Concurrent failures of one copy mostly find it out
     * already; a few threads suffice.
     */
    private final ExecutorService copyFailures = new ThreadPoolExecutor(4, 4, 30, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), new DefaultThreadFactory("copy-failures", true));

    Ownership(ClusterClient cluster, String nodeId, LocalCopies copies, ReplicationClient replication, Lease lease,
            NodeMetrics metrics, TestDelays delays, RebuildScheduler rebuilds) {
        this.cluster = cluster;
        this.nodeId = nodeId;
        this.copies = copies;
        this.replication = replication;
        this.lease = lease;
        this.metrics = metrics;
        this.delays = delays;
        this.rebuilds = rebuilds;
    }

    /** The volume this node serves under that name, if it owns it. */
    Optional<ReplicatedVolume> served(String name) {
        return Optional.ofNullable(served.get(name));
    }

    List<ReplicatedVolume> servedVolumes() {
        return List.copyOf(served.values());
    }

    /**
     * Brings serving in line with the catalogue ({@code v} as cached: stopping on it is always
     * safe, starting reads ZooKeeper afresh) and with the lease. Returns the volume as served now,
     * or null.
     */
    ReplicatedVolume reconcile(VolumeRecord v, Map<String, NodeInfo> live) throws IOException {
        ReplicaState mine = v.replicas().get(nodeId);
        boolean owns = v.state() == VolumeState.READY && nodeId.equals(v.owner()) && mine == ReplicaState.IN_SYNC;
        ReplicatedVolume current = served.get(v.name());
        if (current != null) {
            String why = current.isStopped() ? current.stoppedBecause()
                    : !owns || current.epoch() != v.epoch() ? "ownership changed"
                    : current.session() != lease.session() ? "this node's ZooKeeper session ended" : null;
            if (why != null) {
                stopServing(v.name(), why);
                current = null;
            }
        }
        if (!owns) {
            return null;
        }
        if (current == null) {
            if (v.handoverTo() != null) {
                handOver(null, v);
            } else if (v.servedEpoch() == v.epoch()) {
                takeAgain(v);
            } else {
                current = startServing(v, live);
            }
            return current;
        }
        if (v.handoverTo() != null) {
            handOver(current, v);
            return null;
        }
        for (ReplicatedVolume.Peer p : current.peers()) {
            if (!live.containsKey(p.nodeId())) {
                copyFailedQuietly(current, p, new IOException("node " + p.nodeId() + " is not live"));
            }
        }
        // Copies the catalogue no longer lists as in sync (the controller removed one it does not
        // need) get no more writes: the cache says so, a fresh read decides.
        if (current.peers().stream().anyMatch(p -> v.replicas().get(p.nodeId()) != ReplicaState.IN_SYNC)
                && current.membership().dropCopiesNotInSync()) {
            advanceGenerationLater(current);
        }
        return current;
    }

    /**
     * Starts serving the volume at its epoch: reads the record afresh, checks that this copy holds
     * what the catalogue says every in-sync copy holds, fences every live in-sync copy with a new
     * generation (a copy that cannot be fenced, or proves to hold less, is taken out of sync), and
     * records the generation and the served epoch in one compare-and-set. Only then are clients
     * answered.
     */
    private ReplicatedVolume startServing(VolumeRecord cached, Map<String, NodeInfo> live) throws IOException {
        LocalVolume local = copies.copy(cached.uuid());
        long session = lease.validSession();
        if (session == 0) {
            return null; // the lease comes with the next renewal, which asks for a pass
        }
        Optional<Versioned<VolumeRecord>> read = cluster.volume(cached.name());
        if (read.isEmpty()) {
            return null;
        }
        VolumeRecord v = read.get().value();
        long epoch = v.epoch();
        if (!v.uuid().equals(cached.uuid()) || v.state() != VolumeState.READY || !nodeId.equals(v.owner())
                || v.replicas().get(nodeId) != ReplicaState.IN_SYNC || v.handoverTo() != null || v.servedEpoch() == epoch) {
            return null; // changed since the cache saw it: the next pass acts on the new record
        }
        if (local == null) {
            // The pass opened every copy placed here that exists: this one is gone.
            lostState(v, "its copy is missing from " + copies.dataDir());
            return null;
        }
        Generation mine = local.generation();
        if (mine.epoch() > epoch) {
            return null; // a newer owner fenced this copy: the catalogue will say so
        }
        if (mine.isBelow(v.generation())) {
            lostState(v, "its copy holds generation " + mine + ", below the " + v.generation() + " every in-sync copy holds");
            return null;
        }
        Generation start = max(mine, v.generation());
        Generation generation = start.epoch() == epoch ? start.next() : new Generation(epoch, 1);
        local.raise(generation);

        List<ReplicatedVolume.Peer> fenced = new ArrayList<>();
        Map<String, String> failed = new LinkedHashMap<>();
        Map<ReplicatedVolume.Peer, CompletableFuture<Generation>> fences = new LinkedHashMap<>();
        for (String peer : v.inSync()) {
            if (peer.equals(nodeId)) {
                continue;
            }
            NodeInfo n = live.get(peer);
            if (n == null) {
                failed.put(peer, "node " + peer + " is not live");
            } else {
                ReplicatedVolume.Peer p = new ReplicatedVolume.Peer(peer, new InetSocketAddress(n.host(), n.replicationPort()));
                fences.put(p, replication.fence(p.address(), v.uuid(), generation));
            }
        }
        for (Map.Entry<ReplicatedVolume.Peer, CompletableFuture<Generation>> e : fences.entrySet()) {
            String peer = e.getKey().nodeId();
            try {
                Generation before = e.getValue().get();
                if (before.isBelow(v.generation())) {
                    failed.put(peer, "its copy holds generation " + before + ", below the " + v.generation()
                            + " every in-sync copy holds (it lost data)");
                } else {
                    fenced.add(e.getKey());
                }
            } catch (ExecutionException ex) {
                failed.put(peer, String.valueOf(ex.getCause().getMessage()));
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        // Registered before the catalogue says it is served, so that a client told so finds it;
        // its requests wait for the compare-and-set below (opened), or fail if it fails.
        cluster.ensurePath(cluster.paths().clientsOf(v.name()));
        ReplicatedVolume rv = new ReplicatedVolume(v.name(), v.uuid(), epoch, v.minCopies(), generation, local, fenced,
                replication, this, lease, session, delays, peer -> metrics.replicationLatency(v.name(), peer), copyFailures);
        served.put(v.name(), rv);
        AtomicBoolean applied = new AtomicBoolean();
        Optional<Versioned<VolumeRecord>> done;
        try {
            done = cluster.updateVolume(v.name(), cur -> {
                applied.set(false);
                if (!cur.uuid().equals(v.uuid()) || cur.epoch() != epoch || !nodeId.equals(cur.owner())
                        || cur.state() != VolumeState.READY || cur.replicas().get(nodeId) != ReplicaState.IN_SYNC
                        || cur.handoverTo() != null || cur.servedEpoch() == epoch || generation.isBelow(cur.generation())) {
                    return cur;
                }
                VolumeRecord next = cur;
                for (String peer : failed.keySet()) {
                    if (next.replicas().get(peer) == ReplicaState.IN_SYNC) {
                        next = next.withReplica(peer, ReplicaState.STALE);
                    }
                }
                applied.set(true);
                return next.withGeneration(generation).withServed(epoch);
            });
        } catch (ClusterException | RuntimeException e) {
            stopServing(v.name(), "could not record that it is served: " + e.getMessage());
            throw e;
        }
        if (done.isEmpty() || !applied.get()) {
            stopServing(v.name(), "the catalogue changed while it was being opened");
            return null;
        }
        VolumeRecord now = done.get().value();
        for (ReplicatedVolume.Peer p : fenced) {
            if (now.replicas().get(p.nodeId()) != ReplicaState.IN_SYNC) {
                rv.removePeer(p.nodeId()); // the controller removed it meanwhile (a copy it no longer needs)
            }
        }
        List<ReplicatedVolume.Peer> peers = rv.peers();
        rv.open();
        failed.forEach((peer, why) -> {
            log.warn("volume {}: copy on node {} is out of sync: {}", v.name(), peer, why);
            cluster.recordQuietly(Event.warn("REPLICATION", "volume " + v.name() + " copy on node " + peer + " out of sync: " + why));
        });
        log.info("serving volume {} ({}) at epoch {}, generation {}, with {} other in-sync cop{}{}", v.name(), v.vdisk(), epoch,
                generation, peers.size(), peers.size() == 1 ? "y" : "ies",
                rv.isWritable() ? "" : " (read-only: fewer than " + v.minCopies() + " copies in sync)");
        if (epoch > 1) {
            rebuilds.afterTakeover(now, rv, this);
        }
        return rv;
    }

    private static Generation max(Generation a, Generation b) {
        return a.isBelow(b) ? b : a;
    }

    /**
     * This node's copy holds less than the catalogue says every in-sync copy holds (its data went
     * back in time: a restored or replaced data directory), or is missing: it must not serve. It
     * leaves the in-sync set; the controller gives the volume to another current copy, if there is one.
     */
    private void lostState(VolumeRecord v, String why) throws ClusterException {
        Optional<Versioned<VolumeRecord>> done = cluster.updateVolume(v.name(), cur -> cur.uuid().equals(v.uuid())
                && cur.epoch() == v.epoch() && cur.replicas().get(nodeId) == ReplicaState.IN_SYNC
                ? cur.withReplica(nodeId, ReplicaState.STALE) : cur);
        if (done.isPresent() && done.get().value().replicas().get(nodeId) == ReplicaState.STALE) {
            log.error("volume {}: not serving it: {} (its data directory was restored or replaced?)", v.name(), why);
            cluster.recordQuietly(Event.warn("REPLICATION", "volume " + v.name() + " copy on node " + nodeId
                    + " out of sync: " + why));
        }
    }

    /**
     * The volume was served at this epoch, but not by this process in its current session (the
     * session ended, or the node restarted): it is taken again at the next epoch, by a
     * compare-and-set that loses to any concurrent change (a failover). Serving at the same epoch
     * could overlap with whatever happened meanwhile.
     */
    private void takeAgain(VolumeRecord v) throws ClusterException {
        if (lease.validSession() == 0) {
            return; // not registered in a live session yet
        }
        long epoch = v.epoch();
        Optional<Versioned<VolumeRecord>> done = cluster.updateVolume(v.name(), cur -> cur.uuid().equals(v.uuid())
                && cur.epoch() == epoch && nodeId.equals(cur.owner()) && cur.state() == VolumeState.READY
                && cur.servedEpoch() == epoch && cur.handoverTo() == null && cur.replicas().get(nodeId) == ReplicaState.IN_SYNC
                ? cur.withOwner(nodeId, false) : cur);
        if (done.isPresent() && done.get().value().epoch() == epoch + 1 && nodeId.equals(done.get().value().owner())) {
            log.info("volume {}: served at epoch {} before this node's session ended; taking it again at epoch {}", v.name(),
                    epoch, epoch + 1);
        }
    }

    /**
     * Hands the volume to the node the controller named: stops serving (new requests are refused,
     * those in flight finish), then makes that node the owner at the next epoch. The new owner
     * fences this node's copy before it serves; this node answers nothing in between.
     */
    private void handOver(ReplicatedVolume current, VolumeRecord v) throws IOException {
        String target = v.handoverTo();
        if (current != null) {
            current.stop("handing the volume over to node " + target);
            current.awaitIdle();
        }
        long epoch = v.epoch();
        Optional<Versioned<VolumeRecord>> done = cluster.updateVolume(v.name(), cur -> cur.uuid().equals(v.uuid())
                && cur.epoch() == epoch && nodeId.equals(cur.owner()) && target.equals(cur.handoverTo())
                && cur.replicas().get(target) == ReplicaState.IN_SYNC ? cur.withOwner(target, false) : cur);
        if (current != null) {
            stopServing(v.name(), "handed over to node " + target);
        }
        if (done.isPresent() && target.equals(done.get().value().owner()) && done.get().value().epoch() == epoch + 1) {
            log.info("volume {}: handed over to node {} at epoch {}", v.name(), target, epoch + 1);
            Map<String, Member> members = cluster.members();
            boolean requested = target.equals(v.desiredOwner());
            cluster.recordQuietly(Event.info(Controller.SOURCE, "volume " + v.name() + " (" + v.vdisk() + ") moved from node "
                    + nameOf(nodeId, members) + " to node " + nameOf(target, members) + " (" + target + "), epoch " + (epoch + 1)
                    + (requested ? "; locality rebuild completed, ret:0" : " (drain)")));
        }
    }

    private static String nameOf(String id, Map<String, Member> members) {
        Member m = members.get(id);
        return m == null ? id : m.name();
    }

    /** Stops serving every volume (from any thread): their requests fail now instead of waiting. */
    void stopAll(String why) {
        for (ReplicatedVolume rv : served.values()) {
            rv.stop(why);
        }
        if (!served.isEmpty()) {
            log.warn("no longer serving {} volume(s): {}", served.size(), why);
        }
    }

    void stopServing(String name, String why) {
        rebuilds.cancel(name);
        ReplicatedVolume rv = served.remove(name);
        if (rv != null) {
            rv.stop(why);
            log.info("no longer serving volume {}: {}", name, why);
        }
    }

    // ---- the catalogue, for the volumes served ------------------------------------------------

    /**
     * A copy did not apply a change: take it out of the in-sync set in ZooKeeper (compare-and-set,
     * only while this node still owns the volume at this epoch), record an event, and only then
     * let the change be acknowledged. Throws when ZooKeeper cannot be updated.
     */
    @Override
    public void copyFailed(ReplicatedVolume rv, ReplicatedVolume.Peer peer, Throwable cause) throws IOException {
        synchronized (rv) {
            boolean known = rv.peers().stream().anyMatch(p -> p.nodeId().equals(peer.nodeId()));
            if (!known) {
                return; // already taken out by a concurrent request
            }
            String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
            try {
                Optional<?> done = cluster.updateVolume(rv.name(), cur -> {
                    checkOwner(rv, cur);
                    ReplicaState s = cur.replicas().get(peer.nodeId());
                    return s == ReplicaState.IN_SYNC ? cur.withReplica(peer.nodeId(), ReplicaState.STALE) : cur;
                });
                if (done.isEmpty()) {
                    throw new IllegalStateException("the volume was deleted");
                }
            } catch (ClusterException | IllegalStateException e) {
                rv.stop(e.getMessage());
                throw new IOException("volume " + rv.name() + ": cannot take the failed copy on node " + peer.nodeId()
                        + " out of sync (" + e.getMessage() + "); the write is not acknowledged", e);
            }
            rv.removePeer(peer.nodeId());
            log.warn("volume {}: copy on node {} is out of sync: {}", rv.name(), peer.nodeId(), why);
            cluster.recordQuietly(Event.warn("REPLICATION", "volume " + rv.name() + " copy on node " + peer.nodeId()
                    + " out of sync: " + why));
        }
        advanceGenerationLater(rv);
    }

    private void copyFailedQuietly(ReplicatedVolume rv, ReplicatedVolume.Peer peer, Throwable cause) {
        try {
            copyFailed(rv, peer, cause);
        } catch (IOException e) {
            log.warn("{}", e.getMessage());
        }
    }

    @Override
    public void generationFenced(ReplicatedVolume rv, Generation generation) throws IOException {
        try {
            cluster.updateVolume(rv.name(), cur -> {
                checkOwner(rv, cur);
                return cur.generation().isBelow(generation) ? cur.withGeneration(generation) : cur;
            });
        } catch (IllegalStateException e) {
            rv.stop(e.getMessage());
            throw new IOException("volume " + rv.name() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public List<String> inSyncNow(ReplicatedVolume rv) throws IOException {
        VolumeRecord cur = cluster.volume(rv.name()).map(Versioned::value)
                .orElseThrow(() -> new IOException("volume " + rv.name() + " was deleted"));
        try {
            checkOwner(rv, cur);
        } catch (IllegalStateException e) {
            rv.stop(e.getMessage());
            throw new IOException("volume " + rv.name() + ": " + e.getMessage(), e);
        }
        return cur.inSync();
    }

    private void checkOwner(ReplicatedVolume rv, VolumeRecord cur) {
        if (cur.epoch() != rv.epoch() || !nodeId.equals(cur.owner()) || !cur.uuid().equals(rv.uuid())) {
            throw new IllegalStateException("this node no longer owns it at epoch " + rv.epoch());
        }
    }

    /** After a copy left the set: the others move to a new generation, off the I/O path. */
    private void advanceGenerationLater(ReplicatedVolume rv) {
        AtomicReference<ReplicatedVolume> volume = new AtomicReference<>(rv);
        try {
            membership.execute(() -> {
                ReplicatedVolume v = volume.get();
                if (v.isStopped()) {
                    return;
                }
                try {
                    v.membership().advanceGeneration();
                } catch (IOException e) {
                    log.warn("volume {}: cannot move the copies to a new generation: {}", v.name(), e.getMessage());
                }
            });
        } catch (RejectedExecutionException e) {
            // stopping
        }
    }

    @Override
    public void close() {
        membership.shutdownNow();
        served.values().forEach(rv -> rv.stop("the node is stopping"));
        copyFailures.shutdown(); // not Now: a queued outcome must still complete its change
    }
}
