package io.hablock.nativeio;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class NativeIOExceptionTest {

    @Test
    void errnoMapsBothWays() {
        for (Errno e : Errno.values()) {
            if (e != Errno.UNKNOWN) {
                assertThat(Errno.of(e.code())).isSameAs(e);
            }
        }
        assertThat(Errno.of(0)).isEqualTo(Errno.UNKNOWN);
        assertThat(Errno.of(-3)).isEqualTo(Errno.UNKNOWN);
        assertThat(Errno.of(4000)).isEqualTo(Errno.UNKNOWN);
        assertThat(Errno.ENXIO.code()).isEqualTo(6);
        assertThat(Errno.EOPNOTSUPP.code()).isEqualTo(95);
    }

    @Test
    void typedSubclasses() {
        assertThat(NativeIOException.of("fallocate(PUNCH_HOLE)", Errno.EOPNOTSUPP))
                .isInstanceOf(OperationNotSupportedException.class)
                .hasMessage("fallocate(PUNCH_HOLE) failed: Operation not supported (EOPNOTSUPP)");
        assertThat(NativeIOException.of("fallocate(ZERO_RANGE)", 28))
                .isInstanceOf(NoSpaceException.class);
        assertThat(NativeIOException.of("fallocate(ZERO_RANGE)", 122))
                .isInstanceOf(NoSpaceException.class)
                .hasMessage("fallocate(ZERO_RANGE) failed: Disk quota exceeded (EDQUOT)");
        assertThat(NativeIOException.of("fdatasync", Errno.EIO))
                .isExactlyInstanceOf(NativeIOException.class);
    }

    @Test
    void unknownErrnoKeepsItsNumber() {
        NativeIOException e = NativeIOException.of("fdatasync", 200);
        assertThat(e.errno()).isEqualTo(Errno.UNKNOWN);
        assertThat(e.errnoCode()).isEqualTo(200);
        assertThat(e).hasMessage("fdatasync failed: Unknown error 200 (errno 200)");
    }
}
