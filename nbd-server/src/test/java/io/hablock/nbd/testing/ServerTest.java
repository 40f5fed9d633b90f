package io.hablock.nbd.testing;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of the tests that talk to a fresh {@link ServerFixture} per test: a real server over a
 * real block store in a temporary directory, stopped after the test (after the subclass's own
 * {@code @AfterEach}, which may still inspect it).
 */
public abstract class ServerTest {
    @TempDir
    protected Path dir;
    protected ServerFixture fixture;

    @BeforeEach
    void startServer() throws IOException {
        fixture = start(dir);
    }

    @AfterEach
    void stopServer() {
        fixture.close();
    }

    /** The server this test class wants; the default settings unless overridden. */
    protected ServerFixture start(Path dir) throws IOException {
        return ServerFixture.start(dir);
    }
}
