package io.hablock.cli.acceptance.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code qemu-io -f raw URI -c ... -c ...}: one connection, the commands in order. Pattern
 * reads ({@code read -P 0xab OFF LEN}) make qemu-io check the data itself.
 */
public final class QemuIo {
    /** What qemu-io prints when a pattern read finds other data. */
    public static final String MISMATCH = "Pattern verification failed";

    private QemuIo() {
    }

    public static CommandResult run(String uri, List<String> commands) {
        List<String> argv = new ArrayList<>(List.of("qemu-io", "-f", "raw", uri));
        for (String c : commands) {
            argv.add("-c");
            argv.add(c);
        }
        return Command.of(argv).timeout(Duration.ofSeconds(120)).run();
    }

    /** Runs the commands and asserts that all succeeded and every pattern matched. */
    public static CommandResult verify(String uri, List<String> commands) {
        CommandResult r = run(uri, commands);
        assertThat(r.exitCode()).as("qemu-io exit status%s", r.describe()).isZero();
        assertThat(r.stdout() + r.stderr()).as("qemu-io output%s", r.describe()).doesNotContain(MISMATCH);
        return r;
    }

    public static String write(int pattern, long offset, long length) {
        return String.format("write -P 0x%02x %d %d", pattern, offset, length);
    }

    public static String read(int pattern, long offset, long length) {
        return String.format("read -P 0x%02x %d %d", pattern, offset, length);
    }
}
