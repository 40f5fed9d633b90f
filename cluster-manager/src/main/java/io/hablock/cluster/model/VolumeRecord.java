package io.hablock.cluster.model;

import com.fasterxml.jackson.annotation.JsonIgnore;
import io.hablock.blockstore.Generation;
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
 * @param minCopies fewest in-sync copies (the owner's included) with which the owner still
 *     acknowledges writes; below, the volume is read-only
 * @param generation the generation every in-sync copy has persisted (at least): the owner fenced
 *     them all with it before it was written here. A copy listed in sync whose own generation is
 *     lower has lost state (its data went back in time) and must not serve
 * @param handoverTo the node the controller asked the owner to hand the volume to (a move or a
 *     drain); the owner stops serving, then makes that node the owner itself. Else null
 * @param allow the client address blocks that may attach the volume (CIDR); empty for anyone
 * @param locality {@code auto}: moved to the node where it is mounted; {@code off}: stays where it
 *     is; null: as the node that mounts it says ({@code hablock server --locality})
 */
public record VolumeRecord(String name, UUID uuid, String vdisk, long sizeBytes, int copies, VolumeState state,
        String owner, long epoch, Map<String, ReplicaState> replicas, long created, String error, long servedEpoch,
        String desiredOwner, int minCopies, Generation generation, String handoverTo, List<String> allow,
        String locality) {

    public VolumeRecord {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(state, "state");
        replicas = Collections.unmodifiableMap(new LinkedHashMap<>(replicas == null ? Map.of() : replicas));
        // Records written before these fields existed read as 0 and null.
        minCopies = minCopies <= 0 ? defaultMinCopies(copies) : minCopies;
        generation = generation == null ? Generation.ZERO : generation;
        allow = allow == null ? List.of() : List.copyOf(allow);
        if (locality != null && !locality.equals(LOCALITY_AUTO) && !locality.equals(LOCALITY_OFF)) {
            throw new IllegalArgumentException("locality must be auto or off, not '" + locality + "'");
        }
    }

    /** {@link #locality}: moved to where it is mounted. */
    public static final String LOCALITY_AUTO = "auto";
    /** {@link #locality}: stays where it is. */
    public static final String LOCALITY_OFF = "off";

    /** Whether a node whose own setting is {@code nodeDefault} moves the volume to itself when it mounts it. */
    public boolean followsMounts(boolean nodeDefault) {
        return locality == null ? nodeDefault : locality.equals(LOCALITY_AUTO);
    }

    /** Fewest in-sync copies for writes when none is asked for: 2 from 3 copies on, else 1. */
    public static int defaultMinCopies(int copies) {
        return copies >= 3 ? 2 : 1;
    }

    /** A new request, before placement, with the default minimum of in-sync copies. */
    public static VolumeRecord pending(String name, String vdisk, long sizeBytes, int copies) {
        return pending(name, vdisk, sizeBytes, copies, defaultMinCopies(copies));
    }

    /** A new request, before placement. */
    public static VolumeRecord pending(String name, String vdisk, long sizeBytes, int copies, int minCopies) {
        if (minCopies < 1 || minCopies > copies) {
            throw new IllegalArgumentException("--min-copies must be between 1 and the copy count " + copies);
        }
        return new VolumeRecord(name, UUID.randomUUID(), vdisk, sizeBytes, copies, VolumeState.PENDING, null, 0,
                Map.of(), System.currentTimeMillis(), null, 0, null, minCopies, Generation.ZERO, null, List.of(), null);
    }

    /** Placement: the first node is the owner; every copy starts as CREATING at epoch 1. */
    public VolumeRecord placed(List<String> nodes) {
        Map<String, ReplicaState> r = new LinkedHashMap<>();
        nodes.forEach(n -> r.put(n, ReplicaState.CREATING));
        return edit().state(state.checkTransition(VolumeState.CREATING)).owner(nodes.get(0)).epoch(1).replicas(r)
                .error(null).servedEpoch(0).build();
    }

    public VolumeRecord failed(String why) {
        return edit().state(state.checkTransition(VolumeState.FAILED)).error(why).build();
    }

    public VolumeRecord withState(VolumeState next) {
        return edit().state(state.checkTransition(next)).build();
    }

    public VolumeRecord withReplica(String node, ReplicaState next) {
        ReplicaState current = replicas.get(node);
        if (current == null) {
            throw new IllegalStateException("node " + node + " holds no copy of " + name);
        }
        Map<String, ReplicaState> r = new LinkedHashMap<>(replicas);
        r.put(node, current.checkTransition(next));
        return edit().replicas(r).build();
    }

    public VolumeRecord withoutReplica(String node) {
        Map<String, ReplicaState> r = new LinkedHashMap<>(replicas);
        r.remove(node);
        return edit().replicas(r).handoverTo(node.equals(handoverTo) ? null : handoverTo).build();
    }

    /**
     * Failover or handover: {@code next} owns the volume at the next epoch. The old owner's copy
     * becomes stale when {@code staleOldOwner}; otherwise it stays as it is, and the new owner takes
     * it out of sync if it cannot fence it before serving.
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
        return edit().owner(next).epoch(epoch + 1).replicas(r).desiredOwner(next.equals(desiredOwner) ? null : desiredOwner)
                .handoverTo(null).build();
    }

    /** A new copy on {@code node}, starting in {@code state}. */
    public VolumeRecord withNewReplica(String node, ReplicaState state) {
        if (replicas.containsKey(node)) {
            throw new IllegalStateException("node " + node + " already holds a copy of " + name);
        }
        Map<String, ReplicaState> r = new LinkedHashMap<>(replicas);
        r.put(node, state);
        return edit().replicas(r).build();
    }

    /** An operator asks for {@code node} to own the volume (null: no request). */
    public VolumeRecord withDesiredOwner(String node) {
        return edit().desiredOwner(node).build();
    }

    /** The controller asks the owner to hand the volume to {@code node} (null: no request). */
    public VolumeRecord withHandoverTo(String node) {
        if (node != null && replicas.get(node) != ReplicaState.IN_SYNC) {
            throw new IllegalStateException("node " + node + " holds no in-sync copy of " + name);
        }
        return edit().handoverTo(node).build();
    }

    /** Who may attach the volume: address blocks in canonical CIDR form, empty for anyone. */
    public VolumeRecord withAllow(List<String> blocks) {
        return edit().allow(blocks).build();
    }

    /** {@code auto}, {@code off}, or null for the mounting node's setting. */
    public VolumeRecord withLocality(String v) {
        return edit().locality(v).build();
    }

    /** The owner serves the volume at {@code e}. */
    public VolumeRecord withServed(long e) {
        return edit().servedEpoch(e).build();
    }

    /** Every in-sync copy has persisted {@code g} (it may never go down). */
    public VolumeRecord withGeneration(Generation g) {
        if (g.isBelow(generation)) {
            throw new IllegalStateException("generation " + g + " is below " + generation);
        }
        return edit().generation(g).build();
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

    /** True when enough copies are in sync for the owner to acknowledge writes. */
    @JsonIgnore
    public boolean isWritable() {
        return inSync().size() >= minCopies;
    }

    /** {@code 3-copy}. */
    @JsonIgnore
    public String type() {
        return copies + "-copy";
    }

    /**
     * {@code healthy} when ready with all its copies in sync, {@code degraded} when ready with
     * fewer but at least {@code minCopies}, {@code read-only} below that (writes are refused),
     * otherwise the state ({@code creating}, {@code deleting}, ...).
     */
    @JsonIgnore
    public String health() {
        if (state != VolumeState.READY) {
            return state == VolumeState.PENDING ? "creating" : state.label();
        }
        int n = inSync().size();
        return n >= copies ? "healthy" : n >= minCopies ? "degraded" : "read-only";
    }

    private Editor edit() {
        return new Editor(this);
    }

    /** A copy of a record with some fields changed; every wither goes through it. */
    private static final class Editor {
        private final VolumeRecord r;
        private VolumeState state;
        private String owner;
        private long epoch;
        private Map<String, ReplicaState> replicas;
        private String error;
        private long servedEpoch;
        private String desiredOwner;
        private Generation generation;
        private String handoverTo;
        private List<String> allow;
        private String locality;

        Editor(VolumeRecord r) {
            this.r = r;
            this.state = r.state;
            this.owner = r.owner;
            this.epoch = r.epoch;
            this.replicas = r.replicas;
            this.error = r.error;
            this.servedEpoch = r.servedEpoch;
            this.desiredOwner = r.desiredOwner;
            this.generation = r.generation;
            this.handoverTo = r.handoverTo;
            this.allow = r.allow;
            this.locality = r.locality;
        }

        Editor state(VolumeState v) {
            state = v;
            return this;
        }

        Editor owner(String v) {
            owner = v;
            return this;
        }

        Editor epoch(long v) {
            epoch = v;
            return this;
        }

        Editor replicas(Map<String, ReplicaState> v) {
            replicas = v;
            return this;
        }

        Editor error(String v) {
            error = v;
            return this;
        }

        Editor servedEpoch(long v) {
            servedEpoch = v;
            return this;
        }

        Editor desiredOwner(String v) {
            desiredOwner = v;
            return this;
        }

        Editor generation(Generation v) {
            generation = v;
            return this;
        }

        Editor handoverTo(String v) {
            handoverTo = v;
            return this;
        }

        Editor allow(List<String> v) {
            allow = v;
            return this;
        }

        Editor locality(String v) {
            locality = v;
            return this;
        }

        VolumeRecord build() {
            return new VolumeRecord(r.name, r.uuid, r.vdisk, r.sizeBytes, r.copies, state, owner, epoch, replicas,
                    r.created, error, servedEpoch, desiredOwner, r.minCopies, generation, handoverTo, allow,
                    locality);
        }
    }
}
