package io.hablock.nativeio.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/**
 * Real generic-netlink round trips with the running kernel, and the verdict on this machine, which
 * has no nbd module (TESTING.md). The genl controller is always there, so it is the positive control.
 */
class RealKernelTest {

    @Test
    void theControllerResolvesItsOwnFamily() throws Exception {
        try (GenericNetlink nl = GenericNetlink.open(NbdSyscalls.system())) {
            assertThat(nl.resolveFamily(Netlink.CTRL_FAMILY_NAME)).isEqualTo(OptionalInt.of(Netlink.GENL_ID_CTRL));
        }
    }

    @Test
    void getFamilyForNbdComesBackWithEnoent() throws Exception {
        assumeNoNbdModule();
        try (GenericNetlink nl = GenericNetlink.open(NbdSyscalls.system())) {
            assertThatThrownBy(() -> nl.request("CTRL_CMD_GETFAMILY(nbd)", seq -> GenlCodec.getFamily(seq, "nbd")))
                    .isInstanceOfSatisfying(NativeIOException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT))
                    .hasMessage("netlink CTRL_CMD_GETFAMILY(nbd) failed: No such file or directory (ENOENT)");
            assertThat(nl.resolveFamily("nbd")).isEmpty();
            // the socket still works after an error reply
            assertThat(nl.resolveFamily(Netlink.CTRL_FAMILY_NAME)).hasValue(Netlink.GENL_ID_CTRL);
        }
    }

    @Test
    void checkAvailableSaysTheModuleIsNotLoaded() {
        assumeNoNbdModule();
        assertThatThrownBy(() -> KernelNbd.system().checkAvailable())
                .isExactlyInstanceOf(NbdUnavailableException.class)
                .hasMessage("the nbd kernel module is not loaded: modprobe nbd");
    }

    @Test
    void attachAndDetachFailTheSameWayBeforeTouchingTheSocket() {
        assumeNoNbdModule();
        KernelNbd kernel = KernelNbd.system();
        assertThatThrownBy(() -> kernel.attach(0, 1 << 20, 4096, 1, java.time.Duration.ofSeconds(30),
                OptionalInt.empty())).hasMessage(NbdUnavailableException.NOT_LOADED);
        assertThatThrownBy(() -> kernel.detach(0)).hasMessage(NbdUnavailableException.NOT_LOADED);
    }

    @Test
    void anUnknownFamilyIsEmptyOnAnyKernel() throws Exception {
        try (GenericNetlink nl = GenericNetlink.open(NbdSyscalls.system())) {
            assertThat(nl.resolveFamily("hbnosuchfam")).isEmpty();
        }
    }

    private static void assumeNoNbdModule() {
        assumeFalse(Files.exists(Path.of("/sys/module/nbd")) || Files.exists(Path.of("/dev/nbd0")),
                "this kernel has the nbd module");
    }
}
