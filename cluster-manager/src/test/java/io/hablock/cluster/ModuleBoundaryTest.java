package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The cluster knows NBD only through the device API ({@code io.hablock.nbd}: {@code BlockDevice},
 * {@code DeviceError}, the clients and the server as a whole), never the wire format of
 * {@code io.hablock.nbd.protocol} (ARCHITECTURE.md's module table), nor the command line above it.
 */
class ModuleBoundaryTest {
    /** An import or a qualified name from the wire format or the command line. */
    private static final Pattern FORBIDDEN = Pattern.compile("\\bio\\.hablock\\.(nbd\\.protocol|cli)\\.[\\w.]*");

    @Test
    void mainCodeNamesNoWireFormat() throws IOException {
        List<String> offences;
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            offences = files.filter(f -> f.toString().endsWith(".java")).flatMap(ModuleBoundaryTest::uses).toList();
        }
        assertThat(offences).isEmpty();
    }

    private static Stream<String> uses(Path file) {
        try {
            Matcher m = FORBIDDEN.matcher(Files.readString(file));
            return m.results().map(r -> file + ": " + r.group()).toList().stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
