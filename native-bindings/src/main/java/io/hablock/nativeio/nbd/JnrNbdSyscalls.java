package io.hablock.nativeio.nbd;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import io.hablock.nativeio.nbd.internal.NbdLibC;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Platform;
import jnr.ffi.Runtime;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;

/** {@link NbdSyscalls} over the real libc through jnr-ffi. */
final class JnrNbdSyscalls implements NbdSyscalls {
    // Linux constants; identical for x86_64 and aarch64.
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20; // struct timeval on LP64
    private static final int SO_SNDTIMEO = 21;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_NODELAY = 1;
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    /** Larger than any reply we expect (GETFAMILY of a big family is a few KiB). */
    private static final int RECEIVE_BUFFER = 64 * 1024;

    private final NbdLibC libc;
    private final Runtime runtime;

    private JnrNbdSyscalls(NbdLibC libc) {
        this.libc = libc;
        this.runtime = Runtime.getRuntime(libc);
    }

    /** Lazily loaded so merely referencing {@link NbdSyscalls} never touches native code. */
    private static final class Holder {
        static final JnrNbdSyscalls INSTANCE = load();

        private static JnrNbdSyscalls load() {
            Platform platform = Platform.getNativePlatform();
            if (platform.getOS() != Platform.OS.LINUX) {
                throw new UnsupportedOperationException("kernel NBD needs Linux, not " + platform.getOS());
            }
            return new JnrNbdSyscalls(LibraryLoader.create(NbdLibC.class).load(platform.getStandardCLibraryName()));
        }
    }

    static JnrNbdSyscalls instance() {
        return Holder.INSTANCE;
    }

    @Override
    public int openGenericNetlink(Duration receiveTimeout) throws NativeIOException {
        int fd = libc.socket(Netlink.AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, Netlink.NETLINK_GENERIC);
        if (fd < 0) {
            throw NativeIOException.of("socket(AF_NETLINK, NETLINK_GENERIC)", runtime.getLastError());
        }
        try {
            byte[] local = sockaddrNl(); // port 0: the kernel assigns one
            check(libc.bind(fd, local, local.length), "bind(AF_NETLINK)");
            setTimeout(fd, SO_RCVTIMEO, receiveTimeout, "setsockopt(SO_RCVTIMEO)");
            return fd;
        } catch (NativeIOException e) {
            libc.close(fd);
            throw e;
        }
    }

    @Override
    public void sendToKernel(int fd, ByteBuffer message) throws NativeIOException {
        byte[] bytes = new byte[message.remaining()];
        message.duplicate().get(bytes);
        byte[] kernel = sockaddrNl();
        while (true) {
            long n = libc.sendto(fd, bytes, bytes.length, 0, kernel, kernel.length);
            if (n == bytes.length) {
                return;
            }
            if (n >= 0) {
                throw NativeIOException.of("sendto(netlink): short write", Errno.EIO);
            }
            retryOnEintr("sendto(netlink)");
        }
    }

    @Override
    public ByteBuffer receive(int fd) throws NativeIOException {
        byte[] buffer = new byte[RECEIVE_BUFFER];
        while (true) {
            long n = libc.recv(fd, buffer, buffer.length, 0);
            if (n >= 0) {
                return ByteBuffer.wrap(buffer, 0, (int) n).slice().order(ByteOrder.nativeOrder());
            }
            retryOnEintr("recv(netlink)");
        }
    }

    @Override
    public int openDevice(Path path) throws NativeIOException {
        while (true) {
            int fd = libc.open(path.toString(), O_RDWR | O_CLOEXEC, 0);
            if (fd >= 0) {
                return fd;
            }
            retryOnEintr("open(" + path + ")");
        }
    }

    @Override
    public void ioctl(int fd, int request, long arg) throws NativeIOException {
        check(libc.ioctl(fd, request & 0xffffffffL, arg), "ioctl(" + NbdIoctl.name(request) + ")");
    }

    @Override
    public int connectTcp(InetSocketAddress address, Duration timeout) throws NativeIOException {
        if (address.isUnresolved()) {
            throw NativeIOException.of("connect(" + address + "): unresolved host", Errno.ENXIO);
        }
        boolean v6 = address.getAddress() instanceof Inet6Address;
        int fd = libc.socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw NativeIOException.of("socket(AF_INET)", runtime.getLastError());
        }
        try {
            // Linux applies SO_SNDTIMEO to a blocking connect(): our connect timeout.
            setTimeout(fd, SO_SNDTIMEO, timeout, "setsockopt(SO_SNDTIMEO)");
            setTimeout(fd, SO_RCVTIMEO, timeout, "setsockopt(SO_RCVTIMEO)");
            byte[] one = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(1).array();
            check(libc.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, one.length), "setsockopt(TCP_NODELAY)");
            byte[] sockaddr = v6 ? sockaddrIn6(address) : sockaddrIn(address);
            check(libc.connect(fd, sockaddr, sockaddr.length), "connect(" + address + ")");
            return fd;
        } catch (NativeIOException e) {
            libc.close(fd);
            throw e;
        }
    }

    @Override
    public void clearTimeouts(int fd) throws NativeIOException {
        setTimeout(fd, SO_RCVTIMEO, Duration.ZERO, "setsockopt(SO_RCVTIMEO)");
        setTimeout(fd, SO_SNDTIMEO, Duration.ZERO, "setsockopt(SO_SNDTIMEO)");
    }

    @Override
    public int read(int fd, byte[] buffer, int offset, int length) throws NativeIOException {
        byte[] tmp = offset == 0 ? buffer : new byte[length];
        while (true) {
            long n = libc.read(fd, tmp, length);
            if (n >= 0) {
                if (tmp != buffer) {
                    System.arraycopy(tmp, 0, buffer, offset, (int) n);
                }
                return (int) n;
            }
            retryOnEintr("read(socket)");
        }
    }

    @Override
    public void write(int fd, byte[] buffer, int offset, int length) throws NativeIOException {
        while (length > 0) {
            byte[] chunk = offset == 0 && length == buffer.length ? buffer : java.util.Arrays.copyOfRange(buffer, offset, offset + length);
            long n = libc.write(fd, chunk, chunk.length);
            if (n < 0) {
                retryOnEintr("write(socket)");
                continue;
            }
            offset += (int) n;
            length -= (int) n;
        }
    }

    @Override
    public void close(int fd) throws NativeIOException {
        if (libc.close(fd) != 0) {
            throw NativeIOException.of("close", runtime.getLastError());
        }
    }

    private void setTimeout(int fd, int option, Duration timeout, String operation) throws NativeIOException {
        ByteBuffer timeval = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        timeval.putLong(timeout.toSeconds()).putLong(timeout.toNanosPart() / 1000);
        byte[] bytes = timeval.array();
        check(libc.setsockopt(fd, SOL_SOCKET, option, bytes, bytes.length), operation);
    }

    private void check(int result, String operation) throws NativeIOException {
        if (result < 0) {
            throw NativeIOException.of(operation, runtime.getLastError());
        }
    }

    /** Returns when the last error was EINTR (the caller retries), throws otherwise. */
    private void retryOnEintr(String operation) throws NativeIOException {
        int err = runtime.getLastError();
        if (err != Errno.EINTR.code()) {
            throw NativeIOException.of(operation, err);
        }
    }

    /** struct sockaddr_nl {u16 family; u16 pad; u32 pid; u32 groups} for port 0 (the kernel / "assign me one"). */
    static byte[] sockaddrNl() {
        return ByteBuffer.allocate(12).order(ByteOrder.nativeOrder())
                .putShort((short) Netlink.AF_NETLINK).putShort((short) 0).putInt(0).putInt(0).array();
    }

    /** struct sockaddr_in: family native-endian, port and address big-endian, 8 bytes of zeros. */
    static byte[] sockaddrIn(InetSocketAddress a) {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        b.putShort((short) AF_INET);
        b.order(ByteOrder.BIG_ENDIAN).putShort((short) a.getPort()).put(((Inet4Address) a.getAddress()).getAddress());
        return b.array();
    }

    /** struct sockaddr_in6: family, port (BE), flowinfo, 16-byte address, scope id. */
    static byte[] sockaddrIn6(InetSocketAddress a) {
        Inet6Address address = (Inet6Address) a.getAddress();
        ByteBuffer b = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder());
        b.putShort((short) AF_INET6);
        b.order(ByteOrder.BIG_ENDIAN).putShort((short) a.getPort()).putInt(0).put(address.getAddress());
        b.order(ByteOrder.nativeOrder()).putInt(address.getScopeId());
        return b.array();
    }
}
