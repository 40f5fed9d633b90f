package io.hablock.cluster.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a node's {@link NodeMetrics} to Prometheus over HTTP, on a port of its own:
 * {@code GET /metrics} is the text exposition format 0.0.4, {@code GET /} a pointer to it,
 * anything else 404 (or 405 for another method). Scrapes are answered one at a time on a single
 * daemon thread, which is plenty for a scraper or two and keeps the node's threads untouched.
 */
public final class PrometheusEndpoint implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PrometheusEndpoint.class);

    private static final byte[] INDEX = ("hablock node metrics: GET /metrics"
            + " (Prometheus text format 0.0.4)\n").getBytes(StandardCharsets.UTF_8);

    private final HttpServer server;
    private final ExecutorService executor;
    private final NodeMetrics metrics;
    private final AtomicBoolean closed = new AtomicBoolean();

    private PrometheusEndpoint(HttpServer server, ExecutorService executor, NodeMetrics metrics) {
        this.server = server;
        this.executor = executor;
        this.metrics = metrics;
    }

    /**
     * Listens on {@code address} (port 0 picks a free one) and serves until {@link #close()}.
     *
     * @throws IOException with a one-line message naming the address when it cannot listen
     */
    public static PrometheusEndpoint start(InetSocketAddress address, NodeMetrics metrics)
            throws IOException {
        HttpServer server;
        try {
            server = HttpServer.create(address, 0);
        } catch (BindException e) {
            String reason = e.getMessage() != null && e.getMessage().toLowerCase(Locale.ROOT).contains("in use")
                    ? "address already in use"
                    : String.valueOf(e.getMessage());
            throw new IOException("cannot listen on " + address.getHostString() + ":"
                    + address.getPort() + " for metrics: " + reason, e);
        }
        ExecutorService executor = Executors.newSingleThreadExecutor(task -> {
            Thread thread = new Thread(task, "metrics-http");
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        PrometheusEndpoint endpoint = new PrometheusEndpoint(server, executor, metrics);
        server.createContext("/", endpoint::handle);
        server.start();
        log.info("Serving metrics on http://{}:{}/metrics",
                endpoint.localAddress().getHostString(), endpoint.localAddress().getPort());
        return endpoint;
    }

    /** The address actually listened on, with the chosen port when 0 was asked for. */
    public InetSocketAddress localAddress() {
        return server.getAddress();
    }

    /** Stops listening and drops open connections at once; a scrape in flight is cut. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            server.stop(0);
            executor.shutdownNow();
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            boolean known = path.equals("/") || path.equals("/metrics");
            if (!known) {
                respond(exchange, 404, "text/plain; charset=utf-8",
                        ("not found: " + path + " (try /metrics)\n").getBytes(StandardCharsets.UTF_8));
            } else if (!exchange.getRequestMethod().equals("GET")) {
                exchange.getResponseHeaders().set("Allow", "GET");
                respond(exchange, 405, "text/plain; charset=utf-8",
                        "only GET is supported\n".getBytes(StandardCharsets.UTF_8));
            } else if (path.equals("/")) {
                respond(exchange, 200, "text/plain; charset=utf-8", INDEX);
            } else {
                respondWithMetrics(exchange);
            }
        } catch (IOException e) {
            log.debug("Metrics scraper went away", e); // it tries again at its next interval
        }
    }

    private void respondWithMetrics(HttpExchange exchange) throws IOException {
        String text;
        try {
            text = PrometheusText.render(metrics.registry(), metrics::help);
        } catch (RuntimeException e) {
            log.warn("Cannot render metrics: {}", e.toString());
            respond(exchange, 500, "text/plain; charset=utf-8",
                    ("cannot render metrics: " + e + "\n").getBytes(StandardCharsets.UTF_8));
            return;
        }
        respond(exchange, 200, PrometheusText.CONTENT_TYPE, text.getBytes(StandardCharsets.UTF_8));
    }

    private static void respond(HttpExchange exchange, int status, String contentType, byte[] body)
            throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }
}
