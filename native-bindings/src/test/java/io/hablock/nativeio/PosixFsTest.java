package io.hablock.nativeio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/** Real libc calls on a real temp file. */
class PosixFsTest {
    private static final int BLOCK = 64 * 1024; // above any file system block size in use
    private static final int FILE_SIZE = 16 * BLOCK;

    private final PosixFs fs = PosixFs.system();
    @TempDir Path dir;
    private Path file;
    private int fd = -1;

    @BeforeEach
    void createFullFile() throws IOException {
        file = dir.resolve("f.img");
        byte[] ones = new byte[FILE_SIZE];
        Arrays.fill(ones, (byte) 0x5a);
        Files.write(file, ones);
        fd = fs.open(file, true);
    }

    @AfterEach
    void closeFd() throws IOException {
        if (fd >= 0) {
            fs.close(fd);
        }
    }

    @Test
    void punchedHoleIsFoundBySeekHoleAndReadsZeros() throws IOException {
        fs.fdatasync(fd);
        assertThat(fs.seekHole(fd, 0))
                .as("fully written file: only the EOF hole")
                .isEqualTo(FILE_SIZE);

        fs.punchHole(fd, 2L * BLOCK, 2L * BLOCK);

        assertThat(fs.seekHole(fd, 0)).isEqualTo(2L * BLOCK);
        assertThat(fs.seekData(fd, 2L * BLOCK)).isEqualTo(4L * BLOCK);
        assertThat(Files.size(file)).as("KEEP_SIZE").isEqualTo(FILE_SIZE);
        assertThat(readAt(2L * BLOCK, 2 * BLOCK)).containsOnly(0);
        assertThat(readAt(4L * BLOCK, BLOCK)).containsOnly(0x5a);
    }

    @Test
    void zeroRangeReadsZerosAndKeepsSize() throws IOException {
        fs.zeroRange(fd, BLOCK + 100, 5000);

        byte[] bytes = readAt(0, FILE_SIZE);
        for (int i = 0; i < FILE_SIZE; i++) {
            boolean zeroed = i >= BLOCK + 100 && i < BLOCK + 5100;
            assertThat(bytes[i]).as("byte %d", i).isEqualTo(zeroed ? (byte) 0 : (byte) 0x5a);
        }
        assertThat(Files.size(file)).isEqualTo(FILE_SIZE);
    }

    @Test
    void fdatasyncSucceeds() throws IOException {
        fs.fdatasync(fd);
    }

    @Test
    void seekPastEndOfFileReturnsMinusOne() throws IOException {
        assertThat(fs.seekData(fd, FILE_SIZE)).isEqualTo(-1);
        assertThat(fs.seekData(fd, FILE_SIZE + 12345L)).isEqualTo(-1);
        assertThat(fs.seekHole(fd, FILE_SIZE + 1L)).isEqualTo(-1);
    }

    @Test
    void seekDataOverSparseTailReturnsMinusOne() throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(BLOCK);
        }
        try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(8L * BLOCK); // sparse tail
        }
        assertThat(fs.seekData(fd, 2L * BLOCK)).isEqualTo(-1);
        assertThat(fs.seekHole(fd, 0)).isEqualTo(BLOCK);
    }

    @Test
    void badFileDescriptorIsEbadf() {
        assertThatThrownBy(() -> fs.fdatasync(-1))
                .isExactlyInstanceOf(NativeIOException.class)
                .hasMessage("fdatasync failed: Bad file descriptor (EBADF)")
                .satisfies(
                        e -> {
                            assertThat(((NativeIOException) e).errno()).isEqualTo(Errno.EBADF);
                            assertThat(((NativeIOException) e).operation()).isEqualTo("fdatasync");
                        });
        assertThatThrownBy(() -> fs.close(-1))
                .extracting(e -> ((NativeIOException) e).errno())
                .isEqualTo(Errno.EBADF);
        assertThatThrownBy(() -> fs.seekData(-1, 0))
                .extracting(e -> ((NativeIOException) e).errno())
                .isEqualTo(Errno.EBADF);
    }

    @Test
    void readOnlyDescriptorCannotPunch() throws IOException {
        int ro = fs.open(file, false);
        try {
            assertThatThrownBy(() -> fs.punchHole(ro, 0, BLOCK))
                    .isInstanceOf(NativeIOException.class)
                    .hasMessageStartingWith(
                            "fallocate(PUNCH_HOLE) failed: Bad file descriptor (EBADF)");
        } finally {
            fs.close(ro);
        }
    }

    @Test
    void invalidLengthIsEinval() {
        assertThatThrownBy(() -> fs.punchHole(fd, 0, 0))
                .extracting(e -> ((NativeIOException) e).errno())
                .isEqualTo(Errno.EINVAL);
    }

    @Test
    void openMissingFileIsEnoent() {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> fs.open(missing, false))
                .isInstanceOf(NativeIOException.class)
                .hasMessage("open(" + missing + ") failed: No such file or directory (ENOENT)");
    }

    @Test
    void openSetsCloseOnExec() throws IOException {
        // /proc/self/fdinfo/<fd> shows the open flags in octal; O_CLOEXEC is 02000000.
        String flags =
                Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd)).stream()
                        .filter(l -> l.startsWith("flags:"))
                        .findFirst()
                        .orElseThrow()
                        .substring(6)
                        .trim();
        long value = Long.parseLong(flags, 8);
        assertThat(value & 02000000).isNotZero();
        assertThat(value & 3).as("O_RDWR").isEqualTo(2);
    }

    private byte[] readAt(long offset, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                ch.read(buf, offset + buf.position());
            }
        }
        return buf.array();
    }
}
