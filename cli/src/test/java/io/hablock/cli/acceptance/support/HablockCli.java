package io.hablock.cli.acceptance.support;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code hablock} command line as a user runs it: a JVM of its own
 * ({@code java -cp <java.class.path> io.hablock.cli.Main ...}), so exit status, stdout and
 * stderr are exactly what a shell would see.
 */
public final class HablockCli {
    private HablockCli() {
    }

    public static CommandResult run(String... args) {
        return run(List.of(args));
    }

    public static CommandResult run(List<String> args) {
        return Command.of(argv(args)).timeout(Duration.ofSeconds(60)).run();
    }

    /** The command line that runs {@code hablock ARGS}, for a process the test starts itself. */
    public static List<String> argv(List<String> args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // A short-lived client: C1 only starts faster.
        List<String> argv = new ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", System.getProperty("java.class.path"), "io.hablock.cli.Main"));
        argv.addAll(args);
        return argv;
    }
}
