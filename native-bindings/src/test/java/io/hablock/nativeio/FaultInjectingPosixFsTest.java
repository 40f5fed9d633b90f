package io.hablock.nativeio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.testing.FaultInjectingPosixFs;
import io.hablock.nativeio.testing.FaultInjectingPosixFs.Op;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

class FaultInjectingPosixFsTest {
    private final FaultInjectingPosixFs fs = new FaultInjectingPosixFs(PosixFs.system());
    @TempDir Path dir;
    private int fd;

    @BeforeEach
    void open() throws IOException {
        Path file = dir.resolve("f");
        Files.write(file, new byte[1 << 16]);
        fd = fs.open(file, true);
    }

    @AfterEach
    void close() throws IOException {
        fs.clear();
        fs.close(fd);
    }

    @Test
    void failNextFailsOnceThenDelegates() throws IOException {
        fs.failNext(Op.PUNCH_HOLE, Errno.EOPNOTSUPP);

        assertThatThrownBy(() -> fs.punchHole(fd, 0, 4096))
                .isInstanceOf(OperationNotSupportedException.class)
                .hasMessage("fallocate(PUNCH_HOLE) failed: Operation not supported (EOPNOTSUPP)");
        fs.punchHole(fd, 0, 4096);
        assertThat(fs.calls(Op.PUNCH_HOLE)).isEqualTo(2);
        assertThat(fs.calls(Op.ZERO_RANGE)).isZero();
    }

    @Test
    void failNextQueues() throws IOException {
        fs.failNext(Op.FDATASYNC, Errno.EIO).failNext(Op.FDATASYNC, Errno.ENOSPC);

        assertThatThrownBy(() -> fs.fdatasync(fd))
                .extracting(e -> ((NativeIOException) e).errno())
                .isEqualTo(Errno.EIO);
        assertThatThrownBy(() -> fs.fdatasync(fd)).isInstanceOf(NoSpaceException.class);
        fs.fdatasync(fd);
    }

    @Test
    void failAlwaysUntilClear() throws IOException {
        fs.failAlways(Op.ZERO_RANGE, Errno.EIO);
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> fs.zeroRange(fd, 0, 4096))
                    .hasMessage("fallocate(ZERO_RANGE) failed: Input/output error (EIO)");
        }
        fs.clear();
        fs.zeroRange(fd, 0, 4096);
        assertThat(fs.calls(Op.ZERO_RANGE)).isEqualTo(4);
        fs.resetCounts();
        assertThat(fs.calls(Op.ZERO_RANGE)).isZero();
    }

    @Test
    void armedEnxioOnSeekReturnsMinusOneLikeTheRealCall() throws IOException {
        fs.failNext(Op.SEEK_DATA, Errno.ENXIO);
        assertThat(fs.seekData(fd, 0)).isEqualTo(-1);
        assertThat(fs.seekData(fd, 0)).isEqualTo(0);
        fs.failNext(Op.SEEK_HOLE, Errno.EIO);
        assertThatThrownBy(() -> fs.seekHole(fd, 0))
                .hasMessageStartingWith("lseek(SEEK_HOLE) failed");
    }

    @Test
    void openCanFail() {
        fs.failNext(Op.OPEN, Errno.EACCES);
        assertThatThrownBy(() -> fs.open(dir.resolve("f"), false))
                .hasMessage("open failed: Permission denied (EACCES)");
    }

    @Test
    void unknownCannotBeArmed() {
        assertThatThrownBy(() -> fs.failNext(Op.OPEN, Errno.UNKNOWN))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
