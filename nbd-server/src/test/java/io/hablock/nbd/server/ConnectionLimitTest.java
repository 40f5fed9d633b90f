package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Connection caps (issue 14, finding 6: 20,977 idle connections used up the file descriptors):
 * at most 6 connections, 3 per client address, here. Loopback addresses 127.0.0.x stand for
 * different clients. A refused connection is closed at once, before the greeting.
 */
class ConnectionLimitTest extends ServerTest {
    private final List<RawNbdClient> open = new ArrayList<>();

    @Override
    protected ServerFixture start(Path dir) throws IOException {
        ConnectionLimits defaults = ConnectionLimits.defaults();
        return ServerFixture.start(dir, false, c -> c.withLimits(
                new ConnectionLimits(6, 3, defaults.handshakeTimeout(), defaults.stallTimeout())));
    }

    @AfterEach
    void closeAll() throws IOException {
        for (RawNbdClient c : open) {
            c.close();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server().connectionCount() == 0);
        fixture.assertServesNewClient();
    }

    @Test
    void aClientAtItsCapIsRefusedAtOnceAndOthersAreServed() throws IOException {
        for (int i = 0; i < 3; i++) {
            open.add(connected("127.0.0.1"));
        }
        assertRefused("127.0.0.1");
        open.add(connected("127.0.0.2"));

        open.remove(0).close();
        await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server().connectionCount() == 3);
        open.add(connected("127.0.0.1"));
    }

    @Test
    void theNodeAtItsCapRefusesEveryoneAtOnce() throws IOException {
        for (int i = 0; i < 6; i++) {
            open.add(connected("127.0.0." + (2 + i / 2)));
        }
        assertRefused("127.0.0.9");
        assertRefused("127.0.0.2");

        open.remove(0).close();
        await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server().connectionCount() == 5);
        open.add(connected("127.0.0.9"));
    }

    /** Another node forwards each of its clients' sessions from one address: only the node's cap holds it. */
    @Test
    void aPeerNodeIsHeldByTheNodesCapOnly() throws IOException {
        fixture.exports().treatAsPeer(InetAddress.getByName("127.0.0.5"));
        for (int i = 0; i < 6; i++) {
            open.add(connected("127.0.0.5"));
        }
        assertRefused("127.0.0.5");
        assertRefused("127.0.0.1");
    }

    /** A connection past its greeting, in transmission, from {@code from}. */
    private RawNbdClient connected(String from) throws IOException {
        RawNbdClient client = RawNbdClient.connect(fixture.address(), InetAddress.getByName(from));
        client.readGreeting();
        return client;
    }

    /** Connecting from {@code from} gets an end of stream at once: no greeting, no waiting. */
    private void assertRefused(String from) throws IOException {
        InetSocketAddress server = fixture.address();
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
            socket.setSoTimeout(5_000);
            socket.connect(server, 5_000);
            InputStream in = socket.getInputStream();
            int first;
            try {
                first = in.read();
            } catch (java.net.SocketException e) {
                first = -1; // a reset is a refusal too
            }
            assertThat(first).as("first byte to a refused connection from %s", from).isEqualTo(-1);
        }
    }
}
