package io.hablock.cli.acceptance;

import static io.hablock.cli.acceptance.support.QemuIo.read;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.BackgroundProcess;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.QemuIo;
import io.hablock.cli.acceptance.support.ServerProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM while clients write: the server finishes, exits 0 within seconds, and every write it
 * acknowledged is there after a restart.
 */
class GracefulShutdownTest {
    private static final int SLOTS = 256;
    private static final int BLOCK = 64 * 1024;
    private static final Duration CLIENT_EXIT = Duration.ofSeconds(30);

    /**
     * Writes block after block round the volume's slots, each with a pattern that depends on the
     * slot and the round, and prints the number of each write once it is acknowledged. Stops at
     * the first error (the server going away).
     */
    private static final String WRITER = """
            import sys
            h = nbd.NBD()
            h.connect_uri(uri)
            i = 0
            try:
                while True:
                    h.pwrite(bytes([pattern(i)]) * block, (i % slots) * block)
                    print(i, flush=True)
                    i += 1
            except nbd.Error as e:
                print("writer stopped:", e, file=sys.stderr, flush=True)
            """;

    /** The pattern of write number i; never 0, so an unwritten slot cannot pass for a written one. */
    private static int pattern(long i) {
        return (int) ((i / SLOTS * 37 + i % SLOTS) % 255) + 1;
    }

    @TempDir
    Path dir;

    @Test
    void sigtermWhileClientsWriteExitsZeroAndKeepsAcknowledgedWrites() throws Exception {
        ServerProcess restarted;
        long lastAcked;
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"))) {
            server.createVolume("load", "256M");
            server.createVolume("acked", Long.toString((long) SLOTS * BLOCK));
            try (BackgroundProcess fio = Command.of("fio", "--name=load", "--ioengine=nbd",
                         "--uri=" + server.nbdUri("load"), "--rw=randwrite", "--bs=4k", "--iodepth=32", "--size=256M",
                         "--time_based", "--runtime=300").start();
                 BackgroundProcess writer = Command.of("nbdsh", "-n",
                         "-c", "uri = '" + server.nbdUri("acked") + "'; slots = " + SLOTS + "; block = " + BLOCK,
                         "-c", "pattern = lambda i: (i // slots * 37 + i % slots) % 255 + 1",
                         "-c", WRITER).start()) {
                fio.awaitOutput("connected to NBD server", Duration.ofSeconds(30));
                // More than one round, so some slots hold their second pattern.
                writer.awaitOutput("writes acknowledged", Duration.ofSeconds(120),
                        out -> out.lines().count() > SLOTS + SLOTS / 4);

                long start = System.nanoTime();
                int status = server.terminate(Duration.ofSeconds(10));
                Duration took = Duration.ofNanos(System.nanoTime() - start);

                assertThat(status).as("exit status after SIGTERM (%d ms)%s", took.toMillis(), server.describe()).isZero();
                assertThat(server.log()).as("server log%s", server.describe())
                        .contains("stopped")
                        .doesNotContain("with open volumes");
                // A clean stop logs nothing at ERROR (the election, the Curator client and the
                // agent close in order, each on the caller's thread).
                assertThat(server.log().lines().filter(l -> l.matches("^\\S+ ERROR .*")).toList())
                        .as("ERROR lines in the server log%s", server.describe()).isEmpty();
                assertThat(writer.waitFor(CLIENT_EXIT)).as("writer ends when the server is gone%s", writer.describe())
                        .isTrue();
                assertThat(fio.waitFor(CLIENT_EXIT)).as("fio ends when the server is gone%s", fio.describe()).isTrue();
                lastAcked = lastAcknowledged(writer.stdout());
            }
            restarted = server.restart();
        }

        try (ServerProcess server = restarted) {
            QemuIo.verify(server.nbdUri("acked"), expectedReads(lastAcked));
        }
    }

    private static long lastAcknowledged(String writerOutput) {
        return writerOutput.lines().mapToLong(Long::parseLong).max().orElseThrow();
    }

    /**
     * A pattern read per slot: the pattern of the last acknowledged write to it. The slot after
     * the last acknowledged write is left out: a write to it may have been under way, neither
     * acknowledged nor refused, when the server stopped.
     */
    private static List<String> expectedReads(long lastAcked) {
        int uncertain = (int) ((lastAcked + 1) % SLOTS);
        List<String> reads = new ArrayList<>();
        for (int slot = 0; slot < SLOTS; slot++) {
            if (slot == uncertain) {
                continue;
            }
            long lastWrite = lastAcked - Math.floorMod(lastAcked - slot, SLOTS);
            int expected = lastWrite < 0 ? 0 : pattern(lastWrite);
            reads.add(read(expected, (long) slot * BLOCK, BLOCK));
        }
        return reads;
    }
}
