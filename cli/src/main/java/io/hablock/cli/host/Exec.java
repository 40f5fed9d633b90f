package io.hablock.cli.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the host's tools (mount, mkfs, losetup, nbdfuse...) and turns their failures into one-line errors. */
final class Exec {
    static final Duration TIMEOUT = Duration.ofMinutes(10);

    private Exec() {
    }

    record Result(int exit, String stdout, String stderr) {
        boolean ok() {
            return exit == 0;
        }

        /** The last non-blank line of stderr (or stdout): the tool's own explanation. */
        String reason() {
            String text = stderr.isBlank() ? stdout : stderr;
            return text.lines().filter(l -> !l.isBlank()).reduce((a, b) -> b).orElse("exit status " + exit).strip();
        }
    }

    /** Fails with "TOOL not found: apt-get install PACKAGE" when {@code tool} is not on the PATH. */
    static void require(String tool, String debianPackage) throws IOException {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return;
            }
        }
        throw new IOException(tool + " not found: apt-get install " + debianPackage);
    }

    static Result run(List<String> argv) throws IOException {
        Path out = Files.createTempFile("hablock-exec", ".out");
        Path err = Files.createTempFile("hablock-exec", ".err");
        try {
            Process p = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException(argv.get(0) + " did not finish within " + TIMEOUT.toMinutes() + " min");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + argv.get(0), e);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Runs and returns stdout; a failure becomes "WHAT: the tool's last error line". */
    static String runOk(String what, List<String> argv) throws IOException {
        Result r = run(argv);
        if (!r.ok()) {
            throw new IOException(what + ": " + r.reason());
        }
        return r.stdout();
    }
}
