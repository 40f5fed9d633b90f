package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.hablock.cli.acceptance.support.BackgroundProcess;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.LocalClusterProcesses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Point 2 of the safety issue, with real processes: the owner is frozen (SIGSTOP) past the
 * session timeout, another node takes over and acknowledges a newer write, and reads that were
 * waiting on a connection to the frozen owner reach it when it wakes (SIGCONT). It must answer
 * none of them with its old data: its lease ran out while it slept, whatever it has not heard yet.
 * (The connection follows the volume, so a read may also be answered with the new owner's data.)
 */
class DeposedOwnerTest {
    private static final String VOLUME = "deposed";
    private static final int READS = 8;

    /**
     * Connects before the fault, waits for a go file, then sends READS reads of block 0 at once
     * and prints what each got: its first byte, or "error".
     */
    private static final String QUEUED_READS = """
            import os, sys, time
            h = nbd.NBD()
            h.connect_uri(uri)
            print("connected", flush=True)
            while not os.path.exists(go):
                time.sleep(0.05)
            bufs = [nbd.Buffer(4096) for _ in range(reads)]
            cookies = [h.aio_pread(b, 0) for b in bufs]
            print("queued", flush=True)
            results = {}
            deadline = time.time() + 60
            while len(results) < reads and time.time() < deadline:
                try:
                    h.poll(1)
                except nbd.Error as e:
                    break
                for i, c in enumerate(cookies):
                    if i in results:
                        continue
                    try:
                        if h.aio_command_completed(c):
                            results[i] = "%02x" % bufs[i].to_bytearray()[0]
                    except nbd.Error:
                        results[i] = "error"
            for i in range(reads):
                print("read", i, results.get(i, "error"), flush=True)
            """;

    @TempDir
    Path dir;

    @Test
    void aFrozenOwnerThatWakesUpAnswersNoReadWithOldData() throws Exception {
        try (LocalClusterProcesses cluster = LocalClusterProcesses.up(dir.resolve("cluster"), 3, "127.0.9",
                "--session-timeout", "3s")) {
            JsonNode created = cluster.json("volume", "create", VOLUME, "--size", "16M", "--copies", "2", "--json");
            String owner = created.get("owner").asText();
            qemuIo(cluster.uri(owner, VOLUME), "write -P 0x11 0 4k");
            Path go = dir.resolve("go");
            try (BackgroundProcess reader = Command.of("nbdsh", "-n",
                    "-c", "uri = '" + cluster.uri(owner, VOLUME) + "'; go = '" + go + "'; reads = " + READS,
                    "-c", QUEUED_READS).start()) {
                reader.awaitOutput("connected", Duration.ofSeconds(30));

                cluster.freeze(owner);
                String next;
                try {
                    JsonNode after = org.awaitility.Awaitility.await("another node serves " + VOLUME)
                            .atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(200))
                            .until(() -> cluster.json("volume", "info", VOLUME, "--json"),
                                    v -> v.get("served").asBoolean() && !v.get("owner").asText().equals(owner));
                    next = after.get("owner").asText();
                    qemuIo(cluster.uri(next, VOLUME), "write -P 0x22 0 4k"); // acknowledged by the new owner
                    Files.writeString(go, "go");
                    reader.awaitOutput("queued", Duration.ofSeconds(30)); // in the frozen owner's socket now
                } finally {
                    cluster.thaw(owner);
                }
                reader.exitCode(Duration.ofSeconds(90)); // and all it printed
                List<String> answers = reader.stdout().lines().filter(l -> l.matches("read \\d+ \\S+"))
                        .map(l -> l.split(" ")[2]).toList();
                assertThat(answers).as("what the woken owner answered%s", reader.describe()).hasSize(READS)
                        .doesNotContain("11");
                CommandResult now = Command.of("qemu-io", "-f", "raw", cluster.uri(next, VOLUME), "-r", "-c",
                        "read -P 0x22 0 4k").runOk();
                assertThat(now.stdout()).doesNotContain("Pattern verification failed");
            }
        }
    }

    private static void qemuIo(String uri, String command) {
        CommandResult r = Command.of("qemu-io", "-f", "raw", uri, "-c", command).timeout(Duration.ofMinutes(2)).runOk();
        assertThat(r.stdout()).as(r.describe()).doesNotContain("failed");
    }
}
