package io.hablock.nbd.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a real client program (nbdinfo, qemu-io, fio) to its end and keeps what it printed. */
public final class Tool {
    private static final long TIMEOUT_SECONDS = 60;

    private Tool() {
    }

    /** Exit status and output (stdout and stderr together). */
    public record Result(int exit, String output) {
    }

    public static Result run(String... command) throws IOException, InterruptedException {
        return run(List.of(command));
    }

    public static Result run(List<String> command) throws IOException, InterruptedException {
        return run(command, java.util.Map.of());
    }

    /** Runs {@code command} with {@code environment} added to this process's. */
    public static Result run(List<String> command, java.util.Map<String, String> environment)
            throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        builder.environment().putAll(environment);
        Process process = builder.start();
        CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(command.get(0) + " did not finish in " + TIMEOUT_SECONDS + " s");
        }
        return new Result(process.exitValue(), output.join());
    }
}
