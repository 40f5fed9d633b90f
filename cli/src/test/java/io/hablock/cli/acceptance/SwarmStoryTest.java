package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.DockerEngine;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The walkthrough's failure story on a real Docker Swarm ({@code bench/swarm-demo.sh}, 3 engines
 * in network namespaces, each with a hablock node and its plugin): the node running wp_db is
 * power-cycled, Swarm runs wp_db again on another node, its volume follows, the node comes back,
 * and not one record wp_db's MariaDB database committed (InnoDB, flushed at each commit) is
 * missing, the table intact.
 */
class SwarmStoryTest {
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    @Timeout(value = 9, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aPowerCycledNodesDatabaseRunsAgainElsewhereWithEveryAcknowledgedRecord() {
        DockerEngine.mountCgroupsIfMissing();
        Path script = Path.of("").toAbsolutePath().getParent().resolve("bench/swarm-demo.sh");
        CommandResult r = Command.of(script.toString(), "--nodes", "3", "--run-seconds", "10", "--subnet", "10.78.0",
                "--dir", dir.resolve("swarm").toString(), "--classpath", System.getProperty("java.class.path"))
                .timeout(Duration.ofMinutes(8)).run();
        System.out.println(r.stdout());
        assertThat(r.exitCode()).as(r.describe()).isZero();
        assertThat(r.stdout()).contains("missing or corrupt: 0").contains("PASS: no acknowledged record lost")
                .containsPattern("'CHECK TABLE wp.r EXTENDED': OK|'PRAGMA integrity_check': ok")
                .containsPattern("wp_db's database committing again \\d+\\.\\d s after the power cycle")
                .containsPattern("wp_db running again on sw\\d \\d+\\.\\d s after the power cycle")
                .containsPattern("wp_db on sw\\d went on from record \\d+")
                .contains("failover completed").contains("locality rebuild completed");
    }
}
