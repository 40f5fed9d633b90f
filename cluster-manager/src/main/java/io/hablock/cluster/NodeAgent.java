package io.hablock.cluster;

import io.hablock.blockstore.BlockStore;
import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.metrics.NodeMetrics;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.replication.ChangeAuthorizer;
import io.hablock.cluster.replication.ReplicationClient;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
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
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's side of the catalogue, reconciled in one loop on one thread: its {@link LocalCopies},
 * the volumes it owns ({@link Ownership}) and the rebuilds it runs as owner
 * ({@link RebuildScheduler}). ZooKeeper callbacks and lease renewals only ask for another pass.
 * The cached catalogue the pass reads is a hint: every decision that could add a copy to a
 * served volume's set, or start serving, reads ZooKeeper afresh.
 */
final class NodeAgent implements AutoCloseable, ChangeAuthorizer {
    private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
    private static final long PERIOD_MS = 10_000; // a safety net: ZooKeeper events trigger the passes

    private final ClusterClient cluster;
    private final String nodeId;
    private final TestDelays delays;
    private final ScheduledExecutorService loop;
    private final AtomicBoolean passQueued = new AtomicBoolean();
    private final CuratorCache volumesCache;
    private final CuratorCache nodesCache;
    private final LocalCopies copies;
    private final RebuildScheduler rebuilds;
    private final Ownership ownership;
    /** The volumes cache has its first full view; before that nothing local is deleted. */
    private volatile boolean volumesLoaded;
    private volatile boolean closed;

    NodeAgent(ClusterClient cluster, BlockStore store, String nodeId, ReplicationClient replication, NodeMetrics metrics,
            long rebuildBytesPerSecond, Lease lease, TestDelays delays) {
        this.cluster = cluster;
        this.nodeId = nodeId;
        this.delays = delays;
        this.loop = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("node-agent", true));
        this.volumesCache = CuratorCache.build(cluster.curator(), cluster.paths().volumes());
        this.nodesCache = CuratorCache.build(cluster.curator(), cluster.paths().nodes());
        this.copies = new LocalCopies(cluster, store, nodeId, metrics);
        this.rebuilds = new RebuildScheduler(cluster, nodeId, replication, metrics, rebuildBytesPerSecond, delays,
                this::requestPass);
        this.ownership = new Ownership(cluster, nodeId, copies, replication, lease, metrics, delays, rebuilds);
    }

    NodeAgent start() {
        copies.start();
        volumesCache.listenable().addListener(CuratorCacheListener.builder()
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
        return copies.copy(volume);
    }

    /**
     * Whether {@code sender} is the owner the cached catalogue names for the volume of the local
     * copy {@code volume}. With no copy here, the replication server answers that itself.
     */
    @Override
    public boolean mayChangeCached(UUID volume, String sender) {
        LocalVolume copy = copies.copy(volume);
        return copy == null || isOwner(cachedVolume(copy.metadata().name()), volume, sender);
    }

    /** Like {@link #mayChangeCached}, from ZooKeeper itself. */
    @Override
    public boolean mayChange(UUID volume, String sender) {
        LocalVolume copy = copies.copy(volume);
        if (copy == null) {
            return true;
        }
        try {
            return isOwner(cluster.volume(copy.metadata().name()).map(Versioned::value), volume, sender);
        } catch (ClusterException e) {
            log.warn("cannot check who owns volume {}: {}", volume, e.getMessage());
            return false;
        }
    }

    private static boolean isOwner(Optional<VolumeRecord> record, UUID volume, String sender) {
        return record.isPresent() && volume.equals(record.get().uuid()) && sender.equals(record.get().owner());
    }

    /** The volume this node serves under that name, if it owns it. */
    Optional<ReplicatedVolume> served(String name) {
        return ownership.served(name);
    }

    List<ReplicatedVolume> servedVolumes() {
        return ownership.servedVolumes();
    }

    /** The catalogue as last seen (a cache; no ZooKeeper round trip). */
    Optional<VolumeRecord> cachedVolume(String name) {
        return parsed(volumesCache, cluster.paths().volume(name), VolumeRecord.class);
    }

    /** One node's record from the cache, if it is registered (live). */
    Optional<NodeInfo> cachedNode(String nodeId) {
        return parsed(nodesCache, cluster.paths().node(nodeId), NodeInfo.class);
    }

    /** A cached znode's data and what it parses to: the data path asks for them on every request. */
    private record Parsed(ChildData data, Object value) {
    }

    private final Map<String, Parsed> parsed = new ConcurrentHashMap<>();

    /**
     * The record at {@code path}, parsed once per version: the cache replaces a znode's
     * {@link ChildData} when it changes, so the same instance means the same record.
     */
    private <T> Optional<T> parsed(CuratorCache cache, String path, Class<T> type) {
        ChildData d = cache.get(path).orElse(null);
        if (d == null || d.getData() == null) {
            return Optional.empty();
        }
        Parsed p = parsed.get(path);
        if (p == null || p.data() != d) {
            try {
                p = new Parsed(d, Json.read(d.getData(), type, d.getPath()));
            } catch (ClusterException e) {
                return Optional.empty();
            }
            parsed.put(path, p);
        }
        return Optional.of(type.cast(p.value()));
    }

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

    /** This node's ZooKeeper session expired: nothing it served may be answered under it any more. */
    void sessionLost() {
        ownership.stopAll("this node's ZooKeeper session expired");
    }

    /** Asks the loop for one more pass; requests made while one waits are merged. */
    void requestPass() {
        if (!closed && passQueued.compareAndSet(false, true)) {
            try {
                loop.execute(this::pass);
            } catch (RejectedExecutionException e) {
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
        List<VolumeRecord> volumes = cachedVolumes();
        Map<String, NodeInfo> live = cachedNodes();
        if (delays.armed(TestDelays.PASS_WITH_REBUILD) && volumes.stream().anyMatch(v -> rebuilds.isRebuilding(v.name())
                && v.replicas().containsValue(ReplicaState.REBUILDING))) {
            delays.at(TestDelays.PASS_WITH_REBUILD);
        }
        Set<String> wanted = new HashSet<>();
        Set<UUID> known = new HashSet<>();
        for (VolumeRecord v : volumes) {
            known.add(v.uuid());
            try {
                reconcile(v, live, wanted);
            } catch (IOException e) {
                // One volume's trouble (a copy in the way, ZooKeeper away) does not hold up the others.
                if (!closed) {
                    log.warn("volume {}: node pass: {}", v.name(), e.getMessage());
                }
            }
        }
        if (volumesLoaded) {
            copies.closeUnwanted(wanted, known);
        }
    }

    private void reconcile(VolumeRecord v, Map<String, NodeInfo> live, Set<String> wanted) throws IOException {
        ReplicaState mine = v.replicas().get(nodeId);
        if (v.state() == VolumeState.DELETING) {
            ownership.stopServing(v.name(), "the volume is being deleted");
            if (mine != null) {
                copies.delete(v, true);
            }
            return;
        }
        if (mine == null) {
            ownership.stopServing(v.name(), "this node holds no copy any more");
            if (volumesLoaded) {
                copies.deleteIfHeld(v); // a copy the cluster no longer needs (rebuilt elsewhere while this node was away)
            }
            return;
        }
        wanted.add(v.name());
        copies.reconcile(v, mine);
        ReplicatedVolume served = ownership.reconcile(v, live);
        if (served != null) {
            rebuilds.reconcile(v, served, live);
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
        rebuilds.close();
        ownership.close();
        volumesCache.close();
        nodesCache.close();
        copies.close();
    }
}
