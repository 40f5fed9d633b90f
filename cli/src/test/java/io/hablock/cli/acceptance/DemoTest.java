package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.BackgroundProcess;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.FreePorts;
import io.hablock.cli.acceptance.support.HablockCli;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code hablock demo} as a user runs it, in a JVM of its own: the whole story with real node
 * processes, then nothing left behind; refused up front when a port is taken; and interrupted
 * halfway, still nothing left behind. Its nodes listen on 127.0.5.11-14 (other tests use
 * 127.0.0.11-13, a user's demo 127.0.3.11-14) and its ZooKeeper on a free port.
 */
class DemoTest {
    private static final String IP_BASE = "127.0.5.10";
    private static final Pattern DIR = Pattern.compile("data and logs in (\\S+)");
    private static final Pattern FAILOVER = Pattern.compile("the first 1 MiB read through it matches \\(([0-9.]+) s after the kill");

    private static List<String> demo(String... extra) {
        List<String> args = new ArrayList<>(List.of("demo", "--ip-base", IP_BASE));
        args.addAll(List.of(extra));
        return HablockCli.argv(args);
    }

    @Test
    void theWholeStoryInUnderTwoMinutesAndNothingLeftBehind() {
        CommandResult r = Command.of(demo("--zk-port", String.valueOf(FreePorts.next())))
                .timeout(Duration.ofMinutes(3)).run();

        assertThat(r.exitCode()).as("demo%s", r.describe()).isZero();
        String out = r.stdout();
        assertThat(out).as(r.describe())
                .contains("local cluster up: 4 node(s)")
                .containsPattern("v\\d does not own wp_mysql-data \\(v\\d does\\): it forwards every request to the owner")
                .containsPattern("wrote and flushed [0-9.]+[KMGT] \\(generation 2\\) through v\\d without an error")
                .containsPattern("application +no I/O error writing through v\\d's host endpoint")
                .containsPattern("killed v\\d \\(pid \\d+\\)")
                .containsPattern("v\\d is in maintenance")
                .containsPattern("(?m)^v\\d\\s+127\\.0\\.5\\.1\\d\\s+\\S+\\s+\\S+\\s+maintenance")
                .containsPattern("rebuild completed: wp_mysql-data on v\\d: [0-9.]+ MiB in [0-9.]+ s \\([0-9.]+ MB/s\\)")
                .containsPattern("v\\d is back: status normal")
                .containsPattern("failover completed: volume wp_mysql-data \\(vd2\\) now owned by node v\\d")
                .contains("portainer: 1024 blocks (64M) read through", "wp_mysql-data: 1024 blocks (64M) read through")
                .contains("ok: all compared copies are identical (20G)", "ok: all compared copies are identical (10G)")
                .contains("  no acknowledged write lost", "0 failed")
                .contains("cleaned up: 5 process(es) stopped");
        assertThat(out.lines().reduce((a, b) -> b).orElse("")).startsWith("demo passed in ");
        assertThat(r.stderr()).as("stderr").isEmpty();

        Matcher failover = FAILOVER.matcher(out);
        assertThat(failover.find()).isTrue();
        assertThat(Double.parseDouble(failover.group(1))).as("failover time: session timeout 5 s + at most 2 s")
                .isLessThanOrEqualTo(7.0);
        assertNothingLeftBehind(out);
        assertThat(r.elapsed()).isLessThan(Duration.ofMinutes(2));
    }

    @Test
    void aTakenPortIsRefusedInOneLine() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CommandResult r = Command.of(demo("--zk-port", String.valueOf(taken.getLocalPort()))).run();

            assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
            assertThat(r.stderrLines()).containsExactly("error: 127.0.0.1:" + taken.getLocalPort()
                    + " is in use (choose another --zk-port)");
            assertThat(r.stdout()).isEmpty();
        }
    }

    @Test
    void interruptedHalfwayItStillStopsEverything() {
        try (BackgroundProcess p = Command.of(demo("--zk-port", String.valueOf(FreePorts.next()))).start()) {
            p.awaitOutput("== 2. Create the volumes", Duration.ofSeconds(90));
            p.terminate(Duration.ofSeconds(60));

            assertThat(p.stdout()).as(p.describe()).contains("interrupted: stopping the demo cluster")
                    .contains("cleaned up: 5 process(es) stopped");
            assertNothingLeftBehind(p.stdout());
        }
    }

    /** The demo's temporary directory is gone and no process runs from it. */
    private static void assertNothingLeftBehind(String out) {
        Matcher m = DIR.matcher(out);
        assertThat(m.find()).as("the demo names its directory").isTrue();
        String dir = m.group(1);
        assertThat(Path.of(dir)).as("the demo's directory").matches(p -> !Files.exists(p), "does not exist");
        assertThat(ProcessHandle.allProcesses().filter(h -> h.info().commandLine().orElse("").contains(dir)).toList())
                .as("processes still running from " + dir).isEmpty();
    }
}
