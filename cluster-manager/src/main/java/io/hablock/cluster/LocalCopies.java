package io.hablock.cluster;

import io.hablock.blockstore.BlockStore;
import io.hablock.blockstore.LocalVolume;
import io.hablock.blockstore.Sizes;
import io.hablock.blockstore.VolumeMetadata;
import io.hablock.cluster.metrics.NodeMetrics;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's copies as the catalogue places them: creates them, keeps them open for the
 * replication channel and the owner, and deletes those the cluster no longer needs. Called from
 * the node's pass only (the replication channel reads {@link #copy} concurrently).
 */
final class LocalCopies implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalCopies.class);

    private final ClusterClient cluster;
    private final BlockStore store;
    private final NodeSpace space;
    private final String nodeId;
    private final NodeMetrics metrics;
    /** Open local copies that the catalogue places here, by volume uuid. */
    private final Map<UUID, LocalVolume> open = new ConcurrentHashMap<>();
    private final Set<String> reportedStrangers = new HashSet<>();
    private long clusterCreated = Long.MAX_VALUE;

    LocalCopies(ClusterClient cluster, BlockStore store, NodeSpace space, String nodeId, NodeMetrics metrics) {
        this.cluster = cluster;
        this.store = store;
        this.space = space;
        this.nodeId = nodeId;
        this.metrics = metrics;
    }

    /** Reads when the cluster was created: older local volumes are not the cluster's to remove. */
    void start() {
        try {
            var stat = cluster.curator().checkExists().forPath(cluster.paths().root());
            clusterCreated = stat == null ? Long.MAX_VALUE : stat.getCtime();
        } catch (Exception e) {
            log.debug("cannot read the cluster's creation time", e);
        }
    }

    Path dataDir() {
        return store.dataDir();
    }

    /** The open local copy of a volume, for the replication channel; null when not placed here. */
    LocalVolume copy(UUID volume) {
        return open.get(volume);
    }

    /** Makes the local copy match what the catalogue says of it ({@code mine}): created, opened. */
    void reconcile(VolumeRecord v, ReplicaState mine) throws IOException {
        if (mine == ReplicaState.CREATING && v.state() == VolumeState.CREATING) {
            create(v);
        } else if (mine == ReplicaState.REBUILDING) {
            ensureExists(v, "rebuild");
            openCopy(v);
        } else {
            openCopy(v);
        }
    }

    /**
     * A copy being created with its volume: made empty, then recorded in sync. When it cannot be
     * made (no room here, the disk failing, a stranger in the way), the volume's creation fails
     * at once with the reason, rather than waiting for the request to time out.
     */
    private void create(VolumeRecord v) throws IOException {
        try {
            if (store.find(v.name()).isEmpty()) {
                String noRoom = space.refusal(v.sizeBytes());
                if (noRoom != null) {
                    throw new ClusterException("no room for a copy of " + Sizes.format(v.sizeBytes()) + ": " + noRoom);
                }
            }
            ensureExists(v, "create");
            openCopy(v);
        } catch (IOException e) {
            failCreation(v, e);
            return;
        }
        AtomicBoolean changed = new AtomicBoolean();
        cluster.updateVolume(v.name(), cur -> {
            changed.set(false);
            // Only while the volume is being created: no owner serves it yet, so no write can
            // have been acknowledged without this copy.
            if (cur.uuid().equals(v.uuid()) && cur.state() == VolumeState.CREATING
                    && cur.replicas().get(nodeId) == ReplicaState.CREATING) {
                changed.set(true);
                return cur.withReplica(nodeId, ReplicaState.IN_SYNC);
            }
            return cur;
        });
        if (changed.get()) {
            cluster.recordQuietly(Event.info(Controller.SOURCE, "volume " + v.name() + " (" + v.vdisk() + ") created on node " + nodeId));
        }
    }

    private void failCreation(VolumeRecord v, IOException cause) throws IOException {
        String why = "node " + nodeId + " cannot create its copy of volume " + v.name() + ": " + cause.getMessage();
        AtomicBoolean changed = new AtomicBoolean();
        cluster.updateVolume(v.name(), cur -> {
            changed.set(false);
            if (cur.uuid().equals(v.uuid()) && cur.state() == VolumeState.CREATING
                    && cur.replicas().get(nodeId) == ReplicaState.CREATING) {
                changed.set(true);
                return cur.failed(why);
            }
            return cur;
        });
        if (changed.get()) {
            log.warn("{}", why);
            cluster.recordQuietly(Event.warn(Controller.SOURCE, why));
        }
    }

    private void ensureExists(VolumeRecord v, String what) throws IOException {
        Optional<VolumeMetadata> existing = store.find(v.name());
        if (existing.isPresent() && !existing.get().uuid().equals(v.uuid())) {
            throw new ClusterException("cannot " + what + " the copy of " + v.name() + ": a local volume of that name with uuid "
                    + existing.get().uuid() + " is in the way (remove it from " + store.dataDir() + ")");
        }
        if (existing.isEmpty()) {
            store.create(v.name(), v.sizeBytes(), v.uuid());
        }
    }

    private void openCopy(VolumeRecord v) throws IOException {
        if (!open.containsKey(v.uuid())) {
            Optional<VolumeMetadata> m = store.find(v.name());
            if (m.isPresent() && m.get().uuid().equals(v.uuid())) {
                open.put(v.uuid(), store.open(v.name()));
            }
        }
    }

    /** Deletes the local copy of {@code v}; with {@code leaveRecord}, also its entry in the record. */
    void delete(VolumeRecord v, boolean leaveRecord) throws IOException {
        LocalVolume handle = open.remove(v.uuid());
        if (handle != null) {
            handle.close();
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

    /** A copy of a volume that no longer places one here (rebuilt elsewhere while this node was away). */
    void deleteIfHeld(VolumeRecord v) throws IOException {
        if (store.find(v.name()).filter(m -> m.uuid().equals(v.uuid())).isPresent()) {
            delete(v, false);
        }
    }

    /**
     * Closes the copies of volumes not in {@code wanted} and removes the local copies that no
     * volume of the catalogue refers to ({@code known} uuids).
     */
    void closeUnwanted(Set<String> wanted, Set<UUID> known) throws IOException {
        for (VolumeMetadata m : store.list()) {
            if (!wanted.contains(m.name())) {
                LocalVolume handle = open.remove(m.uuid());
                if (handle != null) {
                    handle.close();
                }
                removeIfForgotten(m, known);
            }
        }
    }

    /**
     * A local copy no volume of the catalogue refers to: the volume was deleted while this node was
     * away. Removed when it was made after this cluster existed (so it was this cluster's);
     * anything older is left alone.
     */
    private void removeIfForgotten(VolumeMetadata m, Set<UUID> known) throws IOException {
        if (known.contains(m.uuid()) || cluster.volume(m.name()).isPresent()) {
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

    /** Syncs and closes every open copy. */
    @Override
    public void close() {
        for (LocalVolume v : open.values()) {
            try {
                v.flush();
            } catch (IOException e) {
                log.warn("cannot sync a copy while stopping: {}", e.getMessage());
            }
            v.close();
        }
        open.clear();
    }
}
