package io.hablock.cli.acceptance.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.opentest4j.AssertionFailedError;

/**
 * An external command to run, built fluently:
 * {@code Command.of("nbdinfo", "--size", uri).timeout(Duration.ofSeconds(30)).run()}.
 *
 * <p>Commands run with a fixed system {@code PATH} ({@link #SYSTEM_PATH}), so Debian's tools
 * are found and Debian's {@code python3} (the one with the {@code nbd} module) comes before any
 * pyenv shim. Every run has a timeout; a command that overruns it is killed and the test fails
 * with its output.
 */
public final class Command {
    /** The PATH every command gets. */
    public static final String SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private final List<String> argv;
    private final Map<String, String> env = new LinkedHashMap<>(Map.of("PATH", SYSTEM_PATH));
    private Duration timeout = DEFAULT_TIMEOUT;

    private Command(List<String> argv) {
        this.argv = List.copyOf(argv);
    }

    public static Command of(String... argv) {
        return new Command(List.of(argv));
    }

    public static Command of(List<String> argv) {
        return new Command(argv);
    }

    /** How long {@link #run()} waits before it kills the command and fails. */
    public Command timeout(Duration limit) {
        this.timeout = limit;
        return this;
    }

    public Command env(String name, String value) {
        env.put(name, value);
        return this;
    }

    public List<String> argv() {
        return argv;
    }

    /** Runs to completion (stdin is empty) and returns how it ended, whatever the exit status. */
    public CommandResult run() {
        long start = System.nanoTime();
        try (BackgroundProcess p = start()) {
            p.closeStdin();
            if (!p.waitFor(timeout)) {
                p.killTree();
                throw new AssertionFailedError("command timed out after " + timeout.toSeconds() + " s" + p.describe());
            }
            return p.result(Duration.ofNanos(System.nanoTime() - start));
        }
    }

    /** Runs to completion and asserts exit status 0, showing the output otherwise. */
    public CommandResult runOk() {
        CommandResult r = run();
        assertThat(r.exitCode()).as("exit status of %s", r.describe()).isZero();
        return r;
    }

    /** Starts the command in the background; close the result to stop it. */
    public BackgroundProcess start() {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(argv));
        pb.environment().putAll(env);
        try {
            return new BackgroundProcess(argv, pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", argv), e);
        }
    }

    /** Waits for a process, treating interruption as a test failure. */
    static boolean waitFor(Process process, Duration limit) {
        try {
            return process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionFailedError("interrupted while waiting for a process");
        }
    }
}
