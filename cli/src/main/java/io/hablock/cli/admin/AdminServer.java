package io.hablock.cli.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.hablock.blockstore.BlockStore;
import io.hablock.blockstore.BlockStoreException;
import io.hablock.blockstore.Extent;
import io.hablock.blockstore.InvalidVolumeException;
import io.hablock.blockstore.LocalVolume;
import io.hablock.blockstore.NoSuchVolumeException;
import io.hablock.blockstore.Sizes;
import io.hablock.blockstore.VolumeExistsException;
import io.hablock.blockstore.VolumeInUseException;
import io.hablock.blockstore.VolumeMetadata;
import java.io.IOException;
import java.io.InputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's small HTTP admin endpoint: volume create, list, info and delete, as JSON.
 * {@code /v1/volumes} (GET, POST {"name","size"}), {@code /v1/volumes/NAME} (GET, DELETE).
 * Errors come back as {@code {"error": "one line"}} with a fitting status code.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final int MAX_BODY = 64 * 1024;

    private final BlockStore store;
    private final ObjectMapper json = new ObjectMapper();
    private final HttpServer http;
    private final ExecutorService executor;

    private AdminServer(BlockStore store, HttpServer http) {
        this.store = store;
        this.http = http;
        this.executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "admin-http");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(executor);
        http.createContext("/v1/volumes", this::volumes);
    }

    /** Binds and starts; a one-line {@link IOException} when the address is taken. */
    public static AdminServer start(BlockStore store, InetSocketAddress address) throws IOException {
        HttpServer http;
        try {
            http = HttpServer.create(address, 64);
        } catch (BindException e) {
            throw new IOException("cannot listen on " + address.getHostString() + ":" + address.getPort()
                    + " for the admin endpoint: address already in use", e);
        }
        AdminServer server = new AdminServer(store, http);
        http.start();
        log.info("admin endpoint listening on {}:{}", address.getHostString(), server.localAddress().getPort());
        return server;
    }

    public InetSocketAddress localAddress() {
        return http.getAddress();
    }

    private void volumes(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            String rest = path.length() > "/v1/volumes".length() ? path.substring("/v1/volumes/".length()) : "";
            String name = URLDecoder.decode(rest, StandardCharsets.UTF_8);
            String method = ex.getRequestMethod();
            try {
                if (name.isEmpty() && method.equals("GET")) {
                    send(ex, 200, store.list().stream().map(m -> VolumeView.of(m, -1)).toList());
                } else if (name.isEmpty() && method.equals("POST")) {
                    create(ex);
                } else if (!name.isEmpty() && method.equals("GET")) {
                    VolumeMetadata m = store.find(name).orElseThrow(() -> new NoSuchVolumeException(name));
                    send(ex, 200, VolumeView.of(m, allocated(name)));
                } else if (!name.isEmpty() && method.equals("DELETE")) {
                    store.delete(name);
                    log.info("volume {} deleted", name);
                    send(ex, 200, Map.of("deleted", name));
                } else {
                    error(ex, 405, "method " + method + " not allowed on " + path);
                }
            } catch (NoSuchVolumeException e) {
                error(ex, 404, e.getMessage());
            } catch (VolumeExistsException | VolumeInUseException e) {
                error(ex, 409, e.getMessage());
            } catch (InvalidVolumeException | IllegalArgumentException e) {
                error(ex, 400, e.getMessage());
            } catch (BlockStoreException e) {
                error(ex, 500, e.getMessage());
            } catch (IOException e) {
                log.warn("admin request {} {} failed: {}", method, path, e.toString());
                error(ex, 500, e.getMessage());
            }
        }
    }

    private void create(HttpExchange ex) throws IOException {
        JsonNode body;
        try (InputStream in = ex.getRequestBody()) {
            byte[] bytes = in.readNBytes(MAX_BODY + 1);
            if (bytes.length > MAX_BODY) {
                throw new IllegalArgumentException("request body too large");
            }
            body = json.readTree(bytes);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("request body is not valid JSON");
        }
        if (body == null || !body.hasNonNull("name") || !body.hasNonNull("size")) {
            throw new IllegalArgumentException("request needs \"name\" and \"size\"");
        }
        String name = body.get("name").asText();
        long size = Sizes.parse(body.get("size").asText());
        VolumeMetadata m = store.create(name, size);
        log.info("volume {} created ({}, uuid {})", m.name(), Sizes.format(m.sizeBytes()), m.uuid());
        send(ex, 201, VolumeView.of(m, 0));
    }

    private long allocated(String name) throws IOException {
        try (LocalVolume v = store.open(name)) {
            long total = 0;
            List<Extent> extents = v.extents(0, v.size());
            for (Extent e : extents) {
                total += e.hole() ? 0 : e.length();
            }
            return total;
        }
    }

    private void error(HttpExchange ex, int status, String message) throws IOException {
        send(ex, status, Map.of("error", String.valueOf(message)));
    }

    private void send(HttpExchange ex, int status, Object body) throws IOException {
        byte[] bytes = json.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
    }
}
