package io.hablock.cluster.model;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/** A member's status as {@code node ls} shows it, with the legal transitions. */
public enum NodeStatus {
    /** Alive and taking work. */
    NORMAL,
    /** Not alive (its session expired); its volumes move elsewhere. */
    MAINTENANCE,
    /** Alive, but takes no new copies (an operator's choice). */
    CORDONED,
    /** Cordoned, and its copies are being moved to other nodes ({@code node drain}). */
    DRAINING,
    /** Taken out of the cluster for good. */
    REMOVED;

    private static final Map<NodeStatus, Set<NodeStatus>> NEXT = Map.of(
            NORMAL, EnumSet.of(MAINTENANCE, CORDONED, DRAINING, REMOVED),
            MAINTENANCE, EnumSet.of(NORMAL, CORDONED, DRAINING, REMOVED),
            CORDONED, EnumSet.of(NORMAL, MAINTENANCE, DRAINING, REMOVED),
            DRAINING, EnumSet.of(NORMAL, MAINTENANCE, CORDONED, REMOVED),
            REMOVED, EnumSet.of(NORMAL));

    public boolean canBecome(NodeStatus next) {
        return this == next || NEXT.get(this).contains(next);
    }

    /** Throws when {@code next} is not a legal successor. */
    public NodeStatus checkTransition(NodeStatus next) {
        if (!canBecome(next)) {
            throw new IllegalStateException("a node cannot go from " + label() + " to " + next.label());
        }
        return next;
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
