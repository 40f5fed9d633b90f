package io.hablock.nativeio.nbd;

import io.hablock.nativeio.NativeIOException;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The Linux calls kernel NBD attach needs, on raw descriptors; every failure is a {@link
 * NativeIOException} carrying the errno. {@link #system()} is the real libc; tests substitute a
 * fake kernel. Implementations are thread-safe.
 */
public interface NbdSyscalls {

    /** The real libc implementation (Linux x86_64 / aarch64), loaded on first use. */
    static NbdSyscalls system() {
        return JnrNbdSyscalls.instance();
    }

    /**
     * {@code socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC)}, bound to a port the
     * kernel picks, with {@code receiveTimeout} as SO_RCVTIMEO so a lost reply cannot hang us.
     */
    int openGenericNetlink(Duration receiveTimeout) throws NativeIOException;

    /** Sends one netlink message (position to limit) to the kernel (port 0). */
    void sendToKernel(int fd, ByteBuffer message) throws NativeIOException;

    /** Receives one datagram (EAGAIN when SO_RCVTIMEO expires). */
    ByteBuffer receive(int fd) throws NativeIOException;

    /** {@code open(path, O_RDWR | O_CLOEXEC)}, for {@code /dev/nbdN}. */
    int openDevice(Path path) throws NativeIOException;

    /** {@code ioctl(fd, request, arg)}; {@link NbdIoctl#NBD_DO_IT} blocks until the device disconnects. */
    void ioctl(int fd, int request, long arg) throws NativeIOException;

    /**
     * A TCP socket connected to {@code address} (blocking, CLOEXEC, TCP_NODELAY), within {@code
     * timeout}. Read and write with {@link #read} / {@link #write}; clear the timeouts with {@link
     * #clearTimeouts} before the kernel takes it over.
     */
    int connectTcp(InetSocketAddress address, Duration timeout) throws NativeIOException;

    /** Sets SO_RCVTIMEO and SO_SNDTIMEO of a socket back to "never". */
    void clearTimeouts(int fd) throws NativeIOException;

    /** {@code read(fd, ...)} into {@code buffer[offset..offset+length)}; 0 at end of stream. */
    int read(int fd, byte[] buffer, int offset, int length) throws NativeIOException;

    /** Writes all of {@code buffer[offset..offset+length)}. */
    void write(int fd, byte[] buffer, int offset, int length) throws NativeIOException;

    /** {@code close(fd)}. */
    void close(int fd) throws NativeIOException;
}
