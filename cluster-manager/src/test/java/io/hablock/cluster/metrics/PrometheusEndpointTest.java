package io.hablock.cluster.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PrometheusEndpointTest {

    private final MetricRegistry registry = new MetricRegistry();
    private final NodeMetrics metrics = new NodeMetrics(registry, new ManualClock());
    private PrometheusEndpoint endpoint;

    @BeforeEach
    void start() throws IOException {
        endpoint = PrometheusEndpoint.start(new InetSocketAddress("127.0.0.1", 0), metrics);
    }

    @AfterEach
    void stop() {
        endpoint.close();
    }

    private List<String> scrape() throws Exception {
        return Scraper.scrape(endpoint.localAddress()).lines().toList();
    }

    @Test
    void servesTheExpositionFormatWithItsContentType() throws Exception {
        metrics.rebuildBytes("db").inc(7);

        HttpResponse<String> response = Scraper.get(endpoint.localAddress(), "/metrics");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type"))
                .hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(response.body()).isEqualTo("""
                # HELP hablock_volume_rebuild_bytes_total Bytes copied to a new replica of the volume.
                # TYPE hablock_volume_rebuild_bytes_total counter
                hablock_volume_rebuild_bytes_total{volume="db"} 7
                """);
    }

    @Test
    void anEmptyRegistryIsAnEmptyValidScrape() throws Exception {
        assertThat(Scraper.scrape(endpoint.localAddress())).isEmpty();
    }

    @Test
    void rootPointsToMetricsAndOtherPathsAreNotFound() throws Exception {
        HttpResponse<String> root = Scraper.get(endpoint.localAddress(), "/");
        assertThat(root.statusCode()).isEqualTo(200);
        assertThat(root.body()).contains("GET /metrics");

        assertThat(Scraper.get(endpoint.localAddress(), "/nope").statusCode()).isEqualTo(404);
        assertThat(Scraper.get(endpoint.localAddress(), "/metrics/x").statusCode()).isEqualTo(404);
        HttpResponse<String> post = Scraper.send(endpoint.localAddress(), "/metrics", "POST");
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).hasValue("GET");
    }

    @Test
    void aTakenPortIsOneClearMessage() {
        InetSocketAddress taken = endpoint.localAddress();

        assertThatThrownBy(() -> PrometheusEndpoint.start(taken, metrics))
                .isInstanceOf(IOException.class)
                .hasMessage("cannot listen on 127.0.0.1:" + taken.getPort()
                        + " for metrics: address already in use");
    }

    @Test
    void closeStopsServingAtOnce() throws Exception {
        InetSocketAddress address = endpoint.localAddress();
        Scraper.scrape(address);

        long start = System.nanoTime();
        endpoint.close();
        endpoint.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));

        assertThatThrownBy(() -> Scraper.get(address, "/metrics")).isInstanceOf(IOException.class);
        // The port is free again.
        PrometheusEndpoint.start(address, metrics).close();
    }

    /** Issue 14: one scraper that never finishes its request held the single thread, and every other scraper waited. */
    @Test
    void aClientSendingHalfARequestDelaysNoOther() throws Exception {
        InetSocketAddress address = endpoint.localAddress();
        List<Socket> stuck = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) {
                Socket s = new Socket(address.getAddress(), address.getPort());
                s.getOutputStream().write("GET /metr".getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                stuck.add(s);
            }
            metrics.rebuildBytes("db").inc(7);
            ExecutorService scrapers = Executors.newFixedThreadPool(4);
            try {
                List<Future<String>> answers = new ArrayList<>();
                long start = System.nanoTime();
                for (int i = 0; i < 8; i++) {
                    answers.add(scrapers.submit(() -> Scraper.scrape(address)));
                }
                for (Future<String> a : answers) {
                    assertThat(a.get(5, TimeUnit.SECONDS)).contains("hablock_volume_rebuild_bytes_total{volume=\"db\"} 7");
                }
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
            } finally {
                scrapers.shutdownNow();
            }
        } finally {
            for (Socket s : stuck) {
                s.close();
            }
        }
    }

    @Test
    void aSilentClientIsDroppedAfterTheReadTimeout() throws Exception {
        try (PrometheusEndpoint quick = PrometheusEndpoint.start(new InetSocketAddress("127.0.0.1", 0), metrics,
                Duration.ofMillis(300));
                Socket s = new Socket("127.0.0.1", quick.localAddress().getPort())) {
            s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
            s.setSoTimeout(10_000);
            long start = System.nanoTime();
            assertThat(s.getInputStream().read()).isEqualTo(-1); // closed without an answer
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    void keepAliveConnectionsAreServedAgain() throws Exception {
        for (int i = 0; i < 3; i++) {
            Scraper.scrape(endpoint.localAddress()); // the shared HttpClient reuses its connection
        }
        try (Socket s = new Socket("127.0.0.1", endpoint.localAddress().getPort())) {
            s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 200 OK").contains("GET /metrics");
        }
    }

    @Test
    void labelValuesAreEscaped() throws Exception {
        String volume = "a\\b\"c\nd";
        metrics.gauge(MetricName.of("hablock_volume_clients", "volume", volume), "Clients.", () -> 3);

        assertThat(scrape()).contains("hablock_volume_clients{volume=\"a\\\\b\\\"c\\nd\"} 3");

        metrics.removeVolume(volume); // the key parses back to the same label value
        assertThat(scrape()).isEmpty();
    }

    @Test
    void gaugesOfNumbersAndBooleansAreExported() throws Exception {
        metrics.gauge(MetricName.of("hablock_node_capacity_used_bytes"), "Used.", () -> 1_234L);
        metrics.gauge(MetricName.of("hablock_node_capacity_total_bytes"), "Total.", () -> 1L << 40);
        metrics.gauge(MetricName.of("hablock_node_fill_ratio"), "Fill.", () -> 0.25);
        metrics.gauge(MetricName.of("hablock_node_leader"), "Leads the cluster.", () -> true);
        metrics.gauge(MetricName.of("hablock_node_name"), "Not a number.", () -> "node-1");
        metrics.gauge(MetricName.of("hablock_node_broken"), "Throws.", () -> {
            throw new IllegalStateException("broken");
        });
        metrics.gauge(MetricName.of("hablock_node_clients"), "Clients.", () -> 1);
        metrics.gauge(MetricName.of("hablock_node_clients"), "Clients.", () -> 5); // replaces

        List<String> lines = scrape();

        assertThat(lines).contains(
                "# HELP hablock_node_capacity_used_bytes Used.",
                "# TYPE hablock_node_capacity_used_bytes gauge",
                "hablock_node_capacity_used_bytes 1234",
                "hablock_node_capacity_total_bytes 1099511627776",
                "hablock_node_fill_ratio 0.25",
                "hablock_node_leader 1",
                "hablock_node_clients 5");
        assertThat(lines).noneMatch(line -> line.contains("hablock_node_name")
                || line.contains("hablock_node_broken"));
    }

    @Test
    void foreignDropwizardNamesAreSanitized() throws Exception {
        registry.counter("nbd.server-connections").inc();
        registry.meter("requests.rate").mark(3);
        registry.register("2xx.responses", (com.codahale.metrics.Gauge<Integer>) () -> 5);
        registry.histogram("request.sizes").update(10);
        registry.histogram("request.sizes").update(20);
        registry.counter("odd{key").inc(2);

        assertThat(scrape()).contains(
                "# HELP nbd_server_connections_total Dropwizard metric nbd.server-connections",
                "# TYPE nbd_server_connections_total counter",
                "nbd_server_connections_total 1",
                "requests_rate_total 3",
                "# TYPE _2xx_responses gauge",
                "_2xx_responses 5",
                "# TYPE request_sizes summary",
                "request_sizes{quantile=\"0.999\"} 20",
                "request_sizes_count 2",
                "request_sizes_sum 30",
                "odd_key_total 2");
    }

    @Test
    void metricsOfDifferentKindsUnderOneNameAreTypedOnce() throws Exception {
        registry.counter("clash").inc();
        registry.register("clash_total", (com.codahale.metrics.Gauge<Integer>) () -> 9);

        assertThat(scrape()).containsOnlyOnce("# TYPE clash_total counter")
                .noneMatch(line -> line.endsWith(" 9"));
    }

    @Test
    void jvmGaugesAreExported() throws Exception {
        metrics.registerJvmGauges();

        List<String> lines = scrape();

        assertThat(lines).contains("# TYPE jvm_memory_heap_used_bytes gauge",
                "# TYPE jvm_gc_collections gauge", "# TYPE jvm_threads_live gauge");
        assertThat(lines).anyMatch(line -> line.matches("jvm_memory_heap_used_bytes [1-9][0-9]*"));
        assertThat(lines).anyMatch(line -> line.startsWith("jvm_gc_collections{gc=\""));
    }
}
