package io.hablock.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import org.junit.jupiter.api.Test;

class MainTest {
    @Test
    void fileErrorsSayWhatWentWrongNotOnlyThePath() {
        assertThat(Main.oneLine(new AccessDeniedException("/var/lib/hablock"))).isEqualTo("permission denied: /var/lib/hablock");
        assertThat(Main.oneLine(new NoSuchFileException("/nope"))).isEqualTo("no such file or directory: /nope");
        assertThat(Main.oneLine(new FileSystemException("/a", "/b", "Read-only file system")))
                .isEqualTo("Read-only file system: /a -> /b");
    }

    @Test
    void otherErrorsKeepTheirFirstLine() {
        assertThat(Main.oneLine(new IOException("first\nsecond"))).isEqualTo("first");
        assertThat(Main.oneLine(new IllegalStateException())).isEqualTo("IllegalStateException");
    }
}
