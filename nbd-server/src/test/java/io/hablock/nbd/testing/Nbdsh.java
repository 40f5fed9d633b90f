package io.hablock.nbd.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs a Python script in libnbd's {@code nbdsh} (Debian package python3-libnbd), the real
 * client used to cross-check what the raw test client cannot judge alone.
 */
public final class Nbdsh {
    private static final long TIMEOUT_SECONDS = 30;

    private Nbdsh() {
    }

    /**
     * Runs {@code script} with the handle {@code h} and the module {@code nbd} in scope. Each
     * line the script prints as {@code key value...} becomes one map entry. Fails the test on a
     * non-zero exit, with everything the script printed.
     */
    public static Map<String, String> run(String script) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder("nbdsh", "-c", script).redirectErrorStream(true);
        // nbdsh runs "python3" from PATH; only Debian's python3 has the nbd module (a pyenv one may come first).
        builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
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
            throw new AssertionError("nbdsh did not finish in " + TIMEOUT_SECONDS + " s");
        }
        String text;
        try {
            text = output.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new AssertionError("cannot read the output of nbdsh", e);
        }
        assertThat(process.exitValue()).as("nbdsh exit status; output:%n%s", text).isZero();
        Map<String, String> results = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int space = line.indexOf(' ');
            if (space > 0) {
                results.put(line.substring(0, space), line.substring(space + 1).strip());
            }
        }
        return results;
    }
}
