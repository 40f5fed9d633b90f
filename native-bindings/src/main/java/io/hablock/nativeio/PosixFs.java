package io.hablock.nativeio;

import java.nio.file.Path;

/**
 * The few Linux file calls the JDK lacks, on raw file descriptors. Every failure is a {@link
 * NativeIOException} carrying the errno. Implementations are thread-safe.
 *
 * <p>Tests substitute {@link io.hablock.nativeio.testing.FaultInjectingPosixFs} to make calls fail
 * on demand.
 */
public interface PosixFs {

    /** The real libc implementation (Linux x86_64 / aarch64), loaded on first use. */
    static PosixFs system() {
        return JnrPosixFs.instance();
    }

    /** {@code open(path, O_RDONLY or O_RDWR | O_CLOEXEC)}; returns the file descriptor. */
    int open(Path path, boolean readWrite) throws NativeIOException;

    /** {@code close(fd)}. Not retried on EINTR: on Linux the descriptor is gone either way. */
    void close(int fd) throws NativeIOException;

    /** Deallocates the range, keeping the file size; the range then reads as zeros. */
    void punchHole(int fd, long offset, long length) throws NativeIOException;

    /** Zeroes the range efficiently (unwritten extents), keeping the file size. */
    void zeroRange(int fd, long offset, long length) throws NativeIOException;

    /**
     * Makes all completed writes to the file durable (data plus the metadata needed to read it).
     */
    void fdatasync(int fd) throws NativeIOException;

    /**
     * {@code lseek(SEEK_DATA)}: first data offset at or after {@code offset}, -1 if none (ENXIO).
     */
    long seekData(int fd, long offset) throws NativeIOException;

    /**
     * {@code lseek(SEEK_HOLE)}: first hole at or after {@code offset} (EOF counts), -1 on ENXIO.
     */
    long seekHole(int fd, long offset) throws NativeIOException;
}
