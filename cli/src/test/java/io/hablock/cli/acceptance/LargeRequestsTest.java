package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.ExportNameClient;
import io.hablock.cli.acceptance.support.ServerProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests of 128 MiB from clients that never saw the 32 MiB maximum block size, four
 * connections at once, against {@code hablock server} in a process of its own with the launcher's
 * heap (256 MiB) and its direct memory, where payloads live, capped at 64 MiB: an eighth of what
 * the four requests carry. The server takes and sends them in pieces, stays up and answers. One
 * reader takes its 128 MiB slowly: a server that read a reply ahead of what the client takes
 * would run out of that memory.
 */
class LargeRequestsTest {
    private static final int MIB = 1 << 20;
    private static final int LENGTH = 128 * MIB;
    private static final int CONNECTIONS = 4;
    private static final String VOLUME = "big";
    /** The slow reader takes 128 MiB in about 2.5 s. */
    private static final long SLOW_READER_PAUSE_PER_MIB = TimeUnit.MILLISECONDS.toNanos(20);

    @TempDir
    Path dir;

    @Test
    void fourConnectionsWriteAndReadBack128MibRequestsWithin64MibOfDirectMemory() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), "64m")) {
            server.createVolume(VOLUME, CONNECTIONS * LENGTH / MIB + "M");

            onEachConnection(server, i -> () -> {
                try (ExportNameClient client = ExportNameClient.open(server.nbdPort(), VOLUME)) {
                    client.write((long) i * LENGTH, LENGTH, i);
                }
                return null;
            });
            onEachConnection(server, i -> () -> {
                try (ExportNameClient client = ExportNameClient.open(server.nbdPort(), VOLUME)) {
                    client.readAndVerify((long) i * LENGTH, LENGTH, i, i == 0 ? SLOW_READER_PAUSE_PER_MIB : 0);
                }
                return null;
            });

            CommandResult info = Command.of("nbdinfo", server.nbdUri(VOLUME)).timeout(Duration.ofSeconds(30)).run();
            assertThat(info.exitCode()).as("the server still answers%s", info.describe()).isZero();
            assertThat(server.log()).as("server log").doesNotContain("OutOfMemoryError", "OutOfDirectMemoryError");
        }
    }

    /** Runs the work of every connection at once and waits for all of it, failing on the first failure. */
    private static void onEachConnection(ServerProcess server, IntFunction<Callable<Void>> work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(CONNECTIONS);
        try {
            List<Future<Void>> done = new ArrayList<>();
            for (int i = 0; i < CONNECTIONS; i++) {
                done.add(pool.submit(work.apply(i)));
            }
            for (Future<Void> f : done) {
                f.get(3, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
