package io.hablock.cli.acceptance.support;

import io.hablock.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code hablock} command line run in the test's own JVM, for the queries a test polls
 * ({@code volume info --json}, {@code node ls --json}): the same code and output as
 * {@link HablockCli}, without a JVM start per poll, which on a 2-core machine would take a core
 * from the nodes under test for as long as the wait lasts. Tests that check what a user sees of
 * a command (exit status, messages) run it as a process of its own.
 *
 * <p>Stdout and stderr are captured per thread: {@link System#out} and {@link System#err} are
 * replaced, once, by streams that send what the calling thread prints into its buffers and
 * everything else where it went before (logs go to stderr through the logging framework, which
 * looks the stream up on each write).
 */
public final class InProcessCli {
    private static final ThreadLocal<ByteArrayOutputStream> OUT = new ThreadLocal<>();
    private static final ThreadLocal<ByteArrayOutputStream> ERR = new ThreadLocal<>();

    static {
        System.setOut(new PrintStream(new Routed(System.out, OUT), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new Routed(System.err, ERR), true, StandardCharsets.UTF_8));
    }

    private InProcessCli() {
    }

    /** Runs {@code hablock ARGS} here and returns how it ended. */
    public static CommandResult run(List<String> args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        OUT.set(out);
        ERR.set(err);
        long start = System.nanoTime();
        int exit;
        try {
            exit = Main.run(args.toArray(String[]::new));
            System.out.flush();
            System.err.flush();
        } finally {
            OUT.remove();
            ERR.remove();
        }
        List<String> command = new ArrayList<>(List.of("hablock"));
        command.addAll(args);
        return new CommandResult(command, exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
                Duration.ofNanos(System.nanoTime() - start));
    }

    /** Writes to the calling thread's buffer when it has one, else to {@code fallback}. */
    private static final class Routed extends OutputStream {
        private final PrintStream fallback;
        private final ThreadLocal<ByteArrayOutputStream> buffer;

        Routed(PrintStream fallback, ThreadLocal<ByteArrayOutputStream> buffer) {
            this.fallback = fallback;
            this.buffer = buffer;
        }

        private OutputStream target() {
            ByteArrayOutputStream b = buffer.get();
            return b != null ? b : fallback;
        }

        @Override
        public void write(int b) throws IOException {
            target().write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            target().write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            target().flush();
        }
    }
}
