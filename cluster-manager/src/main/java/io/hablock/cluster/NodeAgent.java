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
    private static final long PERIOD_MS = 2000;

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
    private volatile boolean closed;

    NodeAgent(ClusterClient cluster, BlockStore store, String nodeId, ReplicationClient replication,
            NodeMetrics metrics) {
        this.metrics = metrics;
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
        volumesCache.listenable().addListener((type, oldData, data) -> requestPass());
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
        } catch (ClusterException e) {
            log.warn("node pass failed: {}", e.getMessage());
        } catch (IOException | RuntimeException e) {
            log.error("node pass failed", e);
        }
    }

    private void reconcile() throws IOException {
        List<VolumeRecord> volumes = cachedVolumes();
        Map<String, NodeInfo> nodes = cachedNodes();
        Set<String> wanted = new HashSet<>();
        for (VolumeRecord v : volumes) {
            ReplicaState mine = v.replicas().get(nodeId);
            if (v.state() == VolumeState.DELETING) {
                stopServing(v.name(), "the volume is being deleted");
                if (mine != null) {
                    deleteCopy(v);
                }
                continue;
            }
            if (mine == null) {
                stopServing(v.name(), "this node holds no copy any more");
                continue;
            }
            wanted.add(v.name());
            if (mine == ReplicaState.CREATING && (v.state() == VolumeState.CREATING || v.state() == VolumeState.READY)) {
                createCopy(v);
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
            if (current != null && v.servedEpoch() != current.epoch()) {
                // Tell the cluster (and a waiting `volume create`) that clients can connect now.
                long epoch = current.epoch();
                cluster.updateVolume(v.name(), cur -> cur.uuid().equals(v.uuid()) && cur.epoch() == epoch
                        && nodeId.equals(cur.owner()) && cur.servedEpoch() != epoch ? cur.withServed(epoch) : cur);
            }
            if (current != null) {
                // Copies the catalogue no longer lists as in sync get no more writes.
                for (ReplicatedVolume.Peer p : current.peers()) {
                    if (v.replicas().get(p.nodeId()) != ReplicaState.IN_SYNC) {
                        current.removePeer(p.nodeId());
                    }
                }
            }
        }
        // Copies of volumes not placed here (any more): close; deletion of strangers is the
        // rejoin logic's job, never a guess.
        for (VolumeMetadata m : store.list()) {
            if (!wanted.contains(m.name())) {
                LocalVolume open = copies.remove(m.uuid());
                if (open != null) {
                    open.close();
                }
                if (reportedStrangers.add(m.name())) {
                    log.info("local volume {} is not placed on this node by the cluster; leaving it alone", m.name());
                }
            }
        }
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
            record(Event.info(Controller.SOURCE, "volume " + v.name() + " (" + v.vdisk() + ") created on node " + nodeId));
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

    private void deleteCopy(VolumeRecord v) throws IOException {
        LocalVolume open = copies.remove(v.uuid());
        if (open != null) {
            open.close();
        }
        Optional<VolumeMetadata> m = store.find(v.name());
        if (m.isPresent() && m.get().uuid().equals(v.uuid())) {
            store.delete(v.name());
        }
        cluster.updateVolume(v.name(), cur -> cur.uuid().equals(v.uuid()) && cur.replicas().containsKey(nodeId)
                ? cur.withoutReplica(nodeId) : cur);
        metrics.removeVolume(v.name());
        record(Event.info(Controller.SOURCE, "volume " + v.name() + " (" + v.vdisk() + ") removed on node " + nodeId));
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
    }

    private void stopServing(String name, String why) {
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
            record(Event.warn("REPLICATION", "volume " + rv.name() + " copy on node " + peer.nodeId()
                    + " out of sync: " + why));
        }
    }

    private void record(Event e) {
        try {
            cluster.record(e);
        } catch (ClusterException ex) {
            log.warn("event not recorded ({}): {}", ex.getMessage(), e.message());
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
