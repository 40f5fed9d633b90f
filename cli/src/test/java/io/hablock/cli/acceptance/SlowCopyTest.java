package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.hablock.cli.acceptance.support.BackgroundProcess;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.LocalClusterProcesses;
import io.hablock.nbd.client.NbdClient;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A copy that stops answering holds no thread of the owner. fio keeps 128 writes in flight on a
 * 2-copy volume when the other copy's node is paused (SIGSTOP): every write waits for that copy
 * until the replication timeout (5 s) takes it out of sync. Meanwhile a read of the same volume
 * on a new connection is answered at once, and so is a FUA write to another volume of the owner.
 *
 * <p>Before replicated changes were asynchronous, each one held one of the owner's 16 I/O
 * workers until every copy answered: the read and the write queued behind them for the whole
 * replication timeout.
 */
class SlowCopyTest {
    @TempDir
    static Path dir;

    @Test
    void writesWaitingForAPausedCopyHoldNoThreadOfTheOwner() throws Exception {
        try (LocalClusterProcesses cluster = LocalClusterProcesses.up(dir.resolve("cluster"), 2, "127.0.8")) {
            cluster.cliOk("volume", "create", "slow", "--size", "64M", "--copies", "2");
            JsonNode info = cluster.json("volume", "info", "slow", "--json");
            String owner = info.get("owner").asText();
            String copy = owner.equals("v1") ? "v2" : "v1";
            String other = null; // a lone volume of the same owner: placement decides, so try a few
            for (int i = 0; i < 4 && other == null; i++) {
                cluster.cliOk("volume", "create", "other" + i, "--size", "16M");
                if (cluster.json("volume", "info", "other" + i, "--json").get("owner").asText().equals(owner)) {
                    other = "other" + i;
                }
            }
            assertThat(other).as("a 1-copy volume placed on %s", owner).isNotNull();
            InetSocketAddress ownerNbd = new InetSocketAddress("127.0.8." + (10 + Integer.parseInt(owner.substring(1))), 10809);

            try (BackgroundProcess fio = fio(cluster.uri(owner, "slow"));
                    NbdClient slow = NbdClient.connect(ownerNbd, "slow", Duration.ofSeconds(30));
                    NbdClient lone = NbdClient.connect(ownerNbd, other, Duration.ofSeconds(30))) {
                Thread.sleep(2000); // fio's writes flow
                cluster.freeze(copy);
                try {
                    Thread.sleep(1500); // every write in flight now waits for the paused copy
                    assertThat(fio.isAlive()).as("fio still writing%s", fio.describe()).isTrue();
                    long start = System.nanoTime();
                    slow.read(32L << 20, new byte[4096]);
                    double read = (System.nanoTime() - start) / 1e9;
                    start = System.nanoTime();
                    lone.write(0, new byte[4096], 0, 4096, true);
                    double write = (System.nanoTime() - start) / 1e9;
                    System.out.printf("while %s was paused: read of slow %.3f s, FUA write of %s %.3f s%n", copy, read,
                            other, write);
                    assertThat(read).as("seconds to read slow while its writes wait for a paused copy").isLessThan(1.0);
                    assertThat(write).as("seconds to write a lone volume while slow's writes wait for a paused copy").isLessThan(1.0);
                } finally {
                    cluster.thaw(copy);
                }
                assertThat(fio.exitCode(Duration.ofMinutes(2))).as("fio exit status%s", fio.describe()).isZero();
            }
        }
    }

    /** fio keeping 128 random 4 KiB writes in flight for 10 s: past the pause and the 5 s replication timeout. */
    private static BackgroundProcess fio(String uri) {
        List<String> args = new ArrayList<>(List.of("fio", "--name=slow", "--ioengine=nbd", "--uri=" + uri,
                "--rw=randwrite", "--bs=4k", "--size=32M", "--iodepth=128", "--time_based", "--runtime=10",
                "--output-format=json"));
        return Command.of(args).start();
    }
}
