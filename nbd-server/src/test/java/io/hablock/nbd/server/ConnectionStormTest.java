package io.hablock.nbd.server;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.nbd.testing.Options;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A thousand clients that connect and vanish at the same moment, each stopped somewhere
 * else in the protocol. The server must release every connection and device handle and go
 * on serving the client that behaved.
 */
class ConnectionStormTest {
    private static final int CLIENTS = 1000;
    private static final long WRITE_AREA = 20 << 20;

    @TempDir
    Path dir;

    @Test
    void thousandConnectionsDroppedAtOnceLeaveTheServerServing() throws IOException {
        // All from one address: above the default cap per client, which HostileClientTest covers.
        ConnectionLimits defaults = ConnectionLimits.defaults();
        try (ServerFixture fixture = ServerFixture.start(dir, false, c -> c.withLimits(new ConnectionLimits(
                2 * CLIENTS, 2 * CLIENTS, defaults.handshakeTimeout(), defaults.stallTimeout())));
             RawNbdClient survivor = fixture.transmission(true, false)) {
            List<RawNbdClient> storm = new ArrayList<>();
            try {
                for (int i = 0; i < CLIENTS; i++) {
                    storm.add(stopSomewhere(fixture, i));
                }
                // Clients that reconnected (cases 3 and 4) leave a closed connection the server
                // drops a moment later: wait for the count to settle rather than race it.
                await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                        assertThat(fixture.server().connectionCount()).isEqualTo(CLIENTS + 1));
            } finally {
                for (int i = 0; i < storm.size(); i++) {
                    // Half leave with a reset, as a crashed client does; half with a FIN.
                    if (i % 2 == 0) {
                        storm.get(i).abort();
                    } else {
                        storm.get(i).close();
                    }
                }
            }

            await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                assertThat(fixture.server().connectionCount()).as("connections left").isEqualTo(1);
                assertThat(fixture.exports().openHandles()).as("device handles left").isEqualTo(1);
            });
            byte[] data = pattern(64 << 10, 1);
            assertThat(survivor.write(0, data).error()).isZero();
            assertThat(survivor.read(0, data.length).data()).isEqualTo(data);
            assertThat(survivor.read(WRITE_AREA, 1 << 20).data()).as("no half-sent write landed").containsOnly(0);
            fixture.assertServesNewClient();
        }
    }

    /** Connects and leaves the client at one of five places, by {@code i}. */
    private static RawNbdClient stopSomewhere(ServerFixture fixture, int i) throws IOException {
        RawNbdClient client = RawNbdClient.connect(fixture.address());
        switch (i % 5) {
            case 0 -> {
                // Connected, greeting unread.
            }
            case 1 -> {
                client.readGreeting();
                client.sendBytes(new byte[] {0, 0}); // half of the client flags
            }
            case 2 -> {
                client.readGreeting();
                client.sendClientFlags(Wire.FLAG_FIXED_NEWSTYLE | Wire.FLAG_NO_ZEROES);
                client.sendOptionHeader(Wire.OPT_GO, 20);
                client.sendBytes(Options.infoRequest(ServerFixture.VOLUME)); // 13 of the 20 bytes
            }
            case 3 -> {
                client.close();
                client = fixture.transmission(false, false);
                client.sendRequestHeader(0, Wire.CMD_WRITE, i, WRITE_AREA, 1 << 20);
                client.sendBytes(pattern(1000, i)); // a sliver of the payload
            }
            default -> {
                client.close();
                client = fixture.transmission(true, false);
                client.sendRequestHeader(0, Wire.CMD_READ, i, 0, 64 << 10); // the reply is never read
            }
        }
        return client;
    }
}
