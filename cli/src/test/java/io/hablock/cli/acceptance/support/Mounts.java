package io.hablock.cli.acceptance.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the kernel has mounted, from {@code /proc/self/mountinfo}. */
public final class Mounts {
    private Mounts() {
    }

    public static boolean isMounted(Path dir) {
        String target = dir.toAbsolutePath().normalize().toString();
        try {
            // Field 5 is the mount point, with spaces and the like escaped as octal.
            return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                    .map(line -> line.split(" ")[4].replace("\\040", " "))
                    .anyMatch(target::equals);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
