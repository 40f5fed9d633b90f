package io.hablock.cli.acceptance.fault;

import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The checker's window on the catalogue in ZooKeeper: who serves the volume now, who is the
 * controller, whether every copy is back in sync. It also remembers which owner each epoch
 * had, so two owners at one epoch would show.
 */
final class ClusterView implements AutoCloseable {
    /** Where the volume is served: the owner's id, name and NBD address, at an epoch. */
    record Owner(String id, String name, String host, int port, long epoch) {
    }

    private final ClusterClient zk;
    private final String volume;
    private final Map<Long, String> ownerOfEpoch = new TreeMap<>();
    private final Map<Long, String> conflicts = new TreeMap<>();

    ClusterView(String connect, String volume) throws ClusterException {
        this.zk = ClusterClient.connect(connect, "default", Duration.ofSeconds(30), Duration.ofSeconds(20));
        this.volume = volume;
    }

    ClusterClient client() {
        return zk;
    }

    /** The catalogue record now, noting its (epoch, owner). */
    Optional<VolumeRecord> record() {
        try {
            Optional<VolumeRecord> r = zk.volume(volume).map(Versioned::value);
            r.filter(v -> v.owner() != null).ifPresent(this::note);
            return r;
        } catch (ClusterException e) {
            return Optional.empty();
        }
    }

    private synchronized void note(VolumeRecord r) {
        String before = ownerOfEpoch.putIfAbsent(r.epoch(), r.owner());
        if (before != null && !before.equals(r.owner())) {
            conflicts.put(r.epoch(), before + " and " + r.owner());
        }
    }

    /** Epochs that were seen with two different owners (must stay empty). */
    synchronized Map<Long, String> epochConflicts() {
        return Map.copyOf(conflicts);
    }

    synchronized Map<Long, String> ownerOfEpoch() {
        return Map.copyOf(ownerOfEpoch);
    }

    /** The owner, once it serves the volume at the current epoch and is live. */
    Optional<Owner> served() {
        Optional<VolumeRecord> r = record();
        if (r.isEmpty() || !r.get().isServed()) {
            return Optional.empty();
        }
        NodeInfo n = live().get(r.get().owner());
        return n == null ? Optional.empty()
                : Optional.of(new Owner(n.id(), n.name(), n.host(), n.nbdPort(), r.get().epoch()));
    }

    Map<String, NodeInfo> live() {
        try {
            return zk.liveNodes();
        } catch (ClusterException e) {
            return Map.of();
        }
    }

    /** Node id to name, for every live node. */
    Map<String, String> names() {
        Map<String, String> out = new HashMap<>();
        live().values().forEach(n -> out.put(n.id(), n.name()));
        return out;
    }

    Optional<String> controllerId() {
        try {
            return zk.controllerId();
        } catch (ClusterException e) {
            return Optional.empty();
        }
    }

    /** Served, every copy in sync, all {@code nodes} live: the state each fault starts from. */
    boolean healthy(int nodes) {
        Optional<VolumeRecord> r = record();
        return r.isPresent() && r.get().isServed() && r.get().replicas().size() == r.get().copies()
                && r.get().replicas().values().stream().allMatch(s -> s == ReplicaState.IN_SYNC)
                && live().size() == nodes && controllerId().isPresent();
    }

    @Override
    public void close() {
        zk.close();
    }
}
