package io.hablock.nativeio.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class NbdIoctlTest {

    @Test
    void requestNumbersAreIoOfTypeAbAndTheirOrdinal() {
        // _IO(0xab, nr) = (0 << 30) | (0 << 16) | (0xab << 8) | nr, as in include/uapi/linux/nbd.h
        assertThat(NbdIoctl.NBD_SET_SOCK).isEqualTo(0xab00);
        assertThat(NbdIoctl.NBD_SET_BLKSIZE).isEqualTo(0xab01);
        assertThat(NbdIoctl.NBD_SET_SIZE).isEqualTo(0xab02);
        assertThat(NbdIoctl.NBD_DO_IT).isEqualTo(0xab03);
        assertThat(NbdIoctl.NBD_CLEAR_SOCK).isEqualTo(0xab04);
        assertThat(NbdIoctl.NBD_CLEAR_QUE).isEqualTo(0xab05);
        assertThat(NbdIoctl.NBD_PRINT_DEBUG).isEqualTo(0xab06);
        assertThat(NbdIoctl.NBD_SET_SIZE_BLOCKS).isEqualTo(0xab07);
        assertThat(NbdIoctl.NBD_DISCONNECT).isEqualTo(0xab08);
        assertThat(NbdIoctl.NBD_SET_TIMEOUT).isEqualTo(0xab09);
        assertThat(NbdIoctl.NBD_SET_FLAGS).isEqualTo(0xab0a);
    }

    @Test
    void iocLayoutMatchesTheKernelMacro() {
        // _IOR('T', 0x13, int) would be FIONREAD-like: dir 2 (read), size 4 -> 0x80045413
        assertThat(NbdIoctl.ioc(2, 'T', 0x13, 4)).isEqualTo(0x80045413);
        // _IOW(0x12, 114, size_t) = BLKBSZSET on LP64: 0x40081272
        assertThat(NbdIoctl.ioc(1, 0x12, 114, 8)).isEqualTo(0x40081272);
        assertThat(NbdIoctl.io(0xab, 3)).isEqualTo(NbdIoctl.NBD_DO_IT);
    }

    @Test
    void namesForMessages() {
        assertThat(NbdIoctl.name(NbdIoctl.NBD_SET_SOCK)).isEqualTo("NBD_SET_SOCK");
        assertThat(NbdIoctl.name(NbdIoctl.NBD_SET_FLAGS)).isEqualTo("NBD_SET_FLAGS");
        assertThat(NbdIoctl.name(0x1234)).isEqualTo("0x1234");
    }
}
