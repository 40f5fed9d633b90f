package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Small reads and writes of a local volume run on the event loop, and move to the I/O workers
 * when the disk turns slow, so a slow disk cannot stall the network thread for long.
 */
class InlineIoTest extends ServerTest {
    /** A read slower than this is slow; the delay the tests inject is far above it. */
    private static final Duration SLOW = Duration.ofMillis(500);

    // Thresholds far from what a loaded CI machine does by accident: the test is about the
    // routing, not about timing. The pause outlasts the test.
    @Override
    protected ServerFixture start(Path dir) throws IOException {
        return ServerFixture.start(dir, false, c -> c.withInlineIo(64 * 1024, SLOW, Duration.ofMinutes(5)));
    }

    @Test
    void smallReadsOfAFastDeviceRunOnTheEventLoop() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            client.read(0, 4096);
            client.read(8192, 64 * 1024);
            assertThat(fixture.exports().drainReadThreads()).allMatch(t -> t.startsWith("nbd-loop"));
            client.read(0, 64 * 1024 + 1); // above the inline limit
            assertThat(fixture.exports().drainReadThreads()).singleElement().asString().startsWith("nbd-io");
        }
    }

    @Test
    void slowReadsInARowSendTheFollowingOnesToTheWorkers() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            fixture.exports().delayReads(SLOW.multipliedBy(3));
            for (int i = 0; i < TransmissionHandler.SLOW_STREAK; i++) {
                assertThat(client.read(0, 4096).error()).isZero();
            }
            fixture.exports().delayReads(Duration.ZERO);
            for (int i = 0; i < 5; i++) {
                assertThat(client.read(4096L * i, 4096).error()).isZero();
            }
            List<String> threads = fixture.exports().drainReadThreads();
            assertThat(threads.subList(0, TransmissionHandler.SLOW_STREAK)).allMatch(t -> t.startsWith("nbd-loop"));
            assertThat(threads.subList(TransmissionHandler.SLOW_STREAK, threads.size())).allMatch(t -> t.startsWith("nbd-io"));
        }
    }

    @Test
    void oneSlowReadAmongFastOnesKeepsTheEventLoop() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            fixture.exports().delayReads(SLOW.multipliedBy(3));
            assertThat(client.read(0, 4096).error()).isZero();
            fixture.exports().delayReads(Duration.ZERO);
            for (int i = 0; i < 5; i++) {
                assertThat(client.read(4096L * i, 4096).error()).isZero();
            }
            // A thread preempted once is not a slow disk.
            assertThat(fixture.exports().drainReadThreads()).allMatch(t -> t.startsWith("nbd-loop"));
        }
    }

    @Test
    void fuaWritesNeverRunInline() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            assertThat(client.write(0, new byte[4096]).error()).isZero();
            assertThat(client.request(Wire.CMD_FLAG_FUA, Wire.CMD_WRITE, 0, 4096, new byte[4096]).error()).isZero();
            List<String> threads = fixture.exports().drainWriteThreads();
            assertThat(threads).hasSize(2);
            assertThat(threads.get(0)).startsWith("nbd-loop");
            assertThat(threads.get(1)).as("a FUA write waits for the disk").startsWith("nbd-io");
        }
    }

    @Test
    void aDeviceThatStartsInlineRunsItsBlockingWorkOnTheEventLoop() throws IOException {
        fixture.exports().startInline();
        try (RawNbdClient client = fixture.transmission(true, false)) {
            assertThat(client.write(0, new byte[4096]).error()).isZero();
            assertThat(client.request(Wire.CMD_FLAG_FUA, Wire.CMD_WRITE, 4096, 4096, new byte[4096]).error()).isZero();
            assertThat(fixture.exports().drainWriteThreads()).satisfiesExactly(
                    t -> assertThat(t).startsWith("nbd-loop"),
                    t -> assertThat(t).as("a FUA write waits for the disk").startsWith("nbd-io"));
            assertThat(client.read(0, 4096).error()).isZero();
            assertThat(client.read(0, 64 * 1024 + 1).error()).isZero(); // above the inline limit
            assertThat(fixture.exports().drainReadThreads()).satisfiesExactly(
                    t -> assertThat(t).startsWith("nbd-loop"),
                    t -> assertThat(t).startsWith("nbd-io"));
        }
    }

    @Test
    void workThatWouldWaitOnTheEventLoopRunsAgainOnAWorker() throws IOException {
        fixture.exports().startInline();
        fixture.exports().readsWouldBlockInline();
        try (RawNbdClient client = fixture.transmission(true, false)) {
            byte[] data = new byte[4096];
            java.util.Arrays.fill(data, (byte) 7);
            assertThat(client.write(8192, data).error()).isZero();
            assertThat(client.read(8192, 4096).data()).isEqualTo(data);
            assertThat(fixture.exports().drainReadThreads()).satisfiesExactly(
                    t -> assertThat(t).as("tried inline first").startsWith("nbd-loop"),
                    t -> assertThat(t).as("then on a worker").startsWith("nbd-io"));
        }
    }
}
