package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.acceptance.support.BackgroundProcess;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.LocalClusterProcesses;
import io.hablock.cli.acceptance.support.Waits;
import io.hablock.nbd.client.NbdClient;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients at a real queue depth across failovers (issue 13's first acceptance point): fio at
 * queue depth 64 and nbdcopy (4 connections x 64 requests) on the node that becomes the owner,
 * fio on a node that stays a forwarder, and 16 clients at once on the forwarder, then the owner
 * is killed; after it came back, clients on it and on the current owner, and the current
 * owner is paused past its session. No client sees an I/O error, every block fio wrote reads back
 * with its checksum, and no client goes longer than the session timeout + 2 s without a write
 * completing (the pause: from fio's log of every completion, in wall-clock time; every client
 * must have had writes completed before the fault, or its first request's wait would be counted
 * as the failover's).
 *
 * <p>Before the forwarder was asynchronous, the node that became the owner forwarded to itself
 * with every I/O thread waiting on a forwarded request: all 32 requests in flight failed with EIO
 * after 60 s.
 */
class QueueDepthFailoverTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration SESSION_TIMEOUT = Duration.ofSeconds(5);
    private static final double LONGEST_PAUSE_S = SESSION_TIMEOUT.toSeconds() + 2;
    private static final int IMAGE_BYTES = 32 << 20;
    /** From starting the clients to the fault: time for 16 fio jobs to connect and run on a loaded 2-core machine. */
    private static final long WARM_UP_MS = 6000;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed run keeps the nodes' logs
    static Path dir;

    @Test
    void noClientSeesAnErrorWhenTheOwnerIsKilledThenTheNextOwnerPaused() throws Exception {
        try (LocalClusterProcesses cluster = LocalClusterProcesses.up(dir.resolve("cluster"), 3, "127.0.5")) {
            cluster.cliOk("volume", "create", "qd", "--size", "320M", "--copies", "2");
            JsonNode info = cluster.json("volume", "info", "qd", "--json");
            String owner = info.get("owner").asText();
            List<String> copies = new ArrayList<>();
            info.get("copyNodes").fieldNames().forEachRemaining(copies::add);
            String next = copies.stream().filter(n -> !n.equals(owner)).findFirst().orElseThrow();
            String forwarder = List.of("v1", "v2", "v3").stream().filter(n -> !copies.contains(n)).findFirst().orElseThrow();

            // 1. The owner is killed: one client on the node that becomes the owner (and nbdcopy,
            //    4 connections x 64 requests, copying an image again and again), one on a
            //    forwarder, and 16 more at once on the forwarder.
            Path image = dir.resolve("image");
            byte[] imageBytes = new byte[IMAGE_BYTES];
            new java.util.Random(13).nextBytes(imageBytes);
            Files.write(image, imageBytes);
            Path stop = dir.resolve("stop-copying");
            try (BackgroundProcess copying = nbdcopyUntil(stop, image, cluster.uri(next, "qd"));
                    BackgroundProcess onNext = fio(cluster, next, "qd", 64, "a", 1);
                    BackgroundProcess onForwarder = fio(cluster, forwarder, "qd", 128, "b", 1);
                    BackgroundProcess sixteen = fio(cluster, forwarder, "qd", 160, "e", 16)) {
                Thread.sleep(WARM_UP_MS);
                long killedAt = System.currentTimeMillis();
                cluster.kill(owner);
                assertClean("owner " + owner + " killed, client on " + next + " (the next owner)", onNext, "a", 1, killedAt,
                        LONGEST_PAUSE_S);
                assertClean("owner " + owner + " killed, client on " + forwarder + " (a forwarder)", onForwarder, "b", 1,
                        killedAt, LONGEST_PAUSE_S);
                assertClean("owner " + owner + " killed, 16 clients on " + forwarder, sixteen, "e", 16, killedAt,
                        LONGEST_PAUSE_S);
                Files.createFile(stop);
                assertThat(copying.exitCode(Duration.ofMinutes(2))).as("nbdcopy 4x64 on %s across the kill%s", next,
                        copying.describe()).isZero();
                System.out.println("nbdcopy copies across the kill: " + copying.stdout().strip());
                assertThat(copying.stdout().strip()).as("nbdcopy runs").isNotEqualTo("0");
            }
            try (NbdClient nbd = NbdClient.connect(address(cluster.uri(next, "qd")), "qd", Duration.ofSeconds(30))) {
                byte[] back = new byte[IMAGE_BYTES];
                nbd.read(0, back);
                assertThat(java.util.Arrays.mismatch(back, imageBytes)).as("first byte that differs from the image nbdcopy wrote")
                        .isEqualTo(-1);
            }
            assertThat(cluster.json("volume", "info", "qd", "--json").get("owner").asText()).isEqualTo(next);

            // 2. The old owner comes back; once the volume has two copies again, the owner is paused.
            cluster.restart(owner);
            Waits.until("qd healthy again", Duration.ofSeconds(120),
                    () -> cluster.json("volume", "info", "qd", "--json").get("health").asText().equals("healthy"),
                    () -> cluster.cli("volume", "info", "qd").stdout());
            String paused = cluster.json("volume", "info", "qd", "--json").get("owner").asText();
            String other = List.of("v1", "v2", "v3").stream().filter(n -> !n.equals(paused)).findFirst().orElseThrow();
            try (BackgroundProcess onRestarted = fio(cluster, owner.equals(paused) ? other : owner, "qd", 192, "c", 1);
                    BackgroundProcess onPaused = fio(cluster, paused, "qd", 256, "d", 1)) {
                Thread.sleep(WARM_UP_MS);
                long frozenAt = System.nanoTime();
                long frozenAtMs = System.currentTimeMillis();
                cluster.freeze(paused);
                double frozen;
                try {
                    Waits.until("a new owner of qd", Duration.ofSeconds(60),
                            () -> !cluster.json("volume", "info", "qd", "--json").get("owner").asText().equals(paused),
                            () -> cluster.cli("volume", "info", "qd").stdout());
                } finally {
                    cluster.thaw(paused);
                    frozen = (System.nanoTime() - frozenAt) / 1e9;
                }
                assertClean("owner " + paused + " paused, client on a forwarder", onRestarted, "c", 1, frozenAtMs,
                        LONGEST_PAUSE_S);
                // Its own node stood still as long as the test kept it frozen; once it runs again, it
                // finds its ZooKeeper session expired, opens a new one and learns the new owner.
                System.out.printf("%s was frozen %.2f s%n", paused, frozen);
                assertClean("owner " + paused + " paused, client on it (deposed when it woke)", onPaused, "d", 1, frozenAtMs,
                        frozen + 3);
            }
            assertThat(cluster.cliOk("volume", "verify", "qd").stdout()).contains("ok: all compared copies are identical");
        }
    }

    /**
     * nbdcopy of {@code image} to {@code uri} with 4 connections of 64 requests each, again and
     * again until {@code stop} exists; prints how many copies it made, fails at the first error.
     */
    private static BackgroundProcess nbdcopyUntil(Path stop, Path image, String uri) {
        String script = "n=0; while [ ! -e \"$1\" ]; do nbdcopy --connections=4 --requests=64 --flush \"$2\" \"$3\" || exit 1; "
                + "n=$((n+1)); done; echo $n";
        return Command.of("sh", "-c", script, "nbdcopy-loop", stop.toString(), image.toString(), uri).start();
    }

    private static InetSocketAddress address(String uri) {
        URI u = URI.create(uri);
        return new InetSocketAddress(u.getHost(), u.getPort());
    }

    /**
     * fio writing 24 MiB in 4 KiB blocks at random from {@code offsetMiB}, 64 requests in flight,
     * through a node's NBD endpoint, then reading every block back against its checksum; or, for
     * {@code clients} > 1, that many connections at once, each 2 MiB of its own at 4 in flight.
     * Either way its writes last about 10 s at the rate given, past the fault made
     * {@link #WARM_UP_MS} after the start.
     */
    private static BackgroundProcess fio(LocalClusterProcesses cluster, String node, String volume, int offsetMiB,
            String log, int clients) {
        List<String> args = new ArrayList<>(List.of("fio", "--name=" + node, "--ioengine=nbd",
                "--uri=" + cluster.uri(node, volume), "--rw=randwrite", "--bs=4k", "--offset=" + offsetMiB + "M",
                "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
                "--write_lat_log=" + dir.resolve(log), "--log_avg_msec=0", "--log_unix_epoch=1", "--output-format=json"));
        if (clients == 1) {
            args.addAll(List.of("--iodepth=64", "--size=24M", "--rate_iops=600"));
        } else {
            args.addAll(List.of("--numjobs=" + clients, "--group_reporting", "--iodepth=4", "--size=2M",
                    "--offset_increment=2M", "--rate_iops=50"));
        }
        return Command.of(args).start();
    }

    /**
     * The longest time, in seconds, a client waited for a write to complete: between two
     * completions (fio's log of each completion, wall-clock ms, one log per client). Each client
     * must have had a write completed before {@code faultAt} and one after.
     */
    private static double longestPause(String what, String log, int clients, long faultAt) throws java.io.IOException {
        long worst = 0;
        for (int c = 1; c <= clients; c++) {
            long[] times = Files.readAllLines(dir.resolve(log + "_clat." + c + ".log")).stream()
                    .map(l -> l.split(",\\s*")).filter(f -> f[2].equals("1")).mapToLong(f -> Long.parseLong(f[0]))
                    .sorted().toArray();
            assertThat(times).as("client %d, %s: writes completed before the fault (ms since it: %s)", c, what,
                    times.length == 0 ? "none" : times[0] - faultAt).isNotEmpty();
            assertThat(times[0]).as("client %d, %s: its first write completed before the fault, ms since it", c, what)
                    .isLessThan(faultAt);
            assertThat(times[times.length - 1]).as("client %d, %s: its last write completed after the fault", c, what)
                    .isGreaterThan(faultAt);
            long longest = 0;
            for (int i = 1; i < times.length; i++) {
                longest = Math.max(longest, times[i] - times[i - 1]);
            }
            worst = Math.max(worst, longest);
        }
        return worst / 1000.0;
    }

    private static void assertClean(String what, BackgroundProcess fio, String log, int clients, long faultAt,
            double longestPause) throws Exception {
        assertThat(fio.exitCode(Duration.ofMinutes(3))).as("fio exit status, %s%s", what, fio.describe()).isZero();
        String out = fio.stdout();
        JsonNode job = JSON.readTree(out.substring(out.indexOf('{'))).get("jobs").get(0);
        assertThat(job.get("error").asInt()).as("fio error, %s%s", what, fio.describe()).isZero();
        long bytes = clients == 1 ? 24L << 20 : clients * (2L << 20);
        assertThat(job.get("write").get("io_bytes").asLong()).as("bytes written, %s", what).isEqualTo(bytes);
        assertThat(job.get("read").get("io_bytes").asLong()).as("bytes read back and verified, %s", what).isEqualTo(bytes);
        double longestWrite = job.get("write").get("clat_ns").get("max").asDouble() / 1e9;
        double pause = longestPause(what, log, clients, faultAt);
        System.out.printf("%s: longest pause %.2f s, longest write %.2f s%n", what, pause, longestWrite);
        assertThat(pause).as("longest pause (s) without a write completing, %s", what).isLessThanOrEqualTo(longestPause);
    }
}
