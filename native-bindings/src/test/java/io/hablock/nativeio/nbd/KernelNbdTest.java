package io.hablock.nativeio.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The facade against {@link FakeKernel}: which interface it picks, what it sends, how it fails. */
class KernelNbdTest {
    @TempDir Path sys;
    @TempDir Path dev;
    private FakeKernel kernel;
    private KernelNbd nbd;

    @BeforeEach
    void setUp() {
        kernel = new FakeKernel(sys);
        nbd = new KernelNbd(kernel, sys, dev);
    }

    @Test
    void noFamilyNoDeviceNoModuleIsNotLoaded() {
        assertThatThrownBy(() -> nbd.checkAvailable())
                .isExactlyInstanceOf(NbdUnavailableException.class)
                .hasMessage("the nbd kernel module is not loaded: modprobe nbd");
        assertThat(kernel.closed).as("the probe's netlink socket is closed").hasSize(1);
    }

    @Test
    void aLoadedModuleWithoutFamilyOrDeviceSaysSo() throws Exception {
        Files.createDirectories(sys.resolve("module/nbd"));
        assertThatThrownBy(() -> nbd.checkAvailable())
                .isExactlyInstanceOf(NbdUnavailableException.class)
                .hasMessage("the nbd kernel module is loaded but offers neither the nbd netlink family nor "
                        + dev.resolve("nbd0"));
    }

    @Test
    void theFamilyMeansNetlinkAndDevNbd0AloneMeansIoctl() throws Exception {
        Files.createFile(dev.resolve("nbd0"));
        assertThat(nbd.checkAvailable()).isEqualTo(KernelNbd.Interface.IOCTL);
        kernel.nbdFamilyRegistered = true;
        assertThat(nbd.checkAvailable()).isEqualTo(KernelNbd.Interface.NETLINK);
    }

    @Test
    void attachOverNetlinkSendsTheConnectAndReturnsTheKernelsIndex() throws Exception {
        kernel.nbdFamilyRegistered = true;
        kernel.chosenIndex = 6;
        int index = nbd.attach(9, 64L << 20, 4096, 0x0d, Duration.ofSeconds(30), OptionalInt.empty());

        assertThat(index).isEqualTo(6);
        assertThat(kernel.netlinkRequests).hasSize(2); // GETFAMILY, CONNECT
        ByteBuffer connect = kernel.netlinkRequests.get(1);
        int seq = connect.duplicate().order(ByteOrder.nativeOrder()).getInt(8);
        NbdConnectRequest expected = NbdConnectRequest.of(9, 64L << 20, 4096, 0x0d, Duration.ofSeconds(30),
                Duration.ofSeconds(30), OptionalInt.empty());
        assertThat(Bytes.hex(connect)).isEqualTo(Bytes.hex(GenlCodec.connect(FakeKernel.NBD_FAMILY, seq, expected)));
        assertThat(kernel.ioctls).isEmpty();
    }

    @Test
    void aRequestedIndexIsSentAndDetachDisconnectsIt() throws Exception {
        kernel.nbdFamilyRegistered = true;
        assertThat(nbd.attach(9, 1 << 20, 512, 1, Duration.ofSeconds(5), OptionalInt.of(3))).isEqualTo(3);
        nbd.detach(3);
        ByteBuffer disconnect = kernel.netlinkRequests.get(kernel.netlinkRequests.size() - 1);
        assertThat(Bytes.hex(disconnect))
                .isEqualTo(Bytes.hex(GenlCodec.disconnect(FakeKernel.NBD_FAMILY, disconnect.duplicate().order(ByteOrder.nativeOrder()).getInt(8), 3)));
        nbd.awaitDetached(3); // netlink: nothing of ours to wait for
    }

    @Test
    void aNetlinkErrorBecomesATypedException() {
        kernel.nbdFamilyRegistered = true;
        kernel.connectError = Errno.EBUSY;
        assertThatThrownBy(() -> nbd.attach(9, 1 << 20, 512, 1, Duration.ofSeconds(5), OptionalInt.of(0)))
                .isInstanceOfSatisfying(NativeIOException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBUSY))
                .hasMessage("netlink NBD_CMD_CONNECT failed: Device or resource busy (EBUSY)");
        kernel.connectError = Errno.EPERM;
        assertThatThrownBy(() -> nbd.attach(9, 1 << 20, 512, 1, Duration.ofSeconds(5), OptionalInt.of(0)))
                .hasMessage("netlink NBD_CMD_CONNECT failed: Operation not permitted (EPERM)");
    }

    @Test
    void ioctlFallbackConfiguresTheFirstFreeDeviceAndServesItUntilDisconnect() throws Exception {
        Files.createFile(dev.resolve("nbd0"));
        Files.createFile(dev.resolve("nbd1"));
        Files.createDirectories(sys.resolve("block/nbd0"));
        Files.writeString(sys.resolve("block/nbd0/pid"), "1\n"); // nbd0 is busy
        kernel.chosenIndex = 1;

        int index = nbd.attach(9, 8L << 20, 1024, 0x0d, Duration.ofSeconds(30), OptionalInt.empty());

        assertThat(index).isEqualTo(1);
        assertThat(kernel.ioctls).startsWith("NBD_SET_BLKSIZE 1024", "NBD_SET_SIZE_BLOCKS 8192", "NBD_SET_FLAGS 13",
                "NBD_SET_TIMEOUT 30", "NBD_SET_SOCK 9", "NBD_DO_IT 0");
        CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
            try {
                nbd.awaitDetached(1);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertThat(served).isNotDone();

        nbd.detach(1);

        served.get(10, TimeUnit.SECONDS);
        // The detaching thread and the serving thread (NBD_DO_IT returning) clear up concurrently.
        java.util.List<String> after = new java.util.ArrayList<>(kernel.ioctls).subList(6, kernel.ioctls.size());
        assertThat(after.get(0)).isEqualTo("NBD_DISCONNECT 0");
        assertThat(after.subList(1, after.size()))
                .containsExactlyInAnyOrder("NBD_CLEAR_SOCK 0", "NBD_CLEAR_QUE 0", "NBD_CLEAR_SOCK 0");
        assertThat(Files.exists(sys.resolve("block/nbd1/pid"))).isFalse();
    }

    @Test
    void aFailedIoctlClosesTheDeviceAndSurfacesTheErrno() throws Exception {
        Files.createFile(dev.resolve("nbd0"));
        kernel.ioctlError = Errno.EBUSY;
        assertThatThrownBy(() -> nbd.attach(9, 1 << 20, 512, 1, Duration.ofSeconds(5), OptionalInt.of(0)))
                .isInstanceOfSatisfying(NativeIOException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBUSY))
                .hasMessage("ioctl(NBD_SET_SOCK) failed: Device or resource busy (EBUSY)");
        assertThat(kernel.ioctls).doesNotContain("NBD_DO_IT 0");
        assertThat(kernel.closed).hasSizeGreaterThanOrEqualTo(2); // probe socket + the device
    }

    @Test
    void findsAnAttachedVolumeByItsBackend() throws Exception {
        Files.createDirectories(sys.resolve("block/nbd4"));
        Files.createDirectories(sys.resolve("block/nbd2"));
        Files.writeString(sys.resolve("block/nbd4/backend"), "hablock:c/vol1\n");
        Files.writeString(sys.resolve("block/nbd2/backend"), "hablock:c/vol2\n");
        assertThat(nbd.findByBackend("hablock:c/vol1")).hasValue(4);
        assertThat(nbd.findByBackend("hablock:c/vol3")).isEmpty();
    }

    @Test
    void deviceNames() {
        assertThat(KernelNbd.indexOf("/dev/nbd12")).isEqualTo(12);
        assertThat(KernelNbd.indexOf("nbd0")).isEqualTo(0);
        assertThat(nbd.device(3)).isEqualTo(dev.resolve("nbd3"));
        for (String bad : List.of("/dev/sda", "/dev/nbd", "nbd1p1")) {
            assertThatThrownBy(() -> KernelNbd.indexOf(bad)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
