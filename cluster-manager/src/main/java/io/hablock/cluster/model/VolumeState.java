package io.hablock.cluster.model;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/** A volume's lifecycle in the catalogue. */
public enum VolumeState {
    /** Requested; the controller has not placed it yet. */
    PENDING,
    /** Placed; its nodes are creating their copies. */
    CREATING,
    /** Served by its owner. */
    READY,
    /** Could not be placed; the requester removes it and reports {@code error}. */
    FAILED,
    /** Being removed: nodes delete their copies, then the record goes. */
    DELETING;

    private static final Map<VolumeState, Set<VolumeState>> NEXT = Map.of(
            PENDING, EnumSet.of(CREATING, FAILED, DELETING),
            CREATING, EnumSet.of(READY, FAILED, DELETING),
            READY, EnumSet.of(DELETING),
            FAILED, EnumSet.of(DELETING),
            DELETING, EnumSet.noneOf(VolumeState.class));

    public boolean canBecome(VolumeState next) {
        return this == next || NEXT.get(this).contains(next);
    }

    public VolumeState checkTransition(VolumeState next) {
        if (!canBecome(next)) {
            throw new IllegalStateException("a volume cannot go from " + label() + " to " + next.label());
        }
        return next;
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
