package io.hablock.cluster;

import io.hablock.blockstore.Sizes;
import io.hablock.cluster.model.ClientSession;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's single decision maker, elected with Curator's {@link LeaderLatch}. While it
 * leads, it reconciles desired and actual state in one loop on one thread: member status from
 * liveness, placement of new volumes ({@link Placement}), readiness, failover, rebuilds, moves,
 * removal. ZooKeeper callbacks and the latch's listener run on that thread too, or only ask it
 * for another pass. Every decision is a compare-and-set on the record it read.
 *
 * <p>Ownership moves in two ways only. Failover, when the owner's registration is gone (its
 * session expired, so its lease ran out long before) or its copy is out of sync: the owner's
 * liveness is read again right before the compare-and-set. Handover, when the owner is alive (a
 * move, a drain): the controller only asks, and the owner stops serving before it names the new
 * owner itself. So no two nodes ever serve a volume at once.
 */
public final class Controller implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Controller.class);
    private static final long PERIOD_MS = 10_000; // a safety net: ZooKeeper events trigger the passes
    static final String SOURCE = "CLUSTER";

    private final ClusterClient cluster;
    private final String nodeId;
    private final LeaderLatch latch;
    private final ScheduledExecutorService loop;
    private final AtomicBoolean passQueued = new AtomicBoolean();
    private volatile boolean leading;
    private int passes;
    // Loop thread only, while leading:
    private CuratorCache nodesCache;
    private CuratorCache membersCache;
    private CuratorCache volumesCache;
    private ScheduledFuture<?> tick;
    /** Warnings already recorded, so that a waiting situation is reported once. */
    private final Set<String> unservable = new HashSet<>();
    private final Set<String> unplaceable = new HashSet<>();

    public Controller(ClusterClient cluster, String nodeId) {
        this.cluster = cluster;
        this.nodeId = nodeId;
        this.loop = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("controller", true));
        this.latch = new LeaderLatch(cluster.curator(), cluster.paths().controller(), nodeId, LeaderLatch.CloseMode.SILENT);
        latch.addListener(new LeaderLatchListener() {
            @Override
            public void isLeader() {
                lead();
            }

            @Override
            public void notLeader() {
                stepDown();
            }
        }, loop);
    }

    /** Joins the election. */
    public Controller start() {
        try {
            latch.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot join the controller election: " + e.getMessage(), e);
        }
        return this;
    }

    public boolean isLeader() {
        return leading;
    }

    /** On the loop: this node leads now. */
    private void lead() {
        if (leading || loop.isShutdown()) {
            return;
        }
        leading = true;
        log.info("this node ({}) is now the controller", nodeId);
        cluster.recordQuietly(Event.info(SOURCE, "node " + nodeId + " is the controller"));
        nodesCache = CuratorCache.build(cluster.curator(), cluster.paths().nodes());
        membersCache = CuratorCache.build(cluster.curator(), cluster.paths().members()); // cordon, drain
        volumesCache = CuratorCache.build(cluster.curator(), cluster.paths().volumes());
        for (CuratorCache cache : List.of(nodesCache, membersCache, volumesCache)) {
            cache.listenable().addListener((type, oldData, data) -> requestPass());
            cache.start();
        }
        tick = loop.scheduleWithFixedDelay(this::requestPass, 0, PERIOD_MS, TimeUnit.MILLISECONDS);
    }

    /** On the loop: this node no longer leads. */
    private void stepDown() {
        boolean was = leading;
        leading = false;
        release();
        if (was) {
            log.info("this node ({}) is no longer the controller", nodeId);
        }
    }

    /** On the loop: stops what {@link #lead()} started. */
    private void release() {
        if (tick != null) {
            tick.cancel(false);
            tick = null;
        }
        for (CuratorCache cache : java.util.Arrays.asList(nodesCache, membersCache, volumesCache)) {
            if (cache != null) {
                cache.close();
            }
        }
        nodesCache = null;
        membersCache = null;
        volumesCache = null;
    }

    /** Asks the loop for one more pass; passes requested while one waits are merged. */
    void requestPass() {
        if (leading && passQueued.compareAndSet(false, true)) {
            try {
                loop.execute(this::pass);
            } catch (RejectedExecutionException e) {
                passQueued.set(false);
            }
        }
    }

    private void pass() {
        passQueued.set(false);
        if (!leading) {
            return;
        }
        try {
            reconcile();
        } catch (ClusterException e) {
            if (leading) {
                log.warn("controller pass failed: {}", e.getMessage());
            } else {
                log.debug("controller pass ended by a step-down: {}", e.getMessage());
            }
        } catch (RuntimeException e) {
            log.error("controller pass failed", e);
        }
    }

    /** One pass: runs on the controller thread only. */
    private void reconcile() throws ClusterException {
        Map<String, NodeInfo> live = cluster.liveNodes();
        Map<String, Member> members = reconcileMembers(live);
        List<Versioned<VolumeRecord>> volumes = cluster.volumes();
        Placement.Snapshot s = new Placement.Snapshot(live, members, volumes.stream().map(Versioned::value).toList());
        for (Versioned<VolumeRecord> v : volumes) {
            try {
                reconcile(v, s, live);
            } catch (RuntimeException e) {
                // One volume's bug or odd record does not hold up the others (ZooKeeper trouble,
                // a ClusterException, still ends the pass: the next one tries again).
                log.error("volume {}: controller pass failed", v.value().name(), e);
            }
        }
        if (++passes % 30 == 0) {
            cluster.trimEvents(ClusterClient.EVENT_HISTORY);
        }
    }

    private void reconcile(Versioned<VolumeRecord> v, Placement.Snapshot s, Map<String, NodeInfo> live)
            throws ClusterException {
        VolumeRecord r = v.value();
        switch (r.state()) {
            case PENDING -> place(r, s);
            case CREATING -> finishCreating(r);
            case DELETING -> finishDeleting(v, live);
            case READY -> {
                if (!failover(r, s)) {
                    restoreCopies(r, s);
                }
            }
            default -> {
            }
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

    private void place(VolumeRecord r, Placement.Snapshot s) throws ClusterException {
        Placement.Decision d = Placement.place(r, s);
        if (d.refusal() != null) {
            String why = "cannot place " + r.copies() + " copies of " + Sizes.format(r.sizeBytes()) + ": " + d.refusal();
            cluster.updateVolume(r.name(), v -> v.state() == VolumeState.PENDING ? v.failed(why) : v);
            log.info("volume {}: {}", r.name(), why);
            return;
        }
        cluster.updateVolume(r.name(), v -> v.state() == VolumeState.PENDING ? v.placed(d.nodes()) : v);
        log.info("volume {} placed on {} (owner {})", r.name(), d.nodes(), d.nodes().get(0));
    }

    /**
     * The owner cannot serve (its registration is gone, or its copy is out of sync): a live node
     * with an in-sync copy takes over at the next epoch; it fences the copies before it serves.
     * The owner's liveness is read from ZooKeeper again inside the compare-and-set, after the
     * record it changes was read: an owner back meanwhile (it takes the volume again itself)
     * makes the change void. Returns true when ownership changed or cannot yet.
     */
    private boolean failover(VolumeRecord r, Placement.Snapshot s) throws ClusterException {
        if (!Placement.ownerLost(r, s)) {
            return false;
        }
        Optional<String> target = Placement.failoverTarget(r, s);
        if (target.isEmpty()) {
            if (unservable.add(r.name() + "@" + r.epoch())) {
                cluster.recordQuietly(Event.warn(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") has no live in-sync copy: "
                        + "waiting for node " + nameOf(r.owner(), s.members()) + " to come back"));
            }
            return true;
        }
        String next = target.get();
        String old = r.owner();
        AtomicBoolean changed = new AtomicBoolean();
        try {
            cluster.updateVolume(r.name(), cur -> {
                changed.set(false);
                if (cur.epoch() != r.epoch() || !old.equals(cur.owner()) || cur.state() != VolumeState.READY
                        || cur.replicas().get(next) != ReplicaState.IN_SYNC
                        || (cur.replicas().get(old) == ReplicaState.IN_SYNC && registered(old))) {
                    return cur;
                }
                changed.set(true);
                return cur.withOwner(next, false);
            });
        } catch (IllegalStateException e) {
            throw new ClusterException("volume " + r.name() + ": failover not decided: " + e.getMessage(), e);
        }
        if (changed.get()) {
            NodeInfo n = s.live().get(next);
            cluster.recordQuietly(Event.info(SOURCE, "node " + nameOf(old, s.members()) + " (" + old + ") failover completed: volume "
                    + r.name() + " (" + r.vdisk() + ") now owned by node " + n.name() + " (" + next + "), ip address="
                    + n.host() + ", epoch " + (r.epoch() + 1)));
            log.info("volume {}: failover from {} to {} at epoch {}", r.name(), old, next, r.epoch() + 1);
        }
        return true;
    }

    /** Whether the node's ephemeral registration exists now (read from ZooKeeper, not a cache). */
    private boolean registered(String node) {
        try {
            return cluster.curator().checkExists().forPath(cluster.paths().node(node)) != null;
        } catch (Exception e) {
            throw new IllegalStateException("cannot check node " + node + ": " + e.getMessage(), e);
        }
    }

    /**
     * Restores the volume's copy count once its owner serves it: a stale copy on a live node is
     * resynced (delta), or a new copy is built on a node with room; copies beyond the count (a
     * node that rejoined after a rebuild elsewhere, a move, a drain) are removed. Moves and drains
     * are asked of the owner. One rebuild per volume at a time, run by its owner. Copies that fail
     * are taken out of sync by the owner, which alone changes that while it serves.
     */
    private void restoreCopies(VolumeRecord r, Placement.Snapshot s) throws ClusterException {
        if (!r.isServed() || r.replicas().containsValue(ReplicaState.REBUILDING)
                || r.replicas().containsValue(ReplicaState.CREATING)) {
            return;
        }
        if (r.handoverTo() != null) {
            String to = r.handoverTo();
            if (!s.isLive(to) || r.replicas().get(to) != ReplicaState.IN_SYNC) {
                cluster.updateVolume(r.name(), cur -> to.equals(cur.handoverTo()) ? cur.withHandoverTo(null) : cur);
            }
            return; // the owner hands it over
        }
        List<String> usable = Placement.usableCopies(r, s);
        String wanted = r.desiredOwner();
        if (wanted != null && !s.isLive(wanted)) {
            cluster.updateVolume(r.name(), cur -> wanted.equals(cur.desiredOwner()) ? cur.withDesiredOwner(null) : cur);
            cluster.recordQuietly(Event.warn(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") move to node "
                    + nameOf(wanted, s.members()) + " abandoned: the node is not live"));
            return;
        }
        if (wanted != null && r.replicas().get(wanted) == ReplicaState.IN_SYNC && !wanted.equals(r.owner())) {
            // Never pull a volume from under a client connected straight to the owner: wait until
            // it leaves. Connections through a node's endpoint follow the volume to its new owner.
            if (cluster.sessionsOf(r.name()).stream().allMatch(ClientSession::follows)) {
                askHandover(r, wanted);
            }
            return;
        }
        if (wanted == null && s.status(r.owner()) == NodeStatus.DRAINING && usable.size() >= r.copies()) {
            askHandover(r, usable.get(0)); // the owner is draining: hand the volume to another in-sync copy first
            return;
        }
        boolean needsLocalCopy = wanted != null && !r.replicas().containsKey(wanted);
        if (usable.size() < r.copies() || needsLocalCopy) {
            startRebuild(r, s, usable, needsLocalCopy ? wanted : null);
            return;
        }
        List<String> extra = Placement.surplusCopies(r, s);
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

    /** Marks a copy REBUILDING: a stale one (delta resync), else a new one; the owner runs it. */
    private void startRebuild(VolumeRecord r, Placement.Snapshot s, List<String> usable, String localityTarget)
            throws ClusterException {
        Optional<String> stale = localityTarget == null ? Placement.staleCopyToResync(r, s) : Optional.empty();
        Optional<String> target = localityTarget != null ? Optional.of(localityTarget)
                : stale.isPresent() ? stale : Placement.newCopyNode(r, s);
        if (target.isEmpty()) {
            if (unplaceable.add(r.name() + "@" + usable.size())) {
                cluster.recordQuietly(Event.warn(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") has " + usable.size() + " of "
                        + r.copies() + " copies and no node with room for another"));
            }
            return;
        }
        String t = target.get();
        boolean fresh = !r.replicas().containsKey(t);
        var done = cluster.updateVolume(r.name(), cur -> {
            if (cur.epoch() != r.epoch() || cur.replicas().containsValue(ReplicaState.REBUILDING)) {
                return cur;
            }
            if (fresh) {
                return cur.replicas().containsKey(t) ? cur : cur.withNewReplica(t, ReplicaState.REBUILDING);
            }
            return cur.replicas().get(t) == ReplicaState.STALE ? cur.withReplica(t, ReplicaState.REBUILDING) : cur;
        });
        if (done.isPresent() && done.get().value().replicas().get(t) == ReplicaState.REBUILDING) {
            cluster.recordQuietly(Event.info(SOURCE, "volume " + r.name() + " (" + r.vdisk() + ") rebuilding on node " + t
                    + (localityTarget != null ? " (locality rebuild)" : fresh ? "" : " (resync of its stale copy)")));
        }
    }

    /** Asks the owner to hand the volume over to {@code next} (it holds an in-sync copy). */
    private void askHandover(VolumeRecord r, String next) throws ClusterException {
        cluster.updateVolume(r.name(), cur -> cur.epoch() == r.epoch() && cur.handoverTo() == null
                && cur.replicas().get(next) == ReplicaState.IN_SYNC && !next.equals(cur.owner()) ? cur.withHandoverTo(next) : cur);
    }

    private static String nameOf(String id, Map<String, Member> members) {
        Member m = members.get(id);
        return m == null ? id : m.name();
    }

    private void finishCreating(VolumeRecord r) throws ClusterException {
        if (!r.replicas().isEmpty() && r.replicas().values().stream().allMatch(st -> st == ReplicaState.IN_SYNC)) {
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

    /**
     * Leaves the election and stops, on the caller's thread: the latch's znode is gone and the
     * loop has ended when this returns, so the ZooKeeper client may close right after.
     */
    @Override
    public void close() {
        try {
            latch.close();
        } catch (IOException | RuntimeException e) {
            log.debug("leader latch close: {}", e.toString());
        }
        try {
            loop.submit(this::stepDown).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.debug("controller stop: {}", e.toString());
        }
        loop.shutdownNow();
        try {
            loop.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
