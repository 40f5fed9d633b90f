package io.hablock.cli.admin;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** The CLI's side of the admin endpoint. Every failure is an {@link AdminException} with one line. */
public final class AdminClient {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    private final String endpoint;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    private final ObjectMapper json = new ObjectMapper();

    /** @param endpoint HOST:PORT of a node's admin endpoint */
    public AdminClient(String endpoint) {
        this.endpoint = endpoint;
    }

    /** A failed admin call; the message is ready for the user. */
    public static final class AdminException extends Exception {
        private static final long serialVersionUID = 1L;

        public AdminException(String message) {
            super(message);
        }
    }

    public List<VolumeView> list() throws AdminException {
        return call(HttpRequest.newBuilder(uri("")).GET(), new TypeReference<List<VolumeView>>() { });
    }

    public VolumeView info(String name) throws AdminException {
        return call(HttpRequest.newBuilder(uri(name)).GET(), new TypeReference<VolumeView>() { });
    }

    public VolumeView create(String name, String size) throws AdminException {
        byte[] body;
        try {
            body = json.writeValueAsBytes(Map.of("name", name, "size", size));
        } catch (IOException e) {
            throw new AdminException("cannot encode request: " + e.getMessage());
        }
        return call(HttpRequest.newBuilder(uri("")).POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .header("Content-Type", "application/json"), new TypeReference<VolumeView>() { });
    }

    public void delete(String name) throws AdminException {
        call(HttpRequest.newBuilder(uri(name)).DELETE(), new TypeReference<JsonNode>() { });
    }

    private URI uri(String name) throws AdminException {
        try {
            return URI.create("http://" + endpoint + "/v1/volumes"
                    + (name.isEmpty() ? "" : "/" + URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20")));
        } catch (IllegalArgumentException e) {
            throw new AdminException("invalid node address '" + endpoint + "': expected HOST:PORT");
        }
    }

    private <T> T call(HttpRequest.Builder request, TypeReference<T> type) throws AdminException {
        HttpResponse<byte[]> response;
        try {
            response = http.send(request.timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (ConnectException | HttpConnectTimeoutException e) {
            throw new AdminException("cannot reach the hablock node at " + endpoint
                    + " (is `hablock server` running there? set --node or HABLOCK_NODE)");
        } catch (HttpTimeoutException e) {
            throw new AdminException("the hablock node at " + endpoint + " did not answer within " + TIMEOUT.toSeconds() + " s");
        } catch (IOException e) {
            throw new AdminException("cannot talk to the hablock node at " + endpoint + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdminException("interrupted");
        }
        try {
            if (response.statusCode() >= 400) {
                JsonNode error = json.readTree(response.body());
                throw new AdminException(error != null && error.hasNonNull("error") ? error.get("error").asText()
                        : "node answered HTTP " + response.statusCode());
            }
            return json.readValue(response.body(), type);
        } catch (IOException e) {
            throw new AdminException("unexpected answer from " + endpoint + ": " + e.getMessage());
        }
    }
}
