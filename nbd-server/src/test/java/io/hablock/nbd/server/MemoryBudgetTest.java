package io.hablock.nbd.server;

import static io.hablock.nbd.server.HostileClientTest.awaitQuiet;
import static io.hablock.nbd.server.HostileClientTest.requests;
import static io.hablock.nbd.server.HostileClientTest.sendInBackground;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerMessage;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.SimpleReply;
import io.hablock.nbd.testing.Wire;
import io.netty.buffer.PooledByteBufAllocator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Many connections together hold no more than the server's memory budget (64 MiB here), while
 * each stays within its own limits: requests and replies beyond it wait, a client that reads its
 * replies is served at once all the same, and nothing that waited is lost.
 *
 * <p>Before the budget, each connection could hold 64 MiB in flight and as much again in replies
 * not taken: eight of them started all of their 2,400 READs of 256 KiB (600 MiB).
 */
class MemoryBudgetTest extends ServerTest {
    private static final long BUDGET = 64L << 20;
    private static final Duration STALL = Duration.ofSeconds(2);
    private static final int READ = 256 << 10;

    @Override
    protected ServerFixture start(Path dir) throws IOException {
        ConnectionLimits defaults = ConnectionLimits.defaults();
        return ServerFixture.start(dir, false, c -> c.withLimits(new ConnectionLimits(defaults.maxConnections(),
                defaults.maxConnectionsPerClient(), defaults.handshakeTimeout(), STALL, BUDGET)));
    }

    @AfterEach
    void everythingGivenBack() {
        await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(fixture.server().connectionCount()).as("connections").isZero();
            assertThat(fixture.server().memoryInUse()).as("bytes held against the budget").isZero();
        });
    }

    /**
     * Eight connections pipeline 300 READs of 256 KiB each (600 MiB together) and read nothing:
     * the server starts what the budget holds, plus a floor of one request for a connection that
     * held nothing. A new client is served within a second meanwhile. Then they read: every
     * request is answered.
     */
    @Test
    void connectionsThatReadNoRepliesHoldNoMoreThanTheBudgetTogether() throws Exception {
        fixture.exports().disableZeroCopy(); // as a cluster volume: every reply holds its data
        int connections = 8;
        int count = 300;
        List<RawNbdClient> hogs = new ArrayList<>();
        try {
            for (int c = 0; c < connections; c++) {
                RawNbdClient hog = fixture.transmission(false, false);
                hogs.add(hog);
                sendInBackground(hog, requests(count, Wire.CMD_READ, READ, i -> (i % 200) * (long) READ));
            }
            awaitQuiet(() -> fixture.exports().readsStarted(), Duration.ofMillis(500));
            long started = fixture.exports().readsStarted();
            System.out.printf("%d connections x %d READs of 256 KiB, replies not read: %d started, %d MiB held%n",
                    connections, count, started, fixture.server().memoryInUse() >> 20);
            // A reply handed to the kernel is no longer held: the sockets' buffers take a few MiB each.
            assertThat(started * READ).as("bytes of the READs started")
                    .isLessThanOrEqualTo(BUDGET + connections * (MemoryBudget.FLOOR_BYTES + (4L << 20)));
            assertThat(fixture.server().memoryInUse()).as("bytes held against the budget")
                    .isLessThanOrEqualTo(BUDGET + connections * (long) MemoryBudget.FLOOR_BYTES);

            long start = System.nanoTime();
            fixture.assertServesNewClient(); // 4 KiB: within the floor
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(seconds).as("seconds for a new client's write and read").isLessThan(1.0);

            // All read at once: one left unread for the stall timeout would be closed.
            List<CompletableFuture<Set<Long>>> answered = new ArrayList<>();
            for (RawNbdClient hog : hogs) {
                answered.add(CompletableFuture.supplyAsync(() -> {
                    Set<Long> cookies = new HashSet<>();
                    try {
                        for (int i = 0; i < count; i++) {
                            ServerMessage reply = hog.readMessage(cookie -> READ);
                            assertThat(((SimpleReply) reply).error()).isZero();
                            cookies.add(reply.cookie());
                        }
                        hog.disconnect();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    return cookies;
                }, Executors.newSingleThreadExecutor()));
            }
            for (CompletableFuture<Set<Long>> cookies : answered) {
                assertThat(cookies.get(60, TimeUnit.SECONDS)).as("every request answered once").hasSize(count);
            }
        } finally {
            closeAll(hogs);
        }
    }

    /**
     * Eight connections each announce a 32 MiB WRITE and send half of it. Two payloads fit in the
     * budget; the others are not read at all (their clients' sends block), so the server's direct
     * memory holds at most two. A client that holds nothing is served at once all the same: a
     * 4 KiB write (the floor) and a 1 MiB one (within its fair share of the budget). The stalled
     * connections are closed at the stall timeout once admitted, two at a time.
     */
    @Test
    void writePayloadsBeyondTheBudgetAreNotReadWhileOtherClientsAreServed() throws Exception {
        int connections = 8;
        int length = 32 << 20;
        List<RawNbdClient> stalled = new ArrayList<>();
        try {
            for (int c = 0; c < connections; c++) {
                RawNbdClient client = fixture.transmission(false, false);
                stalled.add(client);
                client.sendRequestHeader(0, Wire.CMD_WRITE, 1, 0, length);
                sendInBackground(client, new byte[length / 2]);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server().memoryInUse() >= BUDGET);
            Thread.sleep(500); // what the stalled clients still manage to send
            assertThat(fixture.server().memoryInUse()).as("bytes held against the budget").isEqualTo(BUDGET);
            // Buffers in use, not the pool's chunks (which other tests of this JVM may have left).
            long direct = PooledByteBufAllocator.DEFAULT.pinnedDirectMemory();
            System.out.printf("8 WRITEs of 32 MiB sent half-way: %d MiB of pooled direct memory in buffers%n", direct >> 20);
            // Two half payloads (32 MiB), a socket read of each of the six others (1 MiB at most).
            assertThat(direct).as("pooled direct memory in buffers").isLessThan(48L << 20);

            long start = System.nanoTime();
            fixture.assertServesNewClient();
            assertThat((System.nanoTime() - start) / 1e9).as("seconds for a 4 KiB write and read").isLessThan(1.0);
            try (RawNbdClient big = fixture.transmission(false, false)) {
                byte[] data = new byte[1 << 20];
                ThreadLocalRandom.current().nextBytes(data);
                start = System.nanoTime();
                assertThat(big.write(64 << 10, data).error()).as("1 MiB write").isZero();
                assertThat(big.read(64 << 10, data.length).data()).isEqualTo(data);
                double seconds = (System.nanoTime() - start) / 1e9;
                System.out.printf("1 MiB write and read while stalled WRITEs held the budget: %.3f s%n", seconds);
                assertThat(seconds).as("seconds for a 1 MiB write and read").isLessThan(1.0);
                big.disconnect();
            }
            for (RawNbdClient client : stalled) {
                client.assertClosedByServer();
            }
        } finally {
            closeAll(stalled);
        }
    }

    private static void closeAll(List<RawNbdClient> clients) throws IOException {
        for (RawNbdClient client : clients) {
            client.close();
        }
    }
}
