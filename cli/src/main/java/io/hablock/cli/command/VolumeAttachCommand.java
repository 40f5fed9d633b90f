package io.hablock.cli.command;

import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nativeio.NativeIOException;
import io.hablock.nativeio.nbd.KernelNbd;
import io.hablock.nativeio.nbd.NbdConnectRequest;
import io.hablock.nativeio.nbd.NbdSyscalls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume attach NAME [--device /dev/nbdN]}. */
@Command(name = "attach", mixinStandardHelpOptions = true,
        description = {"Attach a volume to this host as a kernel block device /dev/nbdN, without nbd-client.",
                "Connects to the volume's NBD endpoint (today: its owner), negotiates the export, and hands "
                        + "the socket to the kernel's nbd driver (generic netlink, or the NBD ioctls on old "
                        + "kernels: then this command stays in the foreground until detach). Prints the device.",
                "Needs root and the nbd kernel module (modprobe nbd); without it, fails before doing anything."})
public final class VolumeAttachCommand implements Callable<Integer> {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Option(names = "--device", paramLabel = "/dev/nbdN",
            description = "The device to use (default: the first free one).")
    String device;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30s",
            description = "Kernel I/O timeout, also how long a dead connection may wait to be replaced "
                    + "(whole seconds; default ${DEFAULT-VALUE}).")
    String timeout;

    @Override
    public Integer call() throws IOException, ClusterException, InterruptedException {
        KernelNbd kernel = KernelNbd.system();
        kernel.checkAvailable(); // before any side effect: no connection, nothing in ZooKeeper
        OptionalInt index = device == null ? OptionalInt.empty() : OptionalInt.of(KernelNbd.indexOf(device));
        Duration ioTimeout = Durations.parse(timeout, "--timeout");
        InetSocketAddress endpoint = endpoint();

        NbdSyscalls sys = NbdSyscalls.system();
        int fd = sys.connectTcp(endpoint, CONNECT_TIMEOUT);
        try {
            NbdHandshake.Export export = NbdHandshake.go(sys, fd, name);
            sys.clearTimeouts(fd); // the kernel applies its own
            NbdConnectRequest request = new NbdConnectRequest(export.size(), blockSize(export), export.flags(),
                    ioTimeout, ioTimeout, index, List.of(fd), Optional.of(backendIdentifier(options.cluster, name)));
            int attached = kernel.attach(request);
            System.out.println(kernel.device(attached));
            System.out.flush();
            kernel.awaitDetached(attached); // returns at once unless the ioctl path needs this process
        } finally {
            sys.close(fd); // the kernel holds its own reference to the socket
        }
        return 0;
    }

    /** What the kernel shows in /sys/block/nbdN/backend; {@code volume detach NAME} looks for it. */
    static String backendIdentifier(String cluster, String volume) {
        return "hablock:" + cluster + "/" + volume;
    }

    private InetSocketAddress endpoint() throws ClusterException {
        try (ClusterClient cluster = options.connect()) {
            VolumeRecord v = cluster.volume(name)
                    .orElseThrow(() -> new ClusterException("no volume named '" + name + "'")).value();
            if (v.owner() == null) {
                throw new ClusterException("volume '" + name + "' has no owner yet");
            }
            NodeInfo owner = cluster.liveNodes().get(v.owner());
            if (owner == null) {
                throw new ClusterException("the owner " + v.owner() + " of volume '" + name + "' is not live");
            }
            return new InetSocketAddress(owner.host(), owner.nbdPort());
        }
    }

    /** The server's preferred block size when the kernel can use it, else the largest that divides the size. */
    private static int blockSize(NbdHandshake.Export e) throws NativeIOException {
        int preferred = e.preferredBlockSize();
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
