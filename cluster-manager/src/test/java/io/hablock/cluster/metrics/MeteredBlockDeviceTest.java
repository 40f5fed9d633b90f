package io.hablock.cluster.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import io.hablock.nbd.Extent;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Drives a metered device over a file-backed one and reads the result as Prometheus does. */
class MeteredBlockDeviceTest {

    /** Every device call takes exactly this long on the test clock. */
    private static final Duration CALL = Duration.ofMillis(2);

    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock();
    private final NodeMetrics metrics = new NodeMetrics(new MetricRegistry(), clock);
    private FileBlockDevice file;
    private MeteredBlockDevice device;
    private PrometheusEndpoint endpoint;

    @BeforeEach
    void start() throws IOException {
        file = new FileBlockDevice(dir.resolve("db"), 1 << 20, () -> clock.advance(CALL));
        device = new MeteredBlockDevice(file, metrics, "db");
        endpoint = PrometheusEndpoint.start(new InetSocketAddress("127.0.0.1", 0), metrics);
    }

    @AfterEach
    void stop() {
        endpoint.close();
        device.close();
    }

    private List<String> scrape() throws Exception {
        return Scraper.scrape(endpoint.localAddress()).lines().toList();
    }

    @Test
    void countsOpsBytesAndLatencyOfEveryCall() throws Exception {
        device.write(0, ByteBuffer.allocate(4096), false);
        device.write(4096, ByteBuffer.allocate(4096), true);
        device.read(1, ByteBuffer.allocate(512));
        device.read(3, ByteBuffer.allocate(1000));
        device.flush();
        device.trim(0, 4096, false);
        device.writeZeroes(8192, 100, true, false, false);

        assertThat(scrape()).contains(
                "# HELP hablock_volume_ops_total Block device calls, by volume and operation.",
                "# TYPE hablock_volume_ops_total counter",
                "hablock_volume_ops_total{op=\"flush\",volume=\"db\"} 1",
                "hablock_volume_ops_total{op=\"read\",volume=\"db\"} 2",
                "hablock_volume_ops_total{op=\"trim\",volume=\"db\"} 1",
                "hablock_volume_ops_total{op=\"write\",volume=\"db\"} 2",
                "hablock_volume_ops_total{op=\"zero\",volume=\"db\"} 1",
                "hablock_volume_errors_total{op=\"write\",volume=\"db\"} 0",
                "# TYPE hablock_volume_read_bytes_total counter",
                "hablock_volume_read_bytes_total{volume=\"db\"} 1512",
                "hablock_volume_written_bytes_total{volume=\"db\"} 8192",
                "# TYPE hablock_volume_latency_seconds summary",
                "hablock_volume_latency_seconds{op=\"read\",volume=\"db\",quantile=\"0.5\"} 0.002",
                "hablock_volume_latency_seconds{op=\"read\",volume=\"db\",quantile=\"0.9\"} 0.002",
                "hablock_volume_latency_seconds{op=\"read\",volume=\"db\",quantile=\"0.99\"} 0.002",
                "hablock_volume_latency_seconds{op=\"read\",volume=\"db\",quantile=\"0.999\"} 0.002",
                "hablock_volume_latency_seconds_count{op=\"read\",volume=\"db\"} 2",
                "hablock_volume_latency_seconds_sum{op=\"read\",volume=\"db\"} 0.004",
                "hablock_volume_latency_seconds_count{op=\"flush\",volume=\"db\"} 1",
                "hablock_volume_latency_seconds_sum{op=\"flush\",volume=\"db\"} 0.002",
                "hablock_volume_latency_seconds_count{op=\"zero\",volume=\"db\"} 1");
    }

    @Test
    void zeroCopyReadsCountAsReadsButAreNotTimed() throws Exception {
        assertThat(device.zeroCopySource(0, 65536)).isNotNull();
        assertThat(device.zeroCopySource(1, 10)).isNull(); // the server will call read() instead

        assertThat(scrape()).contains(
                "hablock_volume_ops_total{op=\"read\",volume=\"db\"} 1",
                "hablock_volume_read_bytes_total{volume=\"db\"} 65536",
                "hablock_volume_latency_seconds{op=\"read\",volume=\"db\",quantile=\"0.5\"} NaN",
                "hablock_volume_latency_seconds_count{op=\"read\",volume=\"db\"} 0",
                "hablock_volume_latency_seconds_sum{op=\"read\",volume=\"db\"} 0");
    }

    @Test
    void failedCallsCountAsOpsAndErrorsButMoveNoBytes() throws Exception {
        IOException diskGone = new IOException("disk gone");
        file.failNext(diskGone);
        assertThatThrownBy(() -> device.write(0, ByteBuffer.allocate(4096), false)).isSameAs(diskGone);
        file.failNext(diskGone);
        assertThatThrownBy(() -> device.read(1, ByteBuffer.allocate(4096))).isSameAs(diskGone);
        file.failNext(diskGone);
        assertThatThrownBy(device::flush).isSameAs(diskGone);

        assertThat(scrape()).contains(
                "hablock_volume_ops_total{op=\"write\",volume=\"db\"} 1",
                "hablock_volume_errors_total{op=\"write\",volume=\"db\"} 1",
                "hablock_volume_written_bytes_total{volume=\"db\"} 0",
                "hablock_volume_ops_total{op=\"read\",volume=\"db\"} 1",
                "hablock_volume_errors_total{op=\"read\",volume=\"db\"} 1",
                "hablock_volume_read_bytes_total{volume=\"db\"} 0",
                "hablock_volume_errors_total{op=\"flush\",volume=\"db\"} 1",
                "hablock_volume_latency_seconds_count{op=\"write\",volume=\"db\"} 1");
    }

    @Test
    void passesPropertiesThroughAndClosesTheDelegate() throws Exception {
        assertThat(device.prefersInlineIo()).isTrue();
        assertThat(device.canMultiConn()).isTrue();
        assertThat(device.isReadOnly()).isFalse();
        assertThat(device.size()).isEqualTo(1 << 20);
        assertThat(device.extents(0, 4096)).containsExactly(new Extent(0, 4096, false));

        device.write(0, ByteBuffer.wrap(new byte[] {1, 2, 3}), false);
        ByteBuffer back = ByteBuffer.allocate(3);
        device.read(0, back);
        assertThat(back.array()).containsExactly(1, 2, 3);

        device.close();
        assertThat(file.isClosed()).isTrue();
    }

    @Test
    void concurrentCallsAddUpExactly() throws Exception {
        // The test clock stands still here: with calls overlapping, a shared clock moved by each
        // call would make every latency depend on the others.
        MeteredBlockDevice shared = new MeteredBlockDevice(
                new FileBlockDevice(dir.resolve("shared"), 1 << 20, () -> {}), metrics, "db");
        int threads = 4;
        int rounds = 5_000;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long base = t * 8192L;
            done.add(pool.submit(() -> {
                go.await();
                ByteBuffer buffer = ByteBuffer.allocate(512);
                for (int i = 0; i < rounds; i++) {
                    shared.write(base, buffer.clear(), false);
                    shared.read(base + 1, buffer.clear());
                    shared.zeroCopySource(base, 100);
                    shared.trim(base, 512, false);
                }
                return null;
            }));
        }
        go.countDown();
        for (Future<?> f : done) {
            f.get(2, TimeUnit.MINUTES);
        }
        pool.shutdown();
        shared.close();

        long calls = (long) threads * rounds;
        assertThat(scrape()).contains(
                "hablock_volume_ops_total{op=\"write\",volume=\"db\"} " + calls,
                "hablock_volume_ops_total{op=\"read\",volume=\"db\"} " + 2 * calls,
                "hablock_volume_ops_total{op=\"trim\",volume=\"db\"} " + calls,
                "hablock_volume_written_bytes_total{volume=\"db\"} " + 512 * calls,
                "hablock_volume_read_bytes_total{volume=\"db\"} " + 612 * calls,
                "hablock_volume_latency_seconds_count{op=\"read\",volume=\"db\"} " + calls,
                "hablock_volume_latency_seconds_count{op=\"write\",volume=\"db\"} " + calls,
                "hablock_volume_latency_seconds_sum{op=\"write\",volume=\"db\"} 0");
    }

    @Test
    void replicationAndRebuildAreLabelledByVolumeAndPeer() throws Exception {
        metrics.replicationLatency("db", "node-2").update(3, TimeUnit.MILLISECONDS);
        metrics.replicationLatency("db", "node-2").update(5, TimeUnit.MILLISECONDS);
        metrics.rebuildBytes("db").inc(1 << 20);

        assertThat(scrape()).contains(
                "# TYPE hablock_replication_latency_seconds summary",
                "hablock_replication_latency_seconds{peer=\"node-2\",volume=\"db\",quantile=\"0.999\"} 0.005",
                "hablock_replication_latency_seconds_count{peer=\"node-2\",volume=\"db\"} 2",
                "hablock_replication_latency_seconds_sum{peer=\"node-2\",volume=\"db\"} 0.008",
                "hablock_volume_rebuild_bytes_total{volume=\"db\"} 1048576");
    }

    @Test
    void removeVolumeDropsEveryOneOfItsSeriesAndNoOther() throws Exception {
        MeteredBlockDevice logs = new MeteredBlockDevice(
                new FileBlockDevice(dir.resolve("logs"), 4096, () -> {}), metrics, "logs");
        logs.flush();
        device.flush();
        metrics.replicationLatency("db", "node-2").update(1, TimeUnit.MILLISECONDS);
        metrics.rebuildBytes("db").inc(10);
        metrics.gauge(MetricName.of("hablock_volume_clients", "volume", "db"), "Clients.", () -> 2);

        metrics.removeVolume("db");

        List<String> lines = scrape();
        assertThat(lines).noneMatch(line -> line.contains("volume=\"db\""));
        assertThat(lines).contains("hablock_volume_ops_total{op=\"flush\",volume=\"logs\"} 1");

        // Opening the volume again starts from zero.
        try (MeteredBlockDevice again = new MeteredBlockDevice(
                new FileBlockDevice(dir.resolve("db2"), 4096, () -> {}), metrics, "db")) {
            again.flush();
        }
        assertThat(scrape()).contains("hablock_volume_ops_total{op=\"flush\",volume=\"db\"} 1");
        logs.close();
    }
}
