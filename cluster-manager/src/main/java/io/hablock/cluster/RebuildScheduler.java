package io.hablock.cluster;

import io.hablock.cluster.metrics.NodeMetrics;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.replication.ReplicationClient;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rebuilds a node runs as owner, one at a time per volume on a small pool: of each copy the
 * controller marked REBUILDING, and after a takeover the check that the other in-sync copies are
 * identical to the new owner's.
 */
final class RebuildScheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RebuildScheduler.class);

    private final ClusterClient cluster;
    private final String nodeId;
    private final ReplicationClient replication;
    private final NodeMetrics metrics;
    private final long bytesPerSecond;
    private final TestDelays delays;
    private final Runnable requestPass;
    /** Rebuilds running, by volume name. */
    private final Map<String, Rebuild> running = new ConcurrentHashMap<>();
    /** After a failed rebuild of a copy, when it may be tried again (volume/node to monotonic nanos, and the last wait). */
    private final Map<String, long[]> retryAfter = new ConcurrentHashMap<>();
    private static final long FIRST_RETRY_MS = 500;
    private static final long LAST_RETRY_MS = 30_000;
    private final ExecutorService pool = Executors.newFixedThreadPool(2, new DefaultThreadFactory("rebuild", true));
    private final java.util.concurrent.ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("rebuild-retry", true));
    private volatile boolean closed;

    RebuildScheduler(ClusterClient cluster, String nodeId, ReplicationClient replication, NodeMetrics metrics,
            long bytesPerSecond, TestDelays delays, Runnable requestPass) {
        this.cluster = cluster;
        this.nodeId = nodeId;
        this.replication = replication;
        this.metrics = metrics;
        this.bytesPerSecond = bytesPerSecond;
        this.delays = delays;
        this.requestPass = requestPass;
    }

    /**
     * The owner starts a rebuild for a copy the controller marked REBUILDING, one at a time per
     * volume; a rebuild whose target node is gone is cancelled (it marks the copy stale again), and
     * a REBUILDING copy on a node that is not live is marked stale here (only the owner changes
     * the states of its copies while it serves).
     */
    void reconcile(VolumeRecord v, ReplicatedVolume rv, Map<String, NodeInfo> live) throws ClusterException {
        if (v.epoch() != rv.epoch() || rv.isStopped()) {
            return;
        }
        Rebuild r = running.get(v.name());
        if (r != null) {
            if (!live.containsKey(r.targetId()) && !r.isCheckOnly()) {
                r.cancel();
            }
            return;
        }
        List<String> writtenTo = rv.peers().stream().map(ReplicatedVolume.Peer::nodeId).toList();
        for (Map.Entry<String, ReplicaState> e : v.replicas().entrySet()) {
            if (e.getValue() != ReplicaState.REBUILDING || writtenTo.contains(e.getKey())) {
                continue; // a copy the owner writes to was promoted since this (cached) record was read
            }
            NodeInfo n = live.get(e.getKey());
            if (n == null) {
                String target = e.getKey();
                cluster.updateVolume(v.name(), cur -> cur.epoch() == rv.epoch() && nodeId.equals(cur.owner())
                        && cur.replicas().get(target) == ReplicaState.REBUILDING ? cur.withReplica(target, ReplicaState.STALE) : cur);
                continue;
            }
            String key = v.name() + "/" + n.id();
            long[] retry = retryAfter.get(key);
            if (retry != null && System.nanoTime() - retry[0] < 0) {
                continue; // it failed a moment ago (its node restarting, say): not again yet
            }
            ReplicatedVolume.Peer target = new ReplicatedVolume.Peer(n.id(), new InetSocketAddress(n.host(), n.replicationPort()));
            Rebuild[] self = new Rebuild[1];
            Rebuild rebuild = new Rebuild(rv, v.vdisk(), target, replication, cluster, nodeId, bytesPerSecond,
                    bytes -> metrics.rebuildBytes(v.name()).inc(bytes), delays, () -> {
                        running.remove(v.name());
                        if (self[0].succeeded()) {
                            retryAfter.remove(key);
                        } else {
                            long wait = retry == null ? FIRST_RETRY_MS : Math.min(LAST_RETRY_MS, 2 * retry[1]);
                            retryAfter.put(key, new long[] {System.nanoTime() + wait * 1_000_000, wait});
                            timer.schedule(requestPass, wait, java.util.concurrent.TimeUnit.MILLISECONDS);
                        }
                        requestPass.run();
                    });
            self[0] = rebuild;
            running.put(v.name(), rebuild);
            log.info("volume {}: rebuilding the copy on node {}", v.name(), n.id());
            pool.execute(rebuild);
            return; // one at a time per volume
        }
    }

    /**
     * After a takeover, the other in-sync copies are made identical to this one, one after the
     * other, in the background: the previous owner may have died with writes sent to some copies
     * and not others (never acknowledged, but they must not make the copies differ).
     */
    void afterTakeover(VolumeRecord v, ReplicatedVolume rv, ReplicatedVolume.Catalogue catalogue) {
        List<ReplicatedVolume.Peer> peers = rv.peers();
        if (peers.isEmpty()) {
            return;
        }
        Function<ReplicatedVolume.Peer, Rebuild> check = p -> Rebuild.reconcile(rv, v.vdisk(), p, replication, cluster,
                nodeId, bytes -> metrics.rebuildBytes(v.name()).inc(bytes), () -> {
                }, catalogue);
        Rebuild first = check.apply(peers.get(0));
        running.put(v.name(), first);
        pool.execute(() -> {
            try {
                Rebuild current = first;
                for (int i = 0; i < peers.size() && !rv.isStopped() && !closed; i++) {
                    if (i > 0) {
                        current = check.apply(peers.get(i));
                        running.put(v.name(), current);
                    }
                    current.run();
                }
            } finally {
                running.remove(v.name());
                requestPass.run();
            }
        });
    }

    /** Whether a rebuild (not a check after a takeover) of the volume runs now. */
    boolean isRebuilding(String volume) {
        Rebuild r = running.get(volume);
        return r != null && !r.isCheckOnly();
    }

    /** Cancels the volume's rebuild, if one runs. */
    void cancel(String volume) {
        Rebuild r = running.get(volume);
        if (r != null) {
            r.cancel();
        }
    }

    @Override
    public void close() {
        closed = true;
        running.values().forEach(Rebuild::cancel);
        pool.shutdownNow();
        timer.shutdownNow();
    }
}
