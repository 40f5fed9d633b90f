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
 * had, so two owners at one epoch would show, and the failovers can be counted from the epochs
 * (the event log keeps only the last events). A sampler reads the record every
 * {@value #SAMPLE_MS} ms besides the checker's own reads, so that few epochs go unseen.
 */
final class ClusterView implements AutoCloseable {
    /** Where the volume is served: the owner's id, name and NBD address, at an epoch. */
    record Owner(String id, String name, String host, int port, long epoch) {
    }

    private static final long SAMPLE_MS = 100;

    private final ClusterClient zk;
    private final String volume;
    private final Map<Long, String> ownerOfEpoch = new TreeMap<>();
    private final Map<Long, String> conflicts = new TreeMap<>();
    private final Thread sampler;
    private volatile boolean closed;

    ClusterView(String connect, String volume) throws ClusterException {
        this.zk = ClusterClient.connect(connect, "default", Duration.ofSeconds(30), Duration.ofSeconds(20),
                io.hablock.cli.acceptance.support.TestCredentials.secret());
        this.volume = volume;
        this.sampler = new Thread(() -> {
            while (!closed) {
                record();
                FaultCheck.sleep(SAMPLE_MS);
            }
        }, "epoch-sampler");
        sampler.setDaemon(true);
        sampler.start();
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
        return new TreeMap<>(ownerOfEpoch);
    }

    /** How many epochs were seen. */
    synchronized int epochsSeen() {
        return ownerOfEpoch.size();
    }

    /**
     * Epochs seen whose owner differs from the one of the epoch seen before: the failovers (and
     * moves). A node that takes its own volume again at a new epoch (after its session expired)
     * raises the epoch without a change of owner.
     */
    synchronized int ownerChanges() {
        int changes = 0;
        String before = null;
        for (String owner : ownerOfEpoch.values()) {
            changes += before != null && !before.equals(owner) ? 1 : 0;
            before = owner;
        }
        return changes;
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
        closed = true;
        try {
            sampler.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        zk.close();
    }
}
