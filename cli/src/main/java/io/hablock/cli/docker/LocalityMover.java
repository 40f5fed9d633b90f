package io.hablock.cli.docker;

import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Automatic locality: a volume mounted on this node's host and owned elsewhere is moved here
 * (the controller builds a copy here first when there is none: a locality rebuild), in the
 * background, while the mount's I/O goes on through this node's endpoint, which follows the move.
 * A volume in failover or rebuild is moved once it is ready again; one that cannot be moved (a
 * client connected straight to its owner) is left where it is after a while.
 */
final class LocalityMover implements Consumer<String>, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalityMover.class);
    private static final Duration GIVE_UP = Duration.ofMinutes(30);
    private static final Duration RETRY = Duration.ofSeconds(2);

    private final ClusterClient cluster;
    private final String nodeId;
    private final boolean nodeDefault;
    private final ExecutorService moves = Executors.newCachedThreadPool(new DefaultThreadFactory("locality", true));
    private final Set<String> moving = ConcurrentHashMap.newKeySet();

    /** @param nodeDefault whether volumes that leave it to the node follow their mounts ({@code --locality}) */
    LocalityMover(ClusterClient cluster, String nodeId, boolean nodeDefault) {
        this.cluster = cluster;
        this.nodeId = nodeId;
        this.nodeDefault = nodeDefault;
    }

    @Override
    public void accept(String volume) {
        if (moving.add(volume)) {
            moves.execute(() -> {
                try {
                    move(volume);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    moving.remove(volume);
                }
            });
        }
    }

    private void move(String volume) throws InterruptedException {
        long deadline = System.nanoTime() + GIVE_UP.toNanos();
        String lastProblem = null;
        while (System.nanoTime() < deadline) {
            try {
                Optional<VolumeRecord> r = cluster.volume(volume).map(v -> v.value());
                if (r.isEmpty() || nodeId.equals(r.get().owner()) && r.get().isServed()) {
                    if (r.isPresent()) {
                        log.info("locality: volume {} is now served by this node, where it is mounted", volume);
                    }
                    return;
                }
                if (cluster.mountClaim(volume).filter(c -> c.node().equals(nodeId)).isEmpty()
                        || !r.get().followsMounts(nodeDefault)) {
                    return; // unmounted here meanwhile, or its locality turned off
                }
                VolumeRecord v = r.get();
                if (v.desiredOwner() == null && v.state() == VolumeState.READY) {
                    new ClusterAdmin(cluster).requestLocalityMove(volume, nodeId);
                    log.info("locality: moving volume {} to this node, where it is mounted{}", volume,
                            v.replicas().containsKey(nodeId) ? "" : " (building a local copy first)");
                }
            } catch (ClusterException e) {
                if (!e.getMessage().equals(lastProblem)) {
                    log.info("locality: volume {} not moved here yet: {}", volume, e.getMessage());
                    lastProblem = e.getMessage();
                }
            }
            Thread.sleep(RETRY.toMillis());
        }
        log.warn("locality: gave up moving volume {} to this node after {} min{}", volume, GIVE_UP.toMinutes(),
                lastProblem == null ? "" : ": " + lastProblem);
    }

    @Override
    public void close() {
        moves.shutdownNow();
    }
}
