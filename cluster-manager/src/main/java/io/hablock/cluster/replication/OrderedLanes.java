package io.hablock.cluster.replication;

import io.netty.util.concurrent.DefaultThreadFactory;

import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Disk work off the event loop, in order per volume: each volume maps to one single-threaded
 * lane, so a volume's requests apply in arrival order (a FLUSH runs after every write received
 * before it) while different volumes proceed in parallel. Queues are bounded by the connections'
 * read back-pressure, not here.
 */
final class OrderedLanes implements AutoCloseable {
    private final ExecutorService[] lanes;

    OrderedLanes(int count, String name) {
        if (count < 1) {
            throw new IllegalArgumentException("lane count " + count);
        }
        lanes = new ExecutorService[count];
        DefaultThreadFactory threads = new DefaultThreadFactory(name, true);
        for (int i = 0; i < count; i++) {
            lanes[i] = Executors.newSingleThreadExecutor(threads);
        }
    }

    /** @throws RejectedExecutionException after {@link #close()} */
    void execute(UUID volume, Runnable task) {
        lanes[Math.floorMod(volume.hashCode(), lanes.length)].execute(task);
    }

    /** Lets queued work finish (a few seconds at most), then stops the threads. */
    @Override
    public void close() {
        for (ExecutorService lane : lanes) {
            lane.shutdown();
        }
        try {
            for (ExecutorService lane : lanes) {
                if (!lane.awaitTermination(5, TimeUnit.SECONDS)) {
                    lane.shutdownNow();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            for (ExecutorService lane : lanes) {
                lane.shutdownNow();
            }
        }
    }
}
