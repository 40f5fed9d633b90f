package io.hablock.cli.acceptance.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** A file system image mounted with {@code mount -o loop}; {@link #close()} unmounts it. */
public final class LoopMount implements AutoCloseable {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final Path dir;

    private LoopMount(Path dir) {
        this.dir = dir;
    }

    public static LoopMount mount(Path image, Path dir) throws IOException {
        Files.createDirectories(dir);
        Command.of("mount", "-o", "loop", image.toString(), dir.toString()).timeout(TIMEOUT).runOk();
        return new LoopMount(dir);
    }

    public Path dir() {
        return dir;
    }

    /** Unmounts, failing the test if that does not work (a clean unmount is part of the checks). */
    public void unmount() {
        Command.of("umount", dir.toString()).timeout(TIMEOUT).runOk();
    }

    /** Unmounts if still mounted, lazily if need be: for cleanup after a failure. */
    @Override
    public void close() {
        if (Mounts.isMounted(dir) && !Command.of("umount", dir.toString()).timeout(TIMEOUT).run().succeeded()) {
            Command.of("umount", "-l", dir.toString()).timeout(TIMEOUT).run();
        }
    }
}
