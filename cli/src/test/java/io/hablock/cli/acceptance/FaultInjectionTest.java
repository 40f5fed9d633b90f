package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.acceptance.fault.FaultCheck;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault-injection checker, short run: ZooKeeper and three nodes in network namespaces, a
 * client writing versioned blocks through the owner, and three faults: the owner killed (then
 * restarted), the owner cut off (its link down, then up), a copy cut off. After each: nothing
 * acknowledged lost, no read back in time, the old owner refuses writes and answers no read
 * with old data on a connection opened before the fault, no epoch had two owners,
 * {@code volume verify} passes. Needs root (CI runs as root). The other kinds (a copy or the
 * controller killed, pauses, ZooKeeper-only cuts, kills at the end of a rebuild) and long random
 * runs: {@code bench/faultcheck.sh}.
 */
class FaultInjectionTest {
    @TempDir
    Path dir;

    @Test
    void noAcknowledgedWriteIsLostAndNoOldOwnerAcceptsWritesUnderFaults() throws Exception {
        Path run = dir.resolve("faultcheck");
        CommandResult r;
        try {
            r = Command.of(FaultCheck.command(run, List.of("--cycles", "3", "--order", "sequence", "--light",
                    "--faults", "kill-owner,cut-owner,cut-copy")))
                    .timeout(Duration.ofSeconds(170)).run();
        } finally {
            FaultCheck.cleanup(run); // also when the run was killed at the timeout
        }

        System.out.println(r.stdout());
        String last = r.stdout().lines().filter(l -> l.startsWith(FaultCheck.SUMMARY_PREFIX)).reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError("no summary" + r.describe()));
        JsonNode s = new ObjectMapper().readTree(last.substring(FaultCheck.SUMMARY_PREFIX.length()));
        assertThat(s.get("faults").asInt()).as(r.describe()).isEqualTo(3);
        assertThat(s.get("acknowledgedWrites").asLong()).as(r.describe()).isGreaterThan(1000);
        assertThat(s.get("lostWrites").asLong()).as(r.describe()).isZero();
        assertThat(s.get("staleReads").asLong()).as(r.describe()).isZero();
        assertThat(s.get("corruptBlocks").asLong()).as(r.describe()).isZero();
        assertThat(s.get("doubleOwners").asLong()).as(r.describe()).isZero();
        assertThat(s.get("staleReadsFromOldOwner").asLong()).as(r.describe()).isZero();
        assertThat(s.get("oldOwnerReads").get("sent").asLong()).as(r.describe()).isPositive();
        assertThat(s.get("epochsWithTwoOwners").asLong()).as(r.describe()).isZero();
        assertThat(s.get("ownerChangesByEpoch").asLong()).as(r.describe()).isGreaterThanOrEqualTo(2);
        assertThat(s.get("verifyFailures").asLong()).as(r.describe()).isZero();
        assertThat(s.get("problems")).as(r.describe()).isEmpty();
        assertThat(s.get("failoverSeconds").get("count").asInt()).as(r.describe()).isGreaterThanOrEqualTo(2);
        assertThat(r.stdout()).containsPattern("fault 1 kill-owner v\\d.*: failover \\d+\\.\\d+ s -> owner v\\d epoch \\d+")
                .containsPattern("fault 2 cut-owner v\\d.*: failover \\d+\\.\\d+ s");
        assertThat(r.exitCode()).as(r.describe()).isZero();
    }
}
