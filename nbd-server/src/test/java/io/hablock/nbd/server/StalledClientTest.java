package io.hablock.nbd.server;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.nbd.testing.OptionReply;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.SimpleReply;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Clients that stop half-way and hold what they sent (issue 14, findings 5 and 6), against a
 * server with 1 s handshake and stall timeouts; and clients that are slow or held back by the
 * server, which must not be taken for stalled.
 */
class StalledClientTest extends ServerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(1);

    @Override
    protected ServerFixture start(Path dir) throws IOException {
        ConnectionLimits defaults = ConnectionLimits.defaults();
        return ServerFixture.start(dir, false, c -> c.withLimits(new ConnectionLimits(
                defaults.maxConnections(), defaults.maxConnectionsPerClient(), TIMEOUT, TIMEOUT)));
    }

    @AfterEach
    void serverStillServes() throws IOException {
        fixture.assertServesNewClient();
        await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(fixture.server().connectionCount()).as("connections").isZero();
            assertThat(fixture.exports().openHandles()).as("device handles").isZero();
        });
    }

    /** 32 MiB - 1 bytes of a 32 MiB WRITE, then nothing: the connection and its 32 MiB go. */
    @Test
    void writePayloadThatStopsArrivingIsClosed() throws IOException {
        int length = 32 << 20;
        try (RawNbdClient client = fixture.transmission(false, false)) {
            client.sendRequestHeader(0, Wire.CMD_WRITE, 1, 0, length);
            client.sendBytes(new byte[length - 1]);
            client.assertClosedByServer();
        }
    }

    @Test
    void requestHeaderThatStopsArrivingIsClosed() throws IOException {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            client.sendBytes(new byte[] {0x25, 0x60, (byte) 0x95, 0x13, 0, 0, 0}); // 7 of 28 bytes
            client.assertClosedByServer();
        }
    }

    @Test
    void connectionThatNeverEndsItsHandshakeIsClosed() throws IOException {
        try (RawNbdClient silent = RawNbdClient.connect(fixture.address());
             RawNbdClient haggling = fixture.handshake()) {
            silent.readGreeting();
            // Haggling on without end is no better than saying nothing: the limit is on the whole handshake.
            long deadline = System.nanoTime() + 5 * TIMEOUT.toNanos();
            boolean closed = false;
            while (!closed && System.nanoTime() < deadline) {
                LockSupport.parkNanos(TIMEOUT.toNanos() / 10); // pacing the client
                try {
                    haggling.sendOption(Wire.OPT_LIST, new byte[0]);
                    Optional<OptionReply> reply;
                    do {
                        reply = haggling.readOptionReplyUnlessClosed();
                    } while (reply.isPresent() && reply.get().type() != Wire.REP_ACK);
                    closed = reply.isEmpty();
                } catch (IOException e) {
                    closed = true; // reset while sending: closed too
                }
            }
            assertThat(closed).as("option haggling closed after the handshake timeout").isTrue();
            silent.assertClosedByServer();
        }
    }

    @Test
    void requestsWhoseRepliesAreNeverTakenAreClosed() throws IOException {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            Thread sender = HostileClientTest.sendInBackground(client,
                    HostileClientTest.requests(100_000, Wire.CMD_READ, 4096, i -> (i % 4096) * 4096));
            await().atMost(Duration.ofSeconds(15)).until(() -> fixture.server().connectionCount() == 0);
            client.abort();
            join(sender);
        }
    }

    /** A client that sends a WRITE slowly, but always something within the timeout, is served. */
    @Test
    void slowButSteadyWriteIsServed() throws IOException {
        byte[] data = pattern(1 << 20, 7);
        try (RawNbdClient client = fixture.transmission(false, false)) {
            client.sendRequestHeader(0, Wire.CMD_WRITE, 9, 0, data.length);
            int pieces = 8; // over 3.2 s, three times the timeout
            for (int i = 0; i < pieces; i++) {
                LockSupport.parkNanos(TIMEOUT.toNanos() * 4 / 10); // pacing the client, not waiting on the server
                client.sendBytes(java.util.Arrays.copyOfRange(data, i * data.length / pieces, (i + 1) * data.length / pieces));
            }
            assertThat(client.readReply(9, 0, 0).error()).isZero();
            assertThat(client.read(0, data.length).data()).isEqualTo(data);
            client.disconnect();
        }
    }

    /**
     * Requests the server holds back at its own limit (writes waiting on a slow disk, more than
     * 128 pipelined) are not the client's stall: the connection waits as long as the disk does.
     */
    @Test
    void requestsTheServerHoldsBackAreNotAStall() throws IOException {
        int count = 300;
        fixture.exports().closeWriteGate();
        try (RawNbdClient client = fixture.transmission(false, false)) {
            byte[] block = pattern(4096, 3);
            for (int i = 0; i < count; i++) {
                client.sendRequest(0, Wire.CMD_WRITE, i, (long) i * 4096, 4096, block);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> fixture.exports().writesAtGate() > 0);
            await().during(TIMEOUT.multipliedBy(3)).atMost(TIMEOUT.multipliedBy(5))
                    .until(() -> fixture.server().connectionCount() == 1);
            fixture.exports().openWriteGate();
            Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < count; i++) {
                SimpleReply reply = (SimpleReply) client.readMessage(c -> 0);
                assertThat(reply.error()).isZero();
                cookies.add(reply.cookie());
            }
            assertThat(cookies).hasSize(count);
            client.disconnect();
        } finally {
            fixture.exports().openWriteGate();
        }
    }

    private static void join(Thread thread) {
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
