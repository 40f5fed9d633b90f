package io.hablock.cli.acceptance.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import org.opentest4j.AssertionFailedError;

/**
 * A running external process whose stdout and stderr are captured as they come, so a test can
 * wait for something to be printed. {@link #close()} stops it (SIGTERM, then SIGKILL) if it is
 * still running, together with any children it started.
 */
public final class BackgroundProcess implements AutoCloseable {
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);

    private final List<String> command;
    private final Process process;
    private final StringBuffer stdout = new StringBuffer();
    private final StringBuffer stderr = new StringBuffer();
    private final Thread stdoutPump;
    private final Thread stderrPump;

    BackgroundProcess(List<String> command, Process process) {
        this.command = command;
        this.process = process;
        this.stdoutPump = pump(process.getInputStream(), stdout, "stdout");
        this.stderrPump = pump(process.getErrorStream(), stderr, "stderr");
    }

    private Thread pump(InputStream in, StringBuffer into, String stream) {
        Thread t = new Thread(() -> {
            try (Reader r = new InputStreamReader(in, StandardCharsets.UTF_8)) {
                char[] buf = new char[8192];
                for (int n; (n = r.read(buf)) >= 0; ) {
                    into.append(buf, 0, n);
                }
            } catch (IOException e) {
                into.append("\n[reading ").append(stream).append(" failed: ").append(e).append("]\n");
            }
        }, "pump-" + stream + "-" + process.pid());
        t.setDaemon(true);
        t.start();
        return t;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public String stdout() {
        return stdout.toString();
    }

    public String stderr() {
        return stderr.toString();
    }

    /** Closes the process's stdin: a command that reads it until the end then goes on. */
    public void closeStdin() {
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            // already gone: nothing to close
        }
    }

    /** Whether the process exited within {@code limit}. */
    public boolean waitFor(Duration limit) {
        return Command.waitFor(process, limit);
    }

    /**
     * The exit status; fails the test if the process has not exited within {@code limit}. Once
     * it returns, {@link #stdout()} and {@link #stderr()} hold all the process wrote (the pumps
     * may still be copying its last lines when it exits).
     */
    public int exitCode(Duration limit) {
        if (!waitFor(limit)) {
            throw new AssertionFailedError("process still running after " + limit.toSeconds() + " s" + describe());
        }
        joinPumps();
        return process.exitValue();
    }

    /** Waits until stdout or stderr satisfies {@code condition}; fails early if the process exits. */
    public void awaitOutput(String what, Duration limit, Predicate<String> condition) {
        Waits.until(what + " from " + command.get(0), limit, () -> condition.test(stdout() + stderr()),
                this::describe, () -> !isAlive() && !condition.test(stdout() + stderr()));
    }

    /** Waits until stdout or stderr contains {@code text}. */
    public void awaitOutput(String text, Duration limit) {
        awaitOutput("'" + text + "'", limit, s -> s.contains(text));
    }

    /** Sends SIGTERM and returns the exit status; fails if it takes longer than {@code limit}. */
    public int terminate(Duration limit) {
        // Through the handle: Process.destroy() would also close the pipes and lose the last output.
        process.toHandle().destroy();
        return exitCode(limit);
    }

    /** Sends SIGKILL to the process (not its children) and returns the exit status. */
    public int kill() {
        process.toHandle().destroyForcibly();
        return exitCode(STOP_GRACE);
    }

    /** SIGKILL to the process and everything it started. */
    void killTree() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.toHandle().destroyForcibly();
        waitFor(STOP_GRACE);
    }

    /** The finished process as a result; call only once it has exited. */
    CommandResult result(Duration elapsed) {
        joinPumps();
        return new CommandResult(command, process.exitValue(), stdout(), stderr(), elapsed);
    }

    private void joinPumps() {
        try {
            // A grandchild may still hold the pipes open: do not wait for it forever.
            stdoutPump.join(STOP_GRACE.toMillis());
            stderrPump.join(STOP_GRACE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The command and what it printed so far, for an assertion message. */
    public String describe() {
        String status = process.isAlive() ? "still running (pid " + process.pid() + ")"
                : "exit status " + process.exitValue();
        return CommandResult.describe(command, status, stdout(), stderr());
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            List<ProcessHandle> children = process.descendants().toList();
            process.toHandle().destroy();
            if (!waitFor(STOP_GRACE)) {
                process.toHandle().destroyForcibly();
                waitFor(STOP_GRACE);
            }
            children.forEach(ProcessHandle::destroyForcibly);
        }
        closeStdin();
        joinPumps();
    }
}
