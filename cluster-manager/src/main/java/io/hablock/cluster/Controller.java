package io.hablock.cluster;

import io.hablock.blockstore.Sizes;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's single decision maker, elected with Curator's {@link LeaderSelector}. While it
 * leads, it reconciles desired and actual state in one loop on one thread: member status from
 * liveness, placement of new volumes, readiness, removal. ZooKeeper callbacks only ask that
 * thread for another pass.
 */
public final class Controller implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Controller.class);
    private static final long PERIOD_MS = 10_000; // a safety net: ZooKeeper events trigger the passes
    static final String SOURCE = "CLUSTER";

    private final ClusterClient cluster;
    private final String nodeId;
    private final LeaderSelector selector;
    private final ScheduledExecutorService loop;
    private final AtomicBoolean passQueued = new AtomicBoolean();
    private volatile boolean leading;
    private volatile CountDownLatch stepDown = new CountDownLatch(1);
    private int passes;
    /** Warnings already recorded, so that a waiting situation is reported once. */
    private final java.util.Set<String> unservable = new java.util.HashSet<>();
    private final java.util.Set<String> unplaceable = new java.util.HashSet<>();

    public Controller(ClusterClient cluster, String nodeId) {
        this.cluster = cluster;
        this.nodeId = nodeId;
        this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "controller");
            t.setDaemon(true);
            return t;
        });
        this.selector = new LeaderSelector(cluster.curator(), cluster.paths().controller(), new Listener());
        selector.setId(nodeId);
        selector.autoRequeue();
    }

    /** Joins the election. */
    public Controller start() {
        selector.start();
        return this;
    }

    public boolean isLeader() {
        return leading;
    }

    private final class Listener extends LeaderSelectorListenerAdapter {
        @Override
        public void takeLeadership(CuratorFramework client) throws Exception {
            CountDownLatch done = new CountDownLatch(1);
            stepDown = done;
            leading = true;
            log.info("this node ({}) is now the controller", nodeId);
            cluster.recordQuietly(Event.info(SOURCE, "node " + nodeId + " is the controller"));
            try (CuratorCache nodes = CuratorCache.build(client, cluster.paths().nodes());
                    CuratorCache volumes = CuratorCache.build(client, cluster.paths().volumes())) {
                nodes.listenable().addListener((type, oldData, data) -> requestPass());
                volumes.listenable().addListener((type, oldData, data) -> requestPass());
                nodes.start();
                volumes.start();
                var tick = loop.scheduleWithFixedDelay(Controller.this::requestPass, 0, PERIOD_MS, TimeUnit.MILLISECONDS);
                try {
                    done.await();
                } finally {
                    tick.cancel(false);
                }
            } finally {
                leading = false;
                log.info("this node ({}) is no longer the controller", nodeId);
            }
        }
    }

    /** Asks the loop for one more pass; passes requested while one waits are merged. */
    void requestPass() {
        if (leading && passQueued.compareAndSet(false, true)) {
            loop.execute(() -> {
                passQueued.set(false);
                try {
                    if (leading) {
                        reconcile();
                    }
                } catch (ClusterException e) {
                    if (leading) {
                        log.warn("controller pass failed: {}", e.getMessage());
                    } else {
                        log.debug("controller pass ended by a step-down: {}", e.getMessage());
                    }
                } catch (RuntimeException e) {
                    log.error("controller pass failed", e);
                }
            });
        }
    }

    /** One pass: runs on the controller thread only. */
    private void reconcile() throws ClusterException {
        Map<String, NodeInfo> live = cluster.liveNodes();
        Map<String, Member> members = reconcileMembers(live);
        List<Versioned<VolumeRecord>> volumes = cluster.volumes();
        for (Versioned<VolumeRecord> v : volumes) {
            VolumeRecord r = v.value();
            switch (r.state()) {
                case PENDING -> place(r, live, members, volumes);
                case CREATING -> finishCreating(r);
                case DELETING -> finishDeleting(v, live);
                case READY -> {
                    if (!failover(r, live, members, volumes)) {
                        restoreCopies(r, live, members, volumes);
                    }
                }
                default -> {
                }
            }
        }
        if (++passes % 30 == 0) {
            cluster.trimEvents(ClusterClient.EVENT_HISTORY);
        }
    }

    private Map<String, Member> reconcileMembers(Map<String, NodeInfo> live) throws ClusterException {
        Map<String, Member> members = new HashMap<>(cluster.members());
        for (Map.Entry<String, Member> e : members.entrySet()) {
            Member m = e.getValue();
            boolean alive = live.containsKey(m.id());
            NodeStatus next = m.status();
            if (!alive && (m.status() == NodeStatus.NORMAL || m.status() == NodeStatus.CORDONED
                    || m.status() == NodeStatus.DRAINING)) {
                next = NodeStatus.MAINTENANCE;
            } else if (alive && m.status() == NodeStatus.MAINTENANCE) {
                next = NodeStatus.NORMAL;
            }
            if (next != m.status()) {
                var current = cluster.member(m.id());
                if (current.isPresent() && cluster.casMember(current.get(), m.withStatus(next))) {
                    e.setValue(m.withStatus(next));
                    String what = next == NodeStatus.MAINTENANCE
                            ? "node " + m.name() + " (" + m.id() + ") is unreachable: status maintenance"
                            : "node " + m.name() + " (" + m.id() + ") is back: status normal";
                    cluster.recordQuietly(next == NodeStatus.MAINTENANCE ? Event.warn(SOURCE, what) : Event.info(SOURCE, what));
                }
            }
        }
        return members;
    }

    private void place(VolumeRecord r, Map<String, NodeInfo> live, Map<String, Member> members,
            List<Versioned<VolumeRecord>> volumes) throws ClusterException {
        Map<String, Long> provisioned = new HashMap<>();
        for (Versioned<VolumeRecord> v : volumes) {
            for (String node : v.value().replicas().keySet()) {
                provisioned.merge(node, v.value().sizeBytes(), Long::sum);
            }
        }
        List<NodeInfo> candidates = new ArrayList<>();
        for (NodeInfo n : live.values()) {
            Member m = members.get(n.id());
            long free = n.capacityBytes() - provisioned.getOrDefault(n.id(), 0L);
            if (m != null && m.status() == NodeStatus.NORMAL && free >= r.sizeBytes()) {
                candidates.add(n);
            }
        }
        candidates.sort(Comparator.<NodeInfo>comparingLong(n -> provisioned.getOrDefault(n.id(), 0L))
                .thenComparing(NodeInfo::name));
        if (candidates.size() < r.copies()) {
            String why = "cannot place " + r.copies() + " copies of " + Sizes.format(r.sizeBytes()) + ": only "
                    + candidates.size() + " of " + live.size() + " live node(s) have room";
            cluster.updateVolume(r.name(), v -> v.state() == VolumeState.PENDING ? v.failed(why) : v);
            log.info("volume {}: {}", r.name(), why);
            return;
        }
        List<String> chosen = new ArrayList<>(candidates.subList(0, r.copies()).stream().map(NodeInfo::id).toList());
        // The owner serves all the volume's I/O: the chosen node that owns the fewest volumes.
        Map<String, Long> owned = new HashMap<>();
        volumes.forEach(v -> owned.merge(String.valueOf(v.value().owner()), 1L, Long::sum));
        String owner = chosen.stream().min(Comparator.comparingLong(n -> owned.getOrDefault(n, 0L))).orElseThrow();
        chosen.remove(owner);
        chosen.add(0, owner);
        cluster.updateVolume(r.name(), v -> v.state() == VolumeState.PENDING ? v.placed(chosen) : v);
        log.info("volume {} placed on {} (owner {})", r.name(), chosen, chosen.get(0));
    }

    /**
     * The owner is gone: a live node with an in-sync copy takes over at the next epoch (it fences
     * the copies before it serves). Returns true when ownership changed or cannot yet.
     */
    private boolean failover(VolumeRecord r, Map<String, NodeInfo> live, Map<String, Member> members,
            List<Versioned<VolumeRecord>> volumes) throws ClusterException {
        if (r.owner() == null || live.containsKey(r.owner())) {
            return false;
        }
        List<String> candidates = r.inSync().stream().filter(n -> !n.equals(r.owner()) && live.containsKey(n)).toList();
        if (candidates.isEmpty()) {
            if (unservable.add(r.name() + "@" + r.epoch())) {
                cluster.recordQuietly(Event.warn(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") has no live in-sync copy: "
                        + "waiting for node " + nameOf(r.owner(), members) + " to come back"));
            }
            return true;
        }
        Map<String, Long> owned = new HashMap<>();
        volumes.forEach(v -> owned.merge(String.valueOf(v.value().owner()), 1L, Long::sum));
        String next = candidates.stream().min(Comparator.comparingLong(n -> owned.getOrDefault(n, 0L))).orElseThrow();
        String old = r.owner();
        var done = cluster.updateVolume(r.name(), cur -> cur.epoch() == r.epoch() && old.equals(cur.owner())
                && cur.state() == VolumeState.READY ? cur.withOwner(next, true) : cur);
        if (done.isPresent() && next.equals(done.get().value().owner()) && done.get().value().epoch() == r.epoch() + 1) {
            NodeInfo n = live.get(next);
            cluster.recordQuietly(Event.info(SOURCE, "node " + nameOf(old, members) + " (" + old + ") failover completed: volume "
                    + r.name() + " (" + r.vdisk() + ") now owned by node " + n.name() + " (" + next + "), ip address="
                    + n.host() + ", epoch " + (r.epoch() + 1)));
            log.info("volume {}: failover from {} to {} at epoch {}", r.name(), old, next, r.epoch() + 1);
        }
        return true;
    }

    /**
     * Restores the volume's copy count: copies on dead nodes leave the in-sync set, a stale copy on
     * a live node is resynced (delta), or a new copy is built on a node with room; a copy beyond
     * the count (a node that rejoined after a rebuild elsewhere) is removed. One rebuild per
     * volume at a time, started by its owner once it serves.
     */
    private void restoreCopies(VolumeRecord r, Map<String, NodeInfo> live, Map<String, Member> members,
            List<Versioned<VolumeRecord>> volumes) throws ClusterException {
        List<String> deadInSync = r.inSync().stream().filter(n -> !n.equals(r.owner()) && !live.containsKey(n)).toList();
        if (!deadInSync.isEmpty()) {
            List<String> marked = new ArrayList<>();
            cluster.updateVolume(r.name(), cur -> {
                marked.clear();
                VolumeRecord next = cur;
                for (String n : deadInSync) {
                    if (next.replicas().get(n) == ReplicaState.IN_SYNC && !n.equals(next.owner())) {
                        next = next.withReplica(n, ReplicaState.STALE);
                        marked.add(n);
                    }
                }
                return next;
            });
            for (String n : marked) {
                cluster.recordQuietly(Event.warn(SOURCE, "volume " + r.name() + " copy on node " + n + " out of sync: node "
                        + nameOf(n, members) + " is unreachable"));
            }
            return;
        }
        // A rebuild whose target died cannot finish: that copy is stale again (it may be retried).
        List<String> deadTargets = r.replicas().entrySet().stream()
                .filter(e -> e.getValue() == ReplicaState.REBUILDING && !live.containsKey(e.getKey()))
                .map(Map.Entry::getKey).toList();
        if (!deadTargets.isEmpty()) {
            cluster.updateVolume(r.name(), cur -> {
                VolumeRecord next = cur;
                for (String n : deadTargets) {
                    if (next.replicas().get(n) == ReplicaState.REBUILDING) {
                        next = next.withReplica(n, ReplicaState.STALE);
                    }
                }
                return next;
            });
            return;
        }
        if (!r.isServed() || r.replicas().containsValue(ReplicaState.REBUILDING)
                || r.replicas().containsValue(ReplicaState.CREATING)) {
            return;
        }
        // Copies on draining nodes are on their way out: they do not count toward the copy count.
        List<String> usable = r.inSync().stream().filter(n -> !isDraining(members.get(n))).toList();
        String wanted = r.desiredOwner();
        if (wanted != null && !live.containsKey(wanted)) {
            cluster.updateVolume(r.name(), cur -> wanted.equals(cur.desiredOwner()) ? cur.withDesiredOwner(null) : cur);
            cluster.recordQuietly(Event.warn(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") move to node " + nameOf(wanted, members)
                    + " abandoned: the node is not live"));
            return;
        }
        if (wanted != null && r.replicas().get(wanted) == ReplicaState.IN_SYNC && !wanted.equals(r.owner())) {
            // Never pull a volume from under a connected client: wait until it leaves.
            if (cluster.sessionsOf(r.name()).isEmpty()) {
                transferOwnership(r, wanted, members, live, true);
            }
            return;
        }
        if (wanted == null && isDraining(members.get(r.owner())) && usable.size() >= r.copies()) {
            // The owner is draining: hand the volume to another in-sync copy first.
            transferOwnership(r, usable.get(0), members, live, false);
            return;
        }
        boolean needsLocalCopy = wanted != null && !r.replicas().containsKey(wanted);
        if (usable.size() < r.copies() || needsLocalCopy) {
            String target = needsLocalCopy ? wanted : r.replicas().entrySet().stream()
                    .filter(e -> e.getValue() == ReplicaState.STALE && live.containsKey(e.getKey())
                            && takesCopies(members.get(e.getKey())))
                    .map(Map.Entry::getKey).findFirst().orElse(null);
            boolean fresh = target == null || !r.replicas().containsKey(target);
            if (target == null) {
                target = newCopyNode(r, live, members, volumes);
            }
            if (target == null) {
                if (unplaceable.add(r.name() + "@" + usable.size())) {
                    cluster.recordQuietly(Event.warn(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") has " + usable.size() + " of "
                            + r.copies() + " copies and no node with room for another"));
                }
                return;
            }
            String t = target;
            var done = cluster.updateVolume(r.name(), cur -> {
                if (cur.epoch() != r.epoch() || cur.replicas().containsValue(ReplicaState.REBUILDING)) {
                    return cur;
                }
                return fresh ? cur.withNewReplica(t, ReplicaState.REBUILDING) : cur.withReplica(t, ReplicaState.REBUILDING);
            });
            if (done.isPresent() && done.get().value().replicas().get(t) == ReplicaState.REBUILDING) {
                cluster.recordQuietly(Event.info(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") rebuilding on node " + t
                        + (needsLocalCopy ? " (locality rebuild)" : fresh ? "" : " (resync of its stale copy)")));
            }
            return;
        }
        // Enough in-sync copies: stale ones, then in-sync ones beyond the count (a locality rebuild,
        // a drain), are no longer needed. The owner's copy always stays.
        List<String> extra = new ArrayList<>(r.replicas().entrySet().stream()
                .filter(e -> e.getValue() == ReplicaState.STALE).map(Map.Entry::getKey).toList());
        List<String> surplus = r.inSync().stream().filter(n -> !n.equals(r.owner()))
                .sorted(Comparator.comparing((String n) -> !isDraining(members.get(n)))).toList();
        for (int i = 0; i < r.inSync().size() - r.copies() && i < surplus.size(); i++) {
            extra.add(surplus.get(i));
        }
        if (!extra.isEmpty()) {
            List<String> removed = new ArrayList<>();
            cluster.updateVolume(r.name(), cur -> {
                removed.clear();
                VolumeRecord next = cur;
                for (String n : extra) {
                    ReplicaState st = next.replicas().get(n);
                    boolean spare = st == ReplicaState.STALE || (st == ReplicaState.IN_SYNC && next.inSync().size() > next.copies());
                    if (st != null && !n.equals(next.owner()) && spare) {
                        next = next.withoutReplica(n);
                        removed.add(n);
                    }
                }
                return next;
            });
            for (String n : removed) {
                log.info("volume {}: copy on {} removed (not needed)", r.name(), n);
            }
        }
    }

    /** Hands the volume to another node holding an in-sync copy, at the next epoch. */
    private void transferOwnership(VolumeRecord r, String next, Map<String, Member> members, Map<String, NodeInfo> live,
            boolean requested) throws ClusterException {
        var done = cluster.updateVolume(r.name(), cur -> cur.epoch() == r.epoch() && cur.replicas().get(next) == ReplicaState.IN_SYNC
                ? cur.withOwner(next, false) : cur);
        if (done.isPresent() && next.equals(done.get().value().owner())) {
            NodeInfo n = live.get(next);
            cluster.recordQuietly(Event.info(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") moved from node " + nameOf(r.owner(), members)
                    + " to node " + (n == null ? next : n.name() + " (" + next + ")") + ", epoch " + (r.epoch() + 1)
                    + (requested ? "; locality rebuild completed, ret:0" : " (drain)")));
        }
    }

    private static boolean isDraining(Member m) {
        return m != null && m.status() == NodeStatus.DRAINING;
    }

    private static boolean takesCopies(Member m) {
        return m != null && m.status() == NodeStatus.NORMAL;
    }

    /** A live node taking copies, with room, that holds none of this volume; least provisioned first. */
    private String newCopyNode(VolumeRecord r, Map<String, NodeInfo> live, Map<String, Member> members,
            List<Versioned<VolumeRecord>> volumes) {
        Map<String, Long> provisioned = new HashMap<>();
        for (Versioned<VolumeRecord> v : volumes) {
            for (String node : v.value().replicas().keySet()) {
                provisioned.merge(node, v.value().sizeBytes(), Long::sum);
            }
        }
        return live.values().stream()
                .filter(n -> !r.replicas().containsKey(n.id()) && takesCopies(members.get(n.id()))
                        && n.capacityBytes() - provisioned.getOrDefault(n.id(), 0L) >= r.sizeBytes())
                .sorted(Comparator.<NodeInfo>comparingLong(n -> provisioned.getOrDefault(n.id(), 0L))
                        .thenComparing(NodeInfo::name))
                .map(NodeInfo::id).findFirst().orElse(null);
    }

    private static String nameOf(String id, Map<String, Member> members) {
        Member m = members.get(id);
        return m == null ? id : m.name();
    }

    private void finishCreating(VolumeRecord r) throws ClusterException {
        if (!r.replicas().isEmpty() && r.replicas().values().stream().allMatch(s -> s == ReplicaState.IN_SYNC)) {
            var done = cluster.updateVolume(r.name(), v -> v.state() == VolumeState.CREATING ? v.withState(VolumeState.READY) : v);
            if (done.isPresent() && done.get().value().state() == VolumeState.READY) {
                cluster.recordQuietly(Event.info(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") ready: " + r.type()
                        + ", owner " + r.owner()));
            }
        }
    }

    private void finishDeleting(Versioned<VolumeRecord> v, Map<String, NodeInfo> live) throws ClusterException {
        VolumeRecord r = v.value();
        // Copies on dead nodes are forgotten here; the node removes them when it rejoins.
        List<String> gone = r.replicas().keySet().stream().filter(n -> !live.containsKey(n)).toList();
        if (!gone.isEmpty()) {
            cluster.updateVolume(r.name(), cur -> {
                VolumeRecord next = cur;
                for (String n : gone) {
                    next = next.withoutReplica(n);
                }
                return next;
            });
            return;
        }
        if (r.replicas().isEmpty() && cluster.deleteVolume(r.name(), v.version())) {
            cluster.deleteTree(cluster.paths().clientsOf(r.name()));
            cluster.recordQuietly(Event.info(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") deleted"));
        }
    }

    @Override
    public void close() {
        leading = false;
        stepDown.countDown();
        try {
            selector.close();
        } catch (RuntimeException e) {
            log.debug("leader selector close", e);
        }
        loop.shutdownNow();
    }
}
