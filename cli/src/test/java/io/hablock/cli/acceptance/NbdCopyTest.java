package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Checksums;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.InProcessNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** nbdcopy puts a 256 MiB image into a volume and takes it out again, bit for bit. */
class NbdCopyTest {
    private static final int MIB = 1024 * 1024;
    private static final long SIZE = 256L * MIB;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void imageCopiedInAndOutIsIdentical() throws IOException {
        Path image = randomImage(dir.resolve("random.img"));
        Path back = dir.resolve("back.img");
        try (InProcessNode node = InProcessNode.start(dir.resolve("data"))) {
            String uri = node.createVolume("copy", SIZE);

            Command.of("nbdcopy", image.toString(), uri).timeout(TIMEOUT).runOk();
            Command.of("nbdcopy", uri, back.toString()).timeout(TIMEOUT).runOk();
        }

        assertThat(Files.size(back)).isEqualTo(SIZE);
        assertThat(Checksums.sha256(back)).isEqualTo(Checksums.sha256(image));
    }

    /**
     * Random data, except for a 16 MiB run of zeros in the middle that nbdcopy sends as
     * zeroing requests rather than data.
     */
    private static Path randomImage(Path file) throws IOException {
        Random random = new Random(42);
        byte[] block = new byte[MIB];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (int i = 0; i < SIZE / MIB; i++) {
                if (i >= 100 && i < 116) {
                    Arrays.fill(block, (byte) 0);
                } else {
                    random.nextBytes(block);
                }
                out.write(block);
            }
        }
        return file;
    }
}
