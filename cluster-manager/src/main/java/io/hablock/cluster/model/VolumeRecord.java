package io.hablock.cluster.model;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * A volume as the catalogue in ZooKeeper holds it. Immutable: every change makes a new record,
 * written back with a compare-and-set on the znode's version.
 *
 * @param name unique volume name (also the NBD export name)
 * @param uuid identity of this volume, shared by all its copies
 * @param vdisk short id ({@code vd3}) for tables and events
 * @param sizeBytes size, a multiple of 512
 * @param copies how many copies the volume should have
 * @param state lifecycle
 * @param owner node id of the owner, or null before placement
 * @param epoch the owner's epoch: raised on every ownership change, fences older owners
 * @param replicas node id to copy state, the owner first
 * @param created epoch millis
 * @param error why placement failed (state FAILED), else null
 * @param servedEpoch the epoch at which the owner serves the volume over NBD (it fenced the copies
 *     first); below {@code epoch} while a new owner is taking over
 * @param desiredOwner the node an operator asked to own it ({@code volume move}), until it does; else null
 */
public record VolumeRecord(String name, UUID uuid, String vdisk, long sizeBytes, int copies, VolumeState state,
        String owner, long epoch, Map<String, ReplicaState> replicas, long created, String error, long servedEpoch,
        String desiredOwner) {

    public VolumeRecord {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(state, "state");
        replicas = Collections.unmodifiableMap(new LinkedHashMap<>(replicas == null ? Map.of() : replicas));
    }

    /** A new request, before placement. */
    public static VolumeRecord pending(String name, String vdisk, long sizeBytes, int copies) {
        return new VolumeRecord(name, UUID.randomUUID(), vdisk, sizeBytes, copies, VolumeState.PENDING, null, 0,
                Map.of(), System.currentTimeMillis(), null, 0, null);
    }

    /** Placement: the first node is the owner; every copy starts as CREATING at epoch 1. */
    public VolumeRecord placed(List<String> nodes) {
        Map<String, ReplicaState> r = new LinkedHashMap<>();
        nodes.forEach(n -> r.put(n, ReplicaState.CREATING));
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state.checkTransition(VolumeState.CREATING),
                nodes.get(0), 1, r, created, null, 0, desiredOwner);
    }

    public VolumeRecord failed(String why) {
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state.checkTransition(VolumeState.FAILED),
                owner, epoch, replicas, created, why, servedEpoch, desiredOwner);
    }

    public VolumeRecord withState(VolumeState next) {
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state.checkTransition(next), owner, epoch,
                replicas, created, error, servedEpoch, desiredOwner);
    }

    public VolumeRecord withReplica(String node, ReplicaState next) {
        ReplicaState current = replicas.get(node);
        if (current == null) {
            throw new IllegalStateException("node " + node + " holds no copy of " + name);
        }
        Map<String, ReplicaState> r = new LinkedHashMap<>(replicas);
        r.put(node, current.checkTransition(next));
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state, owner, epoch, r, created, error,
                servedEpoch, desiredOwner);
    }

    public VolumeRecord withoutReplica(String node) {
        Map<String, ReplicaState> r = new LinkedHashMap<>(replicas);
        r.remove(node);
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state, owner, epoch, r, created, error,
                servedEpoch, desiredOwner);
    }

    /**
     * Failover or move: {@code next} owns the volume at the next epoch. The old owner's copy
     * becomes stale when {@code staleOldOwner} (it may hold writes nobody acknowledged).
     */
    public VolumeRecord withOwner(String next, boolean staleOldOwner) {
        ReplicaState target = replicas.get(next);
        if (target != ReplicaState.IN_SYNC) {
            throw new IllegalStateException("node " + next + " holds no in-sync copy of " + name);
        }
        Map<String, ReplicaState> r = new LinkedHashMap<>();
        r.put(next, ReplicaState.IN_SYNC);
        replicas.forEach((node, s) -> {
            if (!node.equals(next)) {
                r.put(node, staleOldOwner && node.equals(owner) && s == ReplicaState.IN_SYNC
                        ? s.checkTransition(ReplicaState.STALE) : s);
            }
        });
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state, next, epoch + 1, r, created, error,
                servedEpoch, next.equals(desiredOwner) ? null : desiredOwner);
    }

    /** A new copy on {@code node}, starting in {@code state}. */
    public VolumeRecord withNewReplica(String node, ReplicaState state) {
        if (replicas.containsKey(node)) {
            throw new IllegalStateException("node " + node + " already holds a copy of " + name);
        }
        Map<String, ReplicaState> r = new LinkedHashMap<>(replicas);
        r.put(node, state);
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state(), owner, epoch, r, created, error,
                servedEpoch, desiredOwner);
    }

    /** An operator asks for {@code node} to own the volume (null: no request). */
    public VolumeRecord withDesiredOwner(String node) {
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state, owner, epoch, replicas, created, error,
                servedEpoch, node);
    }

    /** The owner serves the volume at {@code e}. */
    public VolumeRecord withServed(long e) {
        return new VolumeRecord(name, uuid, vdisk, sizeBytes, copies, state, owner, epoch, replicas, created, error,
                e, desiredOwner);
    }

    /** True when the owner serves the volume at the current epoch: clients can connect. */
    @JsonIgnore
    public boolean isServed() {
        return state == VolumeState.READY && servedEpoch == epoch && owner != null;
    }

    /** The nodes whose copies hold every acknowledged write. */
    @JsonIgnore
    public List<String> inSync() {
        return replicas.entrySet().stream().filter(e -> e.getValue() == ReplicaState.IN_SYNC)
                .map(Map.Entry::getKey).toList();
    }

    /** {@code 3-copy}. */
    @JsonIgnore
    public String type() {
        return copies + "-copy";
    }

    /**
     * {@code healthy} when ready with all its copies in sync, {@code degraded} when ready with
     * fewer, otherwise the state ({@code creating}, {@code deleting}, ...).
     */
    @JsonIgnore
    public String health() {
        if (state != VolumeState.READY) {
            return state == VolumeState.PENDING ? "creating" : state.label();
        }
        return inSync().size() >= copies ? "healthy" : "degraded";
    }
}
