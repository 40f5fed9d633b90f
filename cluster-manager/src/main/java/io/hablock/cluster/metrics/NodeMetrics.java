package io.hablock.cluster.metrics;

import com.codahale.metrics.Clock;
import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import io.hablock.cluster.metrics.VolumeMetrics.Op;
import io.hablock.cluster.metrics.VolumeMetrics.OpMetrics;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The metrics of one node, in a Dropwizard {@link MetricRegistry} whose keys carry Prometheus
 * labels as described in {@link MetricName}. Counters are named without {@code _total}; the
 * exporter appends it. Timers hold nanoseconds and are exported in seconds.
 *
 * <p>Getting a metric is idempotent and thread-safe; the I/O path should hold on to what it gets
 * (as {@link MeteredBlockDevice} does) rather than look it up per call.
 */
public final class NodeMetrics {

    /** Calls per volume and operation: {@code volume}, {@code op} (read, write, flush, trim, zero). */
    public static final String VOLUME_OPS = "hablock_volume_ops";
    /** Failed calls per volume and operation; also counted in {@link #VOLUME_OPS}. */
    public static final String VOLUME_ERRORS = "hablock_volume_errors";
    /** Bytes read per volume, zero-copy reads included. */
    public static final String VOLUME_READ_BYTES = "hablock_volume_read_bytes";
    /** Bytes written per volume. */
    public static final String VOLUME_WRITTEN_BYTES = "hablock_volume_written_bytes";
    /** Latency per volume and operation; zero-copy reads are not timed. */
    public static final String VOLUME_LATENCY = "hablock_volume_latency_seconds";
    /** Bytes copied to a volume's new replica by rebuilds. */
    public static final String VOLUME_REBUILD_BYTES = "hablock_volume_rebuild_bytes";
    /** Time for one copy to acknowledge a replicated write: {@code volume}, {@code peer}. */
    public static final String REPLICATION_LATENCY = "hablock_replication_latency_seconds";

    private final MetricRegistry registry;
    private final Clock clock;
    private final ConcurrentMap<String, String> help = new ConcurrentHashMap<>();
    /** Guarded by {@code this}, like every change of the set of registered metrics. */
    private final Map<String, VolumeMetrics> volumes = new HashMap<>();

    public NodeMetrics() {
        this(new MetricRegistry(), Clock.defaultClock());
    }

    /** @param clock ticks in nanoseconds; every latency is measured with it */
    public NodeMetrics(MetricRegistry registry, Clock clock) {
        this.registry = Objects.requireNonNull(registry);
        this.clock = Objects.requireNonNull(clock);
        help.put(VOLUME_OPS, "Block device calls, by volume and operation.");
        help.put(VOLUME_ERRORS, "Block device calls that failed, by volume and operation.");
        help.put(VOLUME_READ_BYTES, "Bytes read from the volume, zero-copy reads included.");
        help.put(VOLUME_WRITTEN_BYTES, "Bytes written to the volume.");
        help.put(VOLUME_LATENCY, "Block device call latency over the last minute;"
                + " zero-copy reads are not timed.");
        help.put(VOLUME_REBUILD_BYTES, "Bytes copied to a new replica of the volume.");
        help.put(REPLICATION_LATENCY, "Time for one copy to acknowledge a replicated write.");
    }

    /** The registry; other reporters may read it, keys are {@link MetricName#registryKey()}s. */
    public MetricRegistry registry() {
        return registry;
    }

    /** Replication latency of {@code volume} towards the copy on node {@code peerNodeId}. */
    public Timer replicationLatency(String volume, String peerNodeId) {
        return timer(MetricName.of(REPLICATION_LATENCY, "volume", volume, "peer", peerNodeId));
    }

    /** Bytes rebuilt into a new replica of {@code volume}. */
    public synchronized Counter rebuildBytes(String volume) {
        return registry.counter(MetricName.of(VOLUME_REBUILD_BYTES, "volume", volume).registryKey());
    }

    /**
     * Registers a gauge, replacing any metric of the same name. The gauge is read at each scrape,
     * on the scraping thread; it must be cheap and thread-safe. Values that are neither numbers
     * nor booleans are not exported.
     *
     * @param help one line for the family's HELP; the first one given for a family is kept
     */
    public synchronized void gauge(MetricName name, String help, Gauge<?> gauge) {
        String key = name.registryKey();
        registry.remove(key);
        registry.register(key, gauge);
        this.help.putIfAbsent(name.family(), help);
    }

    /** Removes one metric; true when it was there. */
    public synchronized boolean remove(MetricName name) {
        return registry.remove(name.registryKey());
    }

    /**
     * Drops every metric labelled with {@code volume}, for a volume that was deleted. Devices
     * still open on it keep counting into metrics that are no longer exported.
     */
    public synchronized void removeVolume(String volume) {
        volumes.remove(volume);
        registry.removeMatching(
                (key, metric) -> volume.equals(MetricName.fromRegistryKey(key).label("volume")));
    }

    /** Heap use, garbage collections and live threads of this JVM, as gauges. */
    public void registerJvmGauges() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        gauge(MetricName.of("jvm_memory_heap_used_bytes"), "Heap in use.",
                () -> memory.getHeapMemoryUsage().getUsed());
        gauge(MetricName.of("jvm_memory_heap_committed_bytes"), "Heap committed by the JVM.",
                () -> memory.getHeapMemoryUsage().getCommitted());
        gauge(MetricName.of("jvm_memory_heap_max_bytes"), "Maximum heap, -1 when unbounded.",
                () -> memory.getHeapMemoryUsage().getMax());
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gauge(MetricName.of("jvm_gc_collections", "gc", gc.getName()),
                    "Collections since the JVM started.", gc::getCollectionCount);
            gauge(MetricName.of("jvm_gc_collection_seconds", "gc", gc.getName()),
                    "Time spent collecting since the JVM started.",
                    () -> gc.getCollectionTime() / 1000.0);
        }
        gauge(MetricName.of("jvm_threads_live"), "Live threads.",
                () -> ManagementFactory.getThreadMXBean().getThreadCount());
    }

    /** The I/O metrics of {@code volume}, created on first use. */
    synchronized VolumeMetrics volume(String volume) {
        return volumes.computeIfAbsent(volume, v -> new VolumeMetrics(
                op(v, Op.READ), op(v, Op.WRITE), op(v, Op.FLUSH), op(v, Op.TRIM), op(v, Op.ZERO),
                registry.counter(MetricName.of(VOLUME_READ_BYTES, "volume", v).registryKey()),
                registry.counter(MetricName.of(VOLUME_WRITTEN_BYTES, "volume", v).registryKey())));
    }

    /** The HELP text of a family, or null when nobody described it. */
    String help(String family) {
        return help.get(family);
    }

    private OpMetrics op(String volume, Op op) {
        return new OpMetrics(clock,
                registry.counter(MetricName.of(VOLUME_OPS, "volume", volume, "op", op.label).registryKey()),
                registry.counter(MetricName.of(VOLUME_ERRORS, "volume", volume, "op", op.label).registryKey()),
                timer(MetricName.of(VOLUME_LATENCY, "volume", volume, "op", op.label)));
    }

    private synchronized Timer timer(MetricName name) {
        return registry.timer(name.registryKey(), () -> new LatencyTimer(clock));
    }
}
