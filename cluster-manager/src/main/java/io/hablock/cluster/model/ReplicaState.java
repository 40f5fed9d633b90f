package io.hablock.cluster.model;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The state of one copy of a volume. Only {@link #IN_SYNC} copies hold every acknowledged
 * write; only they may become owner.
 */
public enum ReplicaState {
    /** Being created empty, together with the volume. */
    CREATING,
    /** Holds every acknowledged write. */
    IN_SYNC,
    /** Missed writes (its node stopped answering); must be resynced before it counts again. */
    STALE,
    /** Being copied from an in-sync copy. */
    REBUILDING;

    private static final Map<ReplicaState, Set<ReplicaState>> NEXT = Map.of(
            CREATING, EnumSet.of(IN_SYNC, STALE),
            IN_SYNC, EnumSet.of(STALE),
            STALE, EnumSet.of(REBUILDING),
            REBUILDING, EnumSet.of(IN_SYNC, STALE));

    public boolean canBecome(ReplicaState next) {
        return this == next || NEXT.get(this).contains(next);
    }

    public ReplicaState checkTransition(ReplicaState next) {
        if (!canBecome(next)) {
            throw new IllegalStateException("a copy cannot go from " + label() + " to " + next.label());
        }
        return next;
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
