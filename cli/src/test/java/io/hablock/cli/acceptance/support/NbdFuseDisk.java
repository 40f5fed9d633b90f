package io.hablock.cli.acceptance.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * An NBD export seen as a file through {@code nbdfuse DIR/disk URI} (no kernel NBD module
 * needed). {@link #close()} unmounts the FUSE directory, which ends nbdfuse.
 */
public final class NbdFuseDisk implements AutoCloseable {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final Path dir;
    private final BackgroundProcess nbdfuse;

    private NbdFuseDisk(Path dir, BackgroundProcess nbdfuse) {
        this.dir = dir;
        this.nbdfuse = nbdfuse;
    }

    /** Mounts {@code uri} as {@code dir/disk} and waits until the file has the export's size. */
    public static NbdFuseDisk attach(Path dir, String uri, long expectedSize) throws IOException {
        Files.createDirectories(dir);
        Path disk = dir.resolve("disk");
        NbdFuseDisk fuse = new NbdFuseDisk(dir, Command.of("nbdfuse", disk.toString(), uri).start());
        try {
            Waits.until(disk + " to appear", TIMEOUT, () -> sizeOf(disk) == expectedSize,
                    fuse.nbdfuse::describe, () -> !fuse.nbdfuse.isAlive());
        } catch (RuntimeException | Error e) {
            fuse.close();
            throw e;
        }
        return fuse;
    }

    private static long sizeOf(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.size(file) : -1;
        } catch (IOException e) {
            return -1;
        }
    }

    /** The file that is the export. */
    public Path disk() {
        return dir.resolve("disk");
    }

    public String describe() {
        return nbdfuse.describe();
    }

    @Override
    public void close() {
        if (Mounts.isMounted(dir)) {
            CommandResult r = Command.of("fusermount3", "-u", dir.toString()).timeout(TIMEOUT).run();
            if (!r.succeeded()) {
                Command.of("fusermount3", "-u", "-z", dir.toString()).timeout(TIMEOUT).run();
            }
            nbdfuse.waitFor(TIMEOUT); // nbdfuse ends by itself once unmounted
        }
        nbdfuse.close();
    }
}
