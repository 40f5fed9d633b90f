package io.hablock.nbd;

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
 * The NBD server serves any {@link BlockDevice} and knows none of our other modules
 * (ARCHITECTURE.md's module table): neither its code nor its build may reach them. Its tests may,
 * to serve real files.
 */
class ModuleBoundaryTest {
    /** An import or a qualified name from another module. */
    private static final Pattern OTHER_MODULE = Pattern.compile("\\bio\\.hablock\\.(blockstore|nativeio|cluster|cli)\\.[\\w.]*");
    private static final Pattern DEPENDENCY = Pattern.compile("(?s)<dependency>(.*?)</dependency>");

    @Test
    void mainCodeNamesNoOtherModule() throws IOException {
        List<String> offences;
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            offences = files.filter(f -> f.toString().endsWith(".java")).flatMap(ModuleBoundaryTest::uses).toList();
        }
        assertThat(offences).isEmpty();
    }

    @Test
    void buildDependsOnOtherModulesOnlyForTests() throws IOException {
        Matcher m = DEPENDENCY.matcher(Files.readString(Path.of("pom.xml")));
        int ours = 0;
        while (m.find()) {
            String dependency = m.group(1);
            if (dependency.contains("<groupId>io.hablock</groupId>")) {
                ours++;
                assertThat(dependency).as("a dependency on one of our modules").contains("<scope>test</scope>");
            }
        }
        assertThat(ours).as("the test dependency on blockstore is there (else this test checks nothing)").isPositive();
    }

    private static Stream<String> uses(Path file) {
        try {
            Matcher m = OTHER_MODULE.matcher(Files.readString(file));
            return m.results().map(r -> file + ": " + r.group()).toList().stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
