package io.hablock.cli.host;

import io.hablock.nativeio.NativeIOException;
import io.hablock.nativeio.nbd.KernelNbd;
import io.hablock.nativeio.nbd.NbdConnectRequest;
import io.hablock.nativeio.nbd.NbdSyscalls;
import io.hablock.nbd.client.NbdHandshake;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/** Hands an NBD connection to the kernel's nbd driver: {@code /dev/nbdN} without nbd-client. */
public final class KernelAttach {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    /**
     * @param index the device number
     * @param client the connection's local address, as the endpoint sees the client
     */
    public record Attached(int index, Optional<String> client) {
    }

    private KernelAttach() {
    }

    /** What the kernel shows in /sys/block/nbdN/backend; {@code volume detach NAME} looks for it. */
    public static String backendIdentifier(String cluster, String volume) {
        return "hablock:" + cluster + "/" + volume;
    }

    /**
     * Connects to {@code endpoint}, negotiates {@code volume} and gives the socket to the kernel.
     * Call {@link KernelNbd#checkAvailable()} first, before any other side effect.
     */
    public static Attached attach(KernelNbd kernel, InetSocketAddress endpoint, String cluster, String volume,
            OptionalInt index, Duration ioTimeout) throws IOException {
        NbdSyscalls sys = NbdSyscalls.system();
        int fd = sys.connectTcp(endpoint, CONNECT_TIMEOUT);
        try {
            Optional<String> client = ProcSockets.localAddressOfFd(fd);
            NbdHandshake.Export export = NbdHandshake.go(new FdWire(sys, fd), volume);
            sys.clearTimeouts(fd); // the kernel applies its own
            NbdConnectRequest request = new NbdConnectRequest(export.size(), blockSize(export), export.flags(),
                    ioTimeout, ioTimeout, index, List.of(fd), Optional.of(backendIdentifier(cluster, volume)));
            return new Attached(kernel.attach(request), client);
        } finally {
            sys.close(fd); // the kernel holds its own reference to the socket
        }
    }

    /** The server's preferred block size when the kernel can use it, else the largest that divides the size. */
    private static int blockSize(NbdHandshake.Export e) throws NativeIOException {
        int preferred = e.preferredBlock();
        if (preferred >= NbdConnectRequest.MIN_BLOCK_SIZE && preferred <= NbdConnectRequest.MAX_BLOCK_SIZE
                && Integer.bitCount(preferred) == 1 && e.size() % preferred == 0) {
            return preferred;
        }
        for (int b = NbdConnectRequest.MAX_BLOCK_SIZE; b >= NbdConnectRequest.MIN_BLOCK_SIZE; b /= 2) {
            if (e.size() > 0 && e.size() % b == 0) {
                return b;
            }
        }
        throw new IllegalArgumentException("the export size " + e.size() + " is not a multiple of 512 bytes");
    }
}
