package io.hablock.cluster;

import io.hablock.blockstore.BlockStore;
import io.hablock.blockstore.LocalVolume;
import io.hablock.blockstore.VolumeMetadata;
import io.hablock.cluster.metrics.NodeMetrics;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import io.hablock.cluster.replication.ReplicationClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's side of the catalogue: creates and deletes its copies as placement says, keeps
 * them open for the replication channel, and serves the volumes it owns, fencing their copies
 * with its epoch first. It works in one loop on one thread; ZooKeeper callbacks only ask for
 * another pass.
 */
final class NodeAgent implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
    private static final long PERIOD_MS = 10_000; // a safety net: ZooKeeper events trigger the passes

    private final ClusterClient cluster;
    private final BlockStore store;
    private final String nodeId;
    private final ReplicationClient replication;
    private final NodeMetrics metrics;
    private final ScheduledExecutorService loop;
    private final AtomicBoolean passQueued = new AtomicBoolean();
    private final CuratorCache volumesCache;
    private final CuratorCache nodesCache;
    /** Open local copies that the catalogue places here, by volume uuid (the replication channel's view). */
    private final Map<UUID, LocalVolume> copies = new ConcurrentHashMap<>();
    /** Volumes this node serves as owner, by name. */
    private final Map<String, ReplicatedVolume> served = new ConcurrentHashMap<>();
    private final Set<String> reportedStrangers = new HashSet<>();
    /** Rebuilds this node runs as owner, by volume name. */
    private final Map<String, Rebuild> rebuilds = new ConcurrentHashMap<>();
    private final java.util.concurrent.ExecutorService rebuildPool;
    private final long rebuildBytesPerSecond;
    /** The volumes cache has its first full view; before that nothing local is deleted. */
    private volatile boolean volumesLoaded;
    /** Set while ZooKeeper is unreachable: served volumes refuse I/O until ownership is checked again. */
    private volatile boolean zkSuspended;
    private long clusterCreated = Long.MAX_VALUE;
    private volatile boolean closed;

    NodeAgent(ClusterClient cluster, BlockStore store, String nodeId, ReplicationClient replication,
            NodeMetrics metrics, long rebuildBytesPerSecond) {
        this.metrics = metrics;
        this.rebuildBytesPerSecond = rebuildBytesPerSecond;
        this.rebuildPool = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "rebuild");
            t.setDaemon(true);
            return t;
        });
        this.cluster = cluster;
        this.store = store;
        this.nodeId = nodeId;
        this.replication = replication;
        this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "node-agent");
            t.setDaemon(true);
            return t;
        });
        this.volumesCache = CuratorCache.build(cluster.curator(), cluster.paths().volumes());
        this.nodesCache = CuratorCache.build(cluster.curator(), cluster.paths().nodes());
    }

    NodeAgent start() {
        try {
            var stat = cluster.curator().checkExists().forPath(cluster.paths().root());
            clusterCreated = stat == null ? Long.MAX_VALUE : stat.getCtime();
        } catch (Exception e) {
            log.debug("cannot read the cluster's creation time", e);
        }
        volumesCache.listenable().addListener(org.apache.curator.framework.recipes.cache.CuratorCacheListener.builder()
                .forAll((type, oldData, data) -> requestPass())
                .forInitialized(() -> {
                    volumesLoaded = true;
                    requestPass();
                })
                .build());
        nodesCache.listenable().addListener((type, oldData, data) -> requestPass());
        volumesCache.start();
        nodesCache.start();
        loop.scheduleWithFixedDelay(this::requestPass, 0, PERIOD_MS, TimeUnit.MILLISECONDS);
        return this;
    }

    String nodeId() {
        return nodeId;
    }

    ClusterClient cluster() {
        return cluster;
    }

    /** The open local copy of a volume, for the replication channel; null when not placed here. */
    LocalVolume copy(UUID volume) {
        return copies.get(volume);
    }

    /** The volume this node serves under that name, if it owns it. */
    Optional<ReplicatedVolume> served(String name) {
        return Optional.ofNullable(served.get(name));
    }

    List<ReplicatedVolume> servedVolumes() {
        return List.copyOf(served.values());
    }

    /** The catalogue as last seen (a cache; no ZooKeeper round trip). */
    Optional<VolumeRecord> cachedVolume(String name) {
        ChildData d = volumesCache.get(cluster.paths().volume(name)).orElse(null);
        if (d == null || d.getData() == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(Json.read(d.getData(), VolumeRecord.class, d.getPath()));
        } catch (ClusterException e) {
            return Optional.empty();
        }
    }

    /** Names of the ready volumes of the catalogue, as last seen. */
    List<String> cachedVolumeNames() {
        return cachedVolumes().stream().filter(v -> v.state() == VolumeState.READY).map(VolumeRecord::name).toList();
    }

    Map<String, NodeInfo> cachedNodes() {
        Map<String, NodeInfo> out = new HashMap<>();
        nodesCache.stream().filter(d -> d.getData() != null && !d.getPath().equals(cluster.paths().nodes()))
                .forEach(d -> {
                    try {
                        NodeInfo n = Json.read(d.getData(), NodeInfo.class, d.getPath());
                        out.put(n.id(), n);
                    } catch (ClusterException e) {
                        log.debug("skipping {}", d.getPath());
                    }
                });
        return out;
    }

    private List<VolumeRecord> cachedVolumes() {
        List<VolumeRecord> out = new ArrayList<>();
        volumesCache.stream().filter(d -> d.getData() != null && !d.getPath().equals(cluster.paths().volumes()))
                .forEach(d -> {
                    try {
                        out.add(Json.read(d.getData(), VolumeRecord.class, d.getPath()));
                    } catch (ClusterException e) {
                        log.warn("skipping unreadable volume record {}", d.getPath());
                    }
                });
        return out;
    }

    /**
     * The lease: without ZooKeeper this node cannot prove it still owns its volumes (another may
     * be taking over once its session expires), so their I/O pauses at once; when the connection
     * is back, each is checked against ZooKeeper itself before it serves again (or fails its
     * waiting requests if another node took over).
     */
    void connectionChanged(org.apache.curator.framework.state.ConnectionState state) {
        if (state == org.apache.curator.framework.state.ConnectionState.SUSPENDED
                || state == org.apache.curator.framework.state.ConnectionState.LOST) {
            zkSuspended = true;
            for (ReplicatedVolume rv : served.values()) {
                rv.suspend("ZooKeeper is unreachable (ownership cannot be confirmed)");
            }
            if (!served.isEmpty()) {
                log.warn("ZooKeeper connection {}: I/O on {} served volume(s) pauses until ownership is confirmed", state,
                        served.size());
            }
        } else if (state.isConnected()) {
            requestPass();
        }
    }

    /** Asks the loop for one more pass; requests made while one waits are merged. */
    void requestPass() {
        if (!closed && passQueued.compareAndSet(false, true)) {
            try {
                loop.execute(this::pass);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                passQueued.set(false);
            }
        }
    }

    private void pass() {
        passQueued.set(false);
        if (closed) {
            return;
        }
        try {
            reconcile();
        } catch (IOException e) {
            // ZooKeeper or a peer unreachable: one line, the next pass tries again.
            if (!closed) {
                log.warn("node pass failed: {}", e.getMessage());
            }
        } catch (RuntimeException e) {
            log.error("node pass failed", e);
        }
    }

    private void reconcile() throws IOException {
        if (zkSuspended) {
            revalidateAfterReconnect();
        }
        List<VolumeRecord> volumes = cachedVolumes();
        Map<String, NodeInfo> nodes = cachedNodes();
        Set<String> wanted = new HashSet<>();
        Set<UUID> known = new HashSet<>();
        for (VolumeRecord v : volumes) {
            known.add(v.uuid());
            ReplicaState mine = v.replicas().get(nodeId);
            if (v.state() == VolumeState.DELETING) {
                stopServing(v.name(), "the volume is being deleted");
                if (mine != null) {
                    deleteCopy(v, true);
                }
                continue;
            }
            if (mine == null) {
                stopServing(v.name(), "this node holds no copy any more");
                if (volumesLoaded && store.find(v.name()).filter(m -> m.uuid().equals(v.uuid())).isPresent()) {
                    // A copy the cluster no longer needs (rebuilt elsewhere while this node was away).
                    deleteCopy(v, false);
                }
                continue;
            }
            wanted.add(v.name());
            if (mine == ReplicaState.CREATING && (v.state() == VolumeState.CREATING || v.state() == VolumeState.READY)) {
                createCopy(v);
            } else if (mine == ReplicaState.REBUILDING) {
                prepareRebuildTarget(v);
            } else {
                openCopy(v);
            }
            ReplicatedVolume current = served.get(v.name());
            boolean shouldServe = v.state() == VolumeState.READY && nodeId.equals(v.owner()) && mine == ReplicaState.IN_SYNC;
            if (current != null && (!shouldServe || current.epoch() != v.epoch() || current.isFenced())) {
                stopServing(v.name(), current.isFenced() ? "fenced" : "ownership changed");
                current = null;
            }
            if (shouldServe && current == null) {
                startServing(v, nodes);
                current = served.get(v.name());
            }
            if (current == null) {
                continue;
            }
            if (v.servedEpoch() != current.epoch()) {
                // Tell the cluster (and a waiting `volume create`) that clients can connect now.
                long epoch = current.epoch();
                cluster.updateVolume(v.name(), cur -> cur.uuid().equals(v.uuid()) && cur.epoch() == epoch
                        && nodeId.equals(cur.owner()) && cur.servedEpoch() != epoch ? cur.withServed(epoch) : cur);
            }
            // Copies the catalogue no longer lists as in sync get no more writes.
            for (ReplicatedVolume.Peer p : current.peers()) {
                if (v.replicas().get(p.nodeId()) != ReplicaState.IN_SYNC) {
                    current.removePeer(p.nodeId());
                }
            }
            startRebuilds(v, current, nodes);
        }
        for (VolumeMetadata m : store.list()) {
            if (!wanted.contains(m.name())) {
                LocalVolume open = copies.remove(m.uuid());
                if (open != null) {
                    open.close();
                }
                removeIfForgotten(m, known);
            }
        }
    }

    /** After a ZooKeeper outage: each served volume serves again only if this node still owns it. */
    private void revalidateAfterReconnect() throws ClusterException {
        if (!cluster.curator().getZookeeperClient().isConnected()) {
            return;
        }
        for (ReplicatedVolume rv : served.values()) {
            Optional<VolumeRecord> now = cluster.volume(rv.name()).map(io.hablock.cluster.model.Versioned::value);
            if (now.isPresent() && nodeId.equals(now.get().owner()) && now.get().epoch() == rv.epoch()
                    && now.get().state() == VolumeState.READY) {
                rv.resume();
            } else {
                stopServing(rv.name(), "ownership changed while ZooKeeper was unreachable");
            }
        }
        zkSuspended = false;
        if (!served.isEmpty()) {
            log.info("ZooKeeper is back: ownership of {} served volume(s) confirmed", served.size());
        } else {
            log.info("ZooKeeper is back");
        }
    }

    /**
     * A local copy no volume of the catalogue refers to: the volume was deleted while this node was
     * away. Removed when it was made after this cluster existed (so it was this cluster's);
     * anything older is left alone.
     */
    private void removeIfForgotten(VolumeMetadata m, Set<UUID> known) throws IOException {
        if (!volumesLoaded || known.contains(m.uuid()) || cluster.volume(m.name()).isPresent()) {
            return;
        }
        if (m.created().toEpochMilli() >= clusterCreated) {
            store.delete(m.name());
            log.info("removed local copy of volume {} (uuid {}): the cluster deleted it while this node was away",
                    m.name(), m.uuid());
            cluster.recordQuietly(Event.info(Controller.SOURCE, "volume " + m.name() + " removed on node " + nodeId
                    + " (deleted while the node was away)"));
        } else if (reportedStrangers.add(m.name())) {
            log.info("local volume {} predates this cluster and is not part of it; leaving it alone", m.name());
        }
    }

    /** The owner starts a rebuild for each copy the controller marked REBUILDING. */
    private void startRebuilds(VolumeRecord v, ReplicatedVolume current, Map<String, NodeInfo> nodes) {
        if (v.epoch() != current.epoch() || rebuilds.containsKey(v.name()) || zkSuspended) {
            return;
        }
        for (Map.Entry<String, ReplicaState> e : v.replicas().entrySet()) {
            NodeInfo n = nodes.get(e.getKey());
            if (e.getValue() != ReplicaState.REBUILDING || n == null) {
                continue;
            }
            ReplicatedVolume.Peer target = new ReplicatedVolume.Peer(n.id(), new InetSocketAddress(n.host(), n.replicationPort()));
            Rebuild r = new Rebuild(current, v.vdisk(), target, replication, cluster, nodeId, rebuildBytesPerSecond,
                    bytes -> metrics.rebuildBytes(v.name()).inc(bytes), () -> {
                        rebuilds.remove(v.name());
                        requestPass();
                    });
            rebuilds.put(v.name(), r);
            log.info("volume {}: rebuilding the copy on node {}", v.name(), n.id());
            rebuildPool.execute(r);
            return; // one at a time per volume
        }
    }

    /**
     * After a takeover, the other in-sync copies are made identical to this one, one after the
     * other, in the background: the previous owner may have died with writes sent to some copies
     * and not others (never acknowledged, but they must not make the copies differ).
     */
    private void reconcileAfterTakeover(VolumeRecord v, ReplicatedVolume rv) {
        List<ReplicatedVolume.Peer> peers = rv.peers();
        if (peers.isEmpty()) {
            return;
        }
        java.util.function.Function<ReplicatedVolume.Peer, Rebuild> check = p -> Rebuild.reconcile(rv, v.vdisk(), p,
                replication, cluster, nodeId, bytes -> metrics.rebuildBytes(v.name()).inc(bytes), () -> {
                }, this::copyFailed);
        Rebuild first = check.apply(peers.get(0));
        rebuilds.put(v.name(), first);
        rebuildPool.execute(() -> {
            try {
                Rebuild current = first;
                for (int i = 0; i < peers.size() && !rv.isFenced() && !closed; i++) {
                    if (i > 0) {
                        current = check.apply(peers.get(i));
                        rebuilds.put(v.name(), current);
                    }
                    current.run();
                }
            } finally {
                rebuilds.remove(v.name());
                requestPass();
            }
        });
    }

    /** A copy being rebuilt here: the existing (stale) one, or a new empty one. */
    private void prepareRebuildTarget(VolumeRecord v) throws IOException {
        Optional<VolumeMetadata> existing = store.find(v.name());
        if (existing.isPresent() && !existing.get().uuid().equals(v.uuid())) {
            throw new ClusterException("cannot rebuild the copy of " + v.name() + ": a local volume of that name with uuid "
                    + existing.get().uuid() + " is in the way");
        }
        if (existing.isEmpty()) {
            store.create(v.name(), v.sizeBytes(), v.uuid());
        }
        openCopy(v);
    }

    private void createCopy(VolumeRecord v) throws IOException {
        Optional<VolumeMetadata> existing = store.find(v.name());
        if (existing.isPresent() && !existing.get().uuid().equals(v.uuid())) {
            throw new ClusterException("cannot create the copy of " + v.name() + ": a local volume of that name with uuid "
                    + existing.get().uuid() + " is in the way (remove it from " + store.dataDir() + ")");
        }
        if (existing.isEmpty()) {
            store.create(v.name(), v.sizeBytes(), v.uuid());
        }
        openCopy(v);
        AtomicBoolean changed = new AtomicBoolean();
        cluster.updateVolume(v.name(), cur -> {
            changed.set(false);
            if (cur.uuid().equals(v.uuid()) && cur.replicas().get(nodeId) == ReplicaState.CREATING) {
                changed.set(true);
                return cur.withReplica(nodeId, ReplicaState.IN_SYNC);
            }
            return cur;
        });
        if (changed.get()) {
            cluster.recordQuietly(Event.info(Controller.SOURCE, "volume " + v.name() + " (" + v.vdisk() + ") created on node " + nodeId));
        }
    }

    private void openCopy(VolumeRecord v) throws IOException {
        if (!copies.containsKey(v.uuid())) {
            Optional<VolumeMetadata> m = store.find(v.name());
            if (m.isPresent() && m.get().uuid().equals(v.uuid())) {
                copies.put(v.uuid(), store.open(v.name()));
            }
        }
    }

    private void deleteCopy(VolumeRecord v, boolean leaveRecord) throws IOException {
        LocalVolume open = copies.remove(v.uuid());
        if (open != null) {
            open.close();
        }
        Optional<VolumeMetadata> m = store.find(v.name());
        if (m.isPresent() && m.get().uuid().equals(v.uuid())) {
            store.delete(v.name());
        }
        if (leaveRecord) {
            cluster.updateVolume(v.name(), cur -> cur.uuid().equals(v.uuid()) && cur.replicas().containsKey(nodeId)
                    ? cur.withoutReplica(nodeId) : cur);
        }
        metrics.removeVolume(v.name());
        cluster.recordQuietly(Event.info(Controller.SOURCE, "volume " + v.name() + " (" + v.vdisk() + ") removed on node " + nodeId));
    }

    private void startServing(VolumeRecord v, Map<String, NodeInfo> nodes) throws IOException {
        LocalVolume local = copies.get(v.uuid());
        if (local == null) {
            return;
        }
        local.raiseEpoch(v.epoch());
        List<ReplicatedVolume.Peer> peers = new ArrayList<>();
        List<String> unreachable = new ArrayList<>();
        for (String peer : v.inSync()) {
            if (peer.equals(nodeId)) {
                continue;
            }
            NodeInfo n = nodes.get(peer);
            if (n == null) {
                unreachable.add(peer);
            } else {
                peers.add(new ReplicatedVolume.Peer(peer, new InetSocketAddress(n.host(), n.replicationPort())));
            }
        }
        ReplicatedVolume rv = new ReplicatedVolume(v.name(), v.uuid(), v.epoch(), local, peers, replication,
                this::copyFailed, peer -> metrics.replicationLatency(v.name(), peer));
        for (String peer : unreachable) {
            copyFailed(rv, new ReplicatedVolume.Peer(peer, null), new IOException("node " + peer + " is not live"));
        }
        rv.fencePeers();
        cluster.ensurePath(cluster.paths().clientsOf(v.name()));
        served.put(v.name(), rv);
        log.info("serving volume {} ({}) at epoch {} with {} other in-sync cop{}", v.name(), v.vdisk(), v.epoch(),
                rv.peers().size(), rv.peers().size() == 1 ? "y" : "ies");
        if (v.epoch() > 1) {
            reconcileAfterTakeover(v, rv);
        }
    }

    private void stopServing(String name, String why) {
        Rebuild r = rebuilds.get(name);
        if (r != null) {
            r.cancel();
        }
        ReplicatedVolume rv = served.remove(name);
        if (rv != null) {
            rv.fence(why);
            log.info("no longer serving volume {}: {}", name, why);
        }
    }

    /**
     * A copy did not apply a change: take it out of the in-sync set in ZooKeeper (compare-and-set,
     * only while this node still owns the volume at this epoch), record an event, and only then
     * let the change be acknowledged. Throws when ZooKeeper cannot be updated.
     */
    private void copyFailed(ReplicatedVolume rv, ReplicatedVolume.Peer peer, Throwable cause) throws IOException {
        synchronized (rv) {
            boolean known = rv.peers().stream().anyMatch(p -> p.nodeId().equals(peer.nodeId())) || peer.address() == null;
            if (!known) {
                return; // already taken out by a concurrent request
            }
            String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
            try {
                Optional<?> done = cluster.updateVolume(rv.name(), cur -> {
                    if (cur.epoch() != rv.epoch() || !nodeId.equals(cur.owner()) || !cur.uuid().equals(rv.uuid())) {
                        throw new IllegalStateException("this node no longer owns it at epoch " + rv.epoch());
                    }
                    ReplicaState s = cur.replicas().get(peer.nodeId());
                    return s == ReplicaState.IN_SYNC || s == ReplicaState.CREATING
                            ? cur.withReplica(peer.nodeId(), ReplicaState.STALE) : cur;
                });
                if (done.isEmpty()) {
                    throw new IllegalStateException("the volume was deleted");
                }
            } catch (ClusterException | IllegalStateException e) {
                rv.fence(e.getMessage());
                throw new IOException("volume " + rv.name() + ": cannot take the failed copy on node " + peer.nodeId()
                        + " out of sync (" + e.getMessage() + "); the write is not acknowledged", e);
            }
            rv.removePeer(peer.nodeId());
            log.warn("volume {}: copy on node {} is out of sync: {}", rv.name(), peer.nodeId(), why);
            cluster.recordQuietly(Event.warn("REPLICATION", "volume " + rv.name() + " copy on node " + peer.nodeId()
                    + " out of sync: " + why));
        }
    }

    @Override
    public void close() {
        closed = true;
        loop.shutdownNow();
        try {
            loop.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        rebuilds.values().forEach(Rebuild::cancel);
        rebuildPool.shutdownNow();
        served.values().forEach(rv -> rv.fence("the node is stopping"));
        volumesCache.close();
        nodesCache.close();
        for (LocalVolume v : copies.values()) {
            try {
                v.flush();
            } catch (IOException e) {
                log.warn("cannot sync a copy while stopping: {}", e.getMessage());
            }
            v.close();
        }
        copies.clear();
    }
}
