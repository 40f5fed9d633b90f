package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.hablock.nbd.testing.Options;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerMessage;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.SimpleReply;
import io.hablock.nbd.testing.Wire;
import io.netty.buffer.PooledByteBufAllocator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * Clients that try to make the server hold more than its limits allow (issue 14), at the
 * default settings. Each case ends with a new client served and nothing of the hostile one left.
 */
class HostileClientTest extends ServerTest {

    @AfterEach
    void serverStillServes() throws IOException {
        fixture.assertServesNewClient();
        await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(fixture.server().connectionCount()).as("connections").isZero();
            assertThat(fixture.exports().openHandles()).as("device handles").isZero();
        });
    }

    /**
     * One socket read of 2,340 pipelined 256 KiB READs, replies never read: the server must start
     * no more than its in-flight limit plus what fits in the write buffer, not all 2,340 (585 MiB).
     * Once the client reads, every request is answered: the requests held back are not lost.
     */
    @Test
    void pipelinedReadsStopAtTheInFlightLimitWithinOneSocketRead() throws IOException {
        fixture.exports().disableZeroCopy(); // as a cluster volume: every reply holds its data
        int count = 2340;
        int length = 256 << 10;
        try (RawNbdClient client = fixture.transmission(false, false)) {
            client.sendBytes(requests(count, Wire.CMD_READ, length, i -> (i % 200) * length));
            awaitQuiet(() -> fixture.exports().readsStarted(), Duration.ofMillis(500));
            long direct = PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory();
            System.out.printf("pipelined READs: %d of %d started, %d MiB of pooled direct memory in use%n",
                    fixture.exports().readsStarted(), count, direct >> 20);
            // 128 requests or 64 MiB in flight, 64 MiB of replies waiting to be written, and the
            // requests that finish after the write buffer became full.
            assertThat(fixture.exports().readsStarted()).as("reads started, of %d sent", count).isLessThan(600);
            assertThat(direct).as("direct memory in use").isLessThan(200L << 20);

            fixture.assertServesNewClient();

            Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < count; i++) {
                ServerMessage reply = client.readMessage(c -> length);
                assertThat(reply).isInstanceOf(SimpleReply.class);
                assertThat(((SimpleReply) reply).error()).isZero();
                cookies.add(reply.cookie());
            }
            assertThat(cookies).as("every request answered once").hasSize(count);
            client.disconnect();
        }
    }

    @ParameterizedTest(name = "client flags {0}")
    @ValueSource(ints = {0, Wire.FLAG_NO_ZEROES})
    void clientThatDoesNotSpeakFixedNewstyleIsClosed(int flags) throws IOException {
        try (RawNbdClient client = RawNbdClient.connect(fixture.address())) {
            client.readGreeting();
            client.sendClientFlags(flags);
            client.assertClosedByServer();
        }
    }

    /** An export name is the client's text: in the log it stays on its line, escaped. */
    @Test
    void exportNameWithALineBreakCannotForgeALogLine() throws IOException {
        Logger connectionLog = (Logger) LoggerFactory.getLogger("io.hablock.nbd.connection");
        Level level = connectionLog.getLevel();
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        connectionLog.addAppender(lines);
        connectionLog.setLevel(Level.WARN);
        try (RawNbdClient client = fixture.handshake()) {
            client.sendOption(Wire.OPT_EXPORT_NAME, "v2\nINJECT forged line\r".getBytes(StandardCharsets.UTF_8));
            client.assertClosedByServer();
            await().atMost(Duration.ofSeconds(10)).until(() -> !lines.list.isEmpty());
        } finally {
            connectionLog.detachAppender(lines);
            connectionLog.setLevel(level);
        }
        String line = lines.list.get(0).getFormattedMessage();
        assertThat(line).doesNotContain("\n").doesNotContain("\r").contains("'v2\\nINJECT forged line\\r'");
    }

    /** Held up before: 300,000 pipelined requests that are all refused, replies never read. */
    @Test
    void threeHundredThousandBadRequestsNeverReadLeaveTheServerServing() throws Exception {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            Thread sender = sendInBackground(client, requests(300_000, 42, 0, i -> 0)); // unknown command: EINVAL each
            fixture.assertServesNewClient();
            client.abort();
            sender.join(10_000);
        }
    }

    /** Held up before: 200,000 pipelined 4 KiB READs, replies never read. */
    @Test
    void twoHundredThousandReadsNeverReadLeaveTheServerServing() throws Exception {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            // The server stops reading once its replies fill the write buffer: the sender blocks.
            Thread sender = sendInBackground(client, requests(200_000, Wire.CMD_READ, 4096, i -> (i % 4096) * 4096));
            fixture.assertServesNewClient();
            client.abort();
            sender.join(10_000);
        }
    }

    /** Sends {@code bytes} on a thread of its own, which ends when they are sent or the connection fails. */
    static Thread sendInBackground(RawNbdClient client, byte[] bytes) {
        Thread sender = new Thread(() -> {
            try {
                client.sendBytes(bytes);
            } catch (IOException e) {
                // the connection was closed: what this thread waits for
            }
        }, "pipelining-client");
        sender.setDaemon(true);
        sender.start();
        return sender;
    }

    /** {@code count} request headers of one type in one array, cookies 0, 1, ... */
    static byte[] requests(int count, int type, int length, LongUnaryOperator offset) {
        return Options.build(out -> {
            for (int i = 0; i < count; i++) {
                out.writeInt(Wire.REQUEST_MAGIC);
                out.writeShort(0);
                out.writeShort(type);
                out.writeLong(i);
                out.writeLong(offset.applyAsLong(i));
                out.writeInt(length);
            }
        });
    }

    /** Waits until {@code counter} is above zero and has not moved for {@code quiet} (the server stopped taking). */
    static void awaitQuiet(java.util.function.LongSupplier counter, Duration quiet) {
        AtomicLong last = new AtomicLong(-1);
        await().pollInterval(quiet).atMost(Duration.ofSeconds(90)).until(() -> {
            long now = counter.getAsLong();
            return now > 0 && now == last.getAndSet(now);
        });
    }
}
