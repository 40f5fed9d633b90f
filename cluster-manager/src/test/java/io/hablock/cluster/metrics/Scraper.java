package io.hablock.cluster.metrics;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Fetches pages of an endpoint over real HTTP. */
final class Scraper {
    private static final HttpClient CLIENT =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Scraper() {}

    static HttpResponse<String> get(InetSocketAddress address, String path)
            throws IOException, InterruptedException {
        return send(address, path, "GET");
    }

    static HttpResponse<String> send(InetSocketAddress address, String path, String method)
            throws IOException, InterruptedException {
        URI uri = URI.create("http://" + address.getHostString() + ":" + address.getPort() + path);
        HttpRequest request = HttpRequest.newBuilder(uri)
                .timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build();
        return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
    }

    /** The body of a successful, valid scrape of /metrics. */
    static String scrape(InetSocketAddress address) throws IOException, InterruptedException {
        HttpResponse<String> response = get(address, "/metrics");
        if (response.statusCode() != 200) {
            throw new AssertionError("scrape answered " + response.statusCode());
        }
        Exposition.assertValid(response.body());
        return response.body();
    }
}
