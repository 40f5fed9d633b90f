package io.hablock.nativeio.nbd;

import static io.hablock.nativeio.nbd.NbdIoctl.*;

import io.hablock.nativeio.NativeIOException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Attaches NBD sockets to the kernel as {@code /dev/nbdN} and detaches them, without nbd-client.
 *
 * <p>Prefers the {@code nbd} generic-netlink family (Linux 4.12+): the kernel then owns the socket
 * and the calling process may exit. Falls back to the NBD ioctls where only {@code /dev/nbd0}
 * exists; there {@code NBD_DO_IT} blocks for the life of the device, so it runs on a non-daemon
 * thread of this process, which must stay alive ({@link #awaitDetached}).
 */
public final class KernelNbd {
    /** How this kernel is driven. */
    public enum Interface { NETLINK, IOCTL }

    private static final Pattern DEVICE = Pattern.compile("(?:.*/)?nbd(\\d+)");
    private static final Duration DO_IT_START = Duration.ofSeconds(5);

    private final NbdSyscalls sys;
    private final Path sysRoot;
    private final Path devRoot;
    private final Map<Integer, CompletableFuture<Void>> ioctlDevices = new ConcurrentHashMap<>();

    KernelNbd(NbdSyscalls sys, Path sysRoot, Path devRoot) {
        this.sys = sys;
        this.sysRoot = sysRoot;
        this.devRoot = devRoot;
    }

    /** The running kernel, through libc. */
    public static KernelNbd system() {
        return new KernelNbd(NbdSyscalls.system(), Path.of("/sys"), Path.of("/dev"));
    }

    /**
     * Which interface the kernel offers. Asks the genl controller for the {@code nbd} family, then
     * looks for {@code /dev/nbd0} and {@code /sys/module/nbd}.
     *
     * @throws NbdUnavailableException with {@link NbdUnavailableException#NOT_LOADED} when the module
     *     is absent; side-effect free, so callers check this before doing anything else
     */
    public Interface checkAvailable() throws NbdUnavailableException {
        return probe().via();
    }

    /**
     * Hands {@code socketFd} (connected, in transmission phase) to the kernel; returns {@code N} of
     * the new {@code /dev/nbdN}. The dead-connection timeout is {@code timeout} too.
     *
     * @param flags the 16-bit transmission flags the server announced
     * @param index the device to use, or empty for the first free one
     */
    public int attach(int socketFd, long size, int blockSize, int flags, Duration timeout, OptionalInt index)
            throws IOException {
        return attach(NbdConnectRequest.of(socketFd, size, blockSize, flags, timeout, timeout, index));
    }

    /** Hands the request's sockets to the kernel; returns {@code N} of {@code /dev/nbdN}. */
    public int attach(NbdConnectRequest request) throws IOException {
        Probe p = probe();
        if (p.via() == Interface.IOCTL) {
            return attachByIoctl(request);
        }
        try (GenericNetlink nl = GenericNetlink.open(sys)) {
            var replies = nl.request("NBD_CMD_CONNECT", seq -> GenlCodec.connect(p.family(), seq, request));
            for (NetlinkMessage.Genl reply : replies) {
                var index = reply.attribute(Netlink.NBD_ATTR_INDEX);
                if (index.isPresent()) {
                    return index.get().u32();
                }
            }
        }
        if (request.index().isPresent()) {
            return request.index().getAsInt(); // acknowledged without a reply: an older kernel
        }
        throw new NetlinkFormatException("NBD_CMD_CONNECT acknowledged without NBD_ATTR_INDEX");
    }

    /** Disconnects {@code /dev/nbd<index>}: the kernel fails outstanding I/O and closes the socket. */
    public void detach(int index) throws IOException {
        Probe p = probe();
        if (p.via() == Interface.NETLINK) {
            try (GenericNetlink nl = GenericNetlink.open(sys)) {
                nl.request("NBD_CMD_DISCONNECT", seq -> GenlCodec.disconnect(p.family(), seq, index));
            }
            return;
        }
        int fd = sys.openDevice(device(index));
        try {
            sys.ioctl(fd, NBD_DISCONNECT, 0);
            sys.ioctl(fd, NBD_CLEAR_SOCK, 0);
        } finally {
            sys.close(fd);
        }
    }

    /**
     * Blocks while this process serves {@code /dev/nbd<index>} through the ioctl interface; returns
     * at once for a netlink-attached device (the kernel serves it without us).
     */
    public void awaitDetached(int index) throws IOException, InterruptedException {
        CompletableFuture<Void> running = ioctlDevices.get(index);
        if (running == null) {
            return;
        }
        try {
            running.get();
        } catch (ExecutionException e) {
            throw asIOException(e.getCause());
        }
    }

    /** The device whose {@code /sys/block/nbdN/backend} reads {@code identifier}, if attached. */
    public OptionalInt findByBackend(String identifier) throws IOException {
        Path block = sysRoot.resolve("block");
        if (!Files.isDirectory(block)) {
            return OptionalInt.empty();
        }
        try (DirectoryStream<Path> devices = Files.newDirectoryStream(block, "nbd*")) {
            for (Path d : devices) {
                Path backend = d.resolve("backend");
                if (Files.isReadable(backend)
                        && Files.readString(backend, StandardCharsets.UTF_8).strip().equals(identifier)) {
                    return OptionalInt.of(indexOf(d.getFileName().toString()));
                }
            }
        }
        return OptionalInt.empty();
    }

    /** {@code /dev/nbd<index>}. */
    public Path device(int index) {
        return devRoot.resolve("nbd" + index);
    }

    /** {@code N} of {@code /dev/nbdN} or {@code nbdN}; IllegalArgumentException for anything else. */
    public static int indexOf(String device) {
        Matcher m = DEVICE.matcher(device);
        if (!m.matches()) {
            throw new IllegalArgumentException("not an NBD device: " + device + " (expected /dev/nbdN)");
        }
        return Integer.parseInt(m.group(1));
    }

    private record Probe(Interface via, int family) {
    }

    private Probe probe() throws NbdUnavailableException {
        IOException netlinkFailure = null;
        try (GenericNetlink nl = GenericNetlink.open(sys)) {
            OptionalInt family = nl.resolveFamily(Netlink.NBD_GENL_FAMILY_NAME);
            if (family.isPresent()) {
                return new Probe(Interface.NETLINK, family.getAsInt());
            }
        } catch (IOException e) {
            netlinkFailure = e; // no verdict from netlink: the files decide
        }
        if (Files.exists(device(0))) {
            return new Probe(Interface.IOCTL, -1);
        }
        if (Files.isDirectory(sysRoot.resolve("module").resolve("nbd"))) {
            throw new NbdUnavailableException("the nbd kernel module is loaded but offers neither the nbd netlink "
                    + "family nor " + device(0)
                    + (netlinkFailure == null ? "" : " (" + netlinkFailure.getMessage() + ")"));
        }
        throw new NbdUnavailableException(NbdUnavailableException.NOT_LOADED);
    }

    private int attachByIoctl(NbdConnectRequest r) throws IOException {
        int index = r.index().isPresent() ? r.index().getAsInt() : firstFreeDevice();
        int fd = sys.openDevice(device(index));
        try {
            sys.ioctl(fd, NBD_SET_BLKSIZE, r.blockSize());
            sys.ioctl(fd, NBD_SET_SIZE_BLOCKS, r.sizeBytes() / r.blockSize());
            sys.ioctl(fd, NBD_SET_FLAGS, r.serverFlags());
            if (!r.timeout().isZero()) {
                sys.ioctl(fd, NBD_SET_TIMEOUT, r.timeout().toSeconds());
            }
            for (int socket : r.socketFds()) {
                sys.ioctl(fd, NBD_SET_SOCK, socket);
            }
        } catch (IOException e) {
            closeQuietly(fd, e);
            throw e;
        }
        CompletableFuture<Void> running = new CompletableFuture<>();
        Thread doIt = new Thread(() -> serve(fd, running), "nbd" + index + "-do-it");
        doIt.setDaemon(false); // the device lives as long as this thread: keep the JVM up
        ioctlDevices.put(index, running);
        doIt.start();
        awaitStarted(index, running);
        return index;
    }

    /**
     * NBD_DO_IT returns when the device is disconnected; then the kernel's queue and socket are
     * cleared, and only then is {@code running} completed.
     */
    private void serve(int fd, CompletableFuture<Void> running) {
        Throwable failure = null;
        try {
            sys.ioctl(fd, NBD_DO_IT, 0);
        } catch (Throwable e) {
            failure = e;
        }
        try {
            sys.ioctl(fd, NBD_CLEAR_QUE, 0);
            sys.ioctl(fd, NBD_CLEAR_SOCK, 0);
        } catch (NativeIOException ignored) {
            // the device is going away either way
        }
        closeQuietly(fd, null);
        if (failure == null) {
            running.complete(null);
        } else {
            running.completeExceptionally(failure);
        }
    }

    /** The kernel writes /sys/block/nbdN/pid once NBD_DO_IT runs; an early return is a failure. */
    private void awaitStarted(int index, CompletableFuture<Void> running) throws IOException {
        Path pid = sysRoot.resolve("block").resolve("nbd" + index).resolve("pid");
        long deadline = System.nanoTime() + DO_IT_START.toNanos();
        while (!Files.exists(pid)) {
            try {
                running.get(10, TimeUnit.MILLISECONDS);
                ioctlDevices.remove(index);
                throw new IOException(device(index) + " disconnected as soon as it started");
            } catch (ExecutionException e) {
                ioctlDevices.remove(index);
                throw asIOException(e.getCause());
            } catch (TimeoutException stillRunning) {
                if (System.nanoTime() > deadline) {
                    return; // running but no pid file (an older kernel): trust it
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while " + device(index) + " started", e);
            }
        }
    }

    private int firstFreeDevice() throws IOException {
        for (int i = 0; Files.exists(device(i)); i++) {
            if (!Files.exists(sysRoot.resolve("block").resolve("nbd" + i).resolve("pid"))) {
                return i;
            }
        }
        throw new IOException("no free NBD device: every " + devRoot.resolve("nbdN") + " is in use");
    }

    private void closeQuietly(int fd, Exception primary) {
        try {
            sys.close(fd);
        } catch (NativeIOException e) {
            if (primary != null) {
                primary.addSuppressed(e);
            }
        }
    }

    private static IOException asIOException(Throwable t) {
        return t instanceof IOException io ? io : new IOException(t.getMessage(), t);
    }
}
