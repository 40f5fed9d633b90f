package io.hablock.cluster;

import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where copies and ownership go: pure functions of a {@link Snapshot} of the cluster, with no
 * ZooKeeper and no side effects, so every rule can be tested on its own. The controller reads
 * the snapshot, asks here, and writes the answer with a compare-and-set.
 */
final class Placement {
    private Placement() {
    }

    /** What the controller read at the start of a pass. */
    record Snapshot(Map<String, NodeInfo> live, Map<String, Member> members, List<VolumeRecord> volumes) {
        /** Bytes of volumes with a copy on each node. */
        Map<String, Long> provisioned() {
            Map<String, Long> out = new HashMap<>();
            for (VolumeRecord v : volumes) {
                for (String node : v.replicas().keySet()) {
                    out.merge(node, v.sizeBytes(), Long::sum);
                }
            }
            return out;
        }

        /** Volumes owned by each node. */
        Map<String, Long> owned() {
            Map<String, Long> out = new HashMap<>();
            volumes.forEach(v -> out.merge(String.valueOf(v.owner()), 1L, Long::sum));
            return out;
        }

        boolean isLive(String node) {
            return live.containsKey(node);
        }

        NodeStatus status(String node) {
            Member m = members.get(node);
            return m == null ? null : m.status();
        }
    }

    /** A placement: the nodes of the copies, the owner first; or why there is none. */
    record Decision(List<String> nodes, String refusal) {
        static Decision refused(String why) {
            return new Decision(List.of(), why);
        }
    }

    /**
     * Places a new volume's copies on distinct live nodes that take copies and have room, least
     * provisioned first (then by name); the owner is the chosen node that owns the fewest volumes.
     */
    static Decision place(VolumeRecord r, Snapshot s) {
        Map<String, Long> provisioned = s.provisioned();
        List<NodeInfo> candidates = new ArrayList<>();
        for (NodeInfo n : s.live().values()) {
            long free = n.capacityBytes() - provisioned.getOrDefault(n.id(), 0L);
            if (s.status(n.id()) == NodeStatus.NORMAL && free >= r.sizeBytes()) {
                candidates.add(n);
            }
        }
        candidates.sort(Comparator.<NodeInfo>comparingLong(n -> provisioned.getOrDefault(n.id(), 0L))
                .thenComparing(NodeInfo::name));
        if (candidates.size() < r.copies()) {
            return Decision.refused("only " + candidates.size() + " of " + s.live().size() + " live node(s) have room");
        }
        List<String> chosen = new ArrayList<>(candidates.subList(0, r.copies()).stream().map(NodeInfo::id).toList());
        String owner = leastOwning(chosen, s).orElseThrow();
        chosen.remove(owner);
        chosen.add(0, owner);
        return new Decision(List.copyOf(chosen), null);
    }

    /**
     * The node that should take over a volume whose owner cannot serve it (not live, or its copy
     * out of sync): a live node with an in-sync copy, the one owning the fewest volumes. Empty
     * when no such node exists (then the volume waits for a current copy to come back).
     */
    static Optional<String> failoverTarget(VolumeRecord r, Snapshot s) {
        List<String> candidates = r.inSync().stream().filter(n -> !n.equals(r.owner()) && s.isLive(n)).toList();
        return leastOwning(candidates, s);
    }

    /** True when the volume's owner cannot serve it: its node is not live, or its copy is not in sync. */
    static boolean ownerLost(VolumeRecord r, Snapshot s) {
        return r.owner() != null && (!s.isLive(r.owner()) || r.replicas().get(r.owner()) != ReplicaState.IN_SYNC);
    }

    /**
     * A live node taking copies, with room, that holds none of this volume: the least provisioned
     * (then by name). Empty when there is none.
     */
    static Optional<String> newCopyNode(VolumeRecord r, Snapshot s) {
        Map<String, Long> provisioned = s.provisioned();
        return s.live().values().stream()
                .filter(n -> !r.replicas().containsKey(n.id()) && s.status(n.id()) == NodeStatus.NORMAL
                        && n.capacityBytes() - provisioned.getOrDefault(n.id(), 0L) >= r.sizeBytes())
                .sorted(Comparator.<NodeInfo>comparingLong(n -> provisioned.getOrDefault(n.id(), 0L))
                        .thenComparing(NodeInfo::name))
                .map(NodeInfo::id).findFirst();
    }

    /** A stale copy on a live node that takes copies: resynced (a delta) rather than built anew. */
    static Optional<String> staleCopyToResync(VolumeRecord r, Snapshot s) {
        return r.replicas().entrySet().stream()
                .filter(e -> e.getValue() == ReplicaState.STALE && s.isLive(e.getKey())
                        && s.status(e.getKey()) == NodeStatus.NORMAL)
                .map(Map.Entry::getKey).findFirst();
    }

    /**
     * Copies the volume no longer needs once it has enough in-sync copies: stale ones, then
     * in-sync ones beyond the count (those on draining nodes first). The owner's copy always stays.
     */
    static List<String> surplusCopies(VolumeRecord r, Snapshot s) {
        List<String> extra = new ArrayList<>(r.replicas().entrySet().stream()
                .filter(e -> e.getValue() == ReplicaState.STALE).map(Map.Entry::getKey).toList());
        List<String> surplus = r.inSync().stream().filter(n -> !n.equals(r.owner()))
                .sorted(Comparator.comparing((String n) -> s.status(n) != NodeStatus.DRAINING)).toList();
        for (int i = 0; i < r.inSync().size() - r.copies() && i < surplus.size(); i++) {
            extra.add(surplus.get(i));
        }
        return extra;
    }

    /** In-sync copies that count toward the copy count: not on draining nodes. */
    static List<String> usableCopies(VolumeRecord r, Snapshot s) {
        return r.inSync().stream().filter(n -> s.status(n) != NodeStatus.DRAINING).toList();
    }

    private static Optional<String> leastOwning(List<String> nodes, Snapshot s) {
        Map<String, Long> owned = s.owned();
        return nodes.stream().min(Comparator.comparingLong(n -> owned.getOrDefault(n, 0L)));
    }
}
