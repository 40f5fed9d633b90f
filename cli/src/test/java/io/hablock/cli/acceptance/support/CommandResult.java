package io.hablock.cli.acceptance.support;

import java.time.Duration;
import java.util.List;

/**
 * How one external command ended: exit status and everything it printed. {@link #describe()}
 * is meant for assertion messages, so a failure shows what the command said.
 */
public record CommandResult(List<String> command, int exitCode, String stdout, String stderr, Duration elapsed) {

    /** Most characters of each stream shown by {@link #describe()}; the end is kept. */
    private static final int SHOWN = 12_000;

    public boolean succeeded() {
        return exitCode == 0;
    }

    /** The lines of stderr, without a trailing empty one. */
    public List<String> stderrLines() {
        return stderr.lines().toList();
    }

    /** The command line, exit status, time taken and both streams, for an assertion message. */
    public String describe() {
        return describe(command, "exit status " + exitCode + " after " + elapsed.toMillis() + " ms", stdout, stderr);
    }

    static String describe(List<String> command, String status, String stdout, String stderr) {
        return "\n$ " + String.join(" ", command) + "\n" + status
                + "\n--- stdout ---\n" + tail(stdout) + "\n--- stderr ---\n" + tail(stderr) + "\n--- end ---";
    }

    private static String tail(String text) {
        return text.length() <= SHOWN ? text : "[... " + (text.length() - SHOWN) + " chars cut ...]"
                + text.substring(text.length() - SHOWN);
    }
}
