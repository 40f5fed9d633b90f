package io.hablock.blockstore;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import io.hablock.nativeio.OperationNotSupportedException;
import io.hablock.nativeio.PosixFs;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The one open data file of a volume, shared by all its {@link LocalVolume} handles: a FileChannel
 * for positional read/write plus a native fd for fallocate, lseek and fdatasync. I/O methods are
 * lock-free and safe to call from many threads.
 */
final class VolumeFile {
    private static final int ZERO_CHUNK = 1 << 20;

    /**
     * Source for zero-filling when the file system cannot punch or zero ranges; made on first need.
     */
    private static final class Zeros {
        static final ByteBuffer BUFFER = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();
    }

    private final VolumeMetadata metadata;
    private final long size;
    private final Path path;
    private final PosixFs fs;
    private final int fd;
    private final SpaceReserve reserve;

    /**
     * Replaced only when a thread interrupted during I/O made the JDK close the shared channel; the
     * other threads' I/O must not fail for that.
     */
    private volatile FileChannel channel;

    private boolean closed; // guarded by this
    private int references; // guarded by the owning BlockStore's lock

    private VolumeFile(
            VolumeMetadata metadata, Path path, PosixFs fs, FileChannel channel, int fd, SpaceReserve reserve) {
        this.metadata = metadata;
        this.reserve = reserve;
        this.size = metadata.sizeBytes();
        this.path = path;
        this.fs = fs;
        this.channel = channel;
        this.fd = fd;
    }

    static VolumeFile open(VolumeMetadata metadata, Path path, PosixFs fs, SpaceReserve reserve) throws IOException {
        FileChannel channel = openChannel(path);
        try {
            return new VolumeFile(metadata, path, fs, channel, fs.open(path, true), reserve);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    private static FileChannel openChannel(Path path) throws IOException {
        return FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    VolumeMetadata metadata() {
        return metadata;
    }

    long size() {
        return size;
    }

    /** Adds a handle; caller holds the store lock. */
    void retain() {
        references++;
    }

    /** Drops a handle; caller holds the store lock. Returns true when none is left. */
    boolean release() {
        return --references == 0;
    }

    void read(ByteBuffer dst, long offset) throws IOException {
        checkRange(offset, dst.remaining());
        FileChannel ch = channel;
        long pos = offset;
        while (dst.hasRemaining()) {
            int n;
            try {
                n = ch.read(dst, pos);
            } catch (ClosedChannelException e) {
                ch = recover(ch, e);
                continue;
            }
            if (n < 0) {
                throw new EOFException(
                        "volume '"
                                + metadata.name()
                                + "': data file ends at "
                                + pos
                                + ", before its size "
                                + size);
            }
            pos += n;
        }
    }

    /** The shared channel as it is now, for zero-copy transfers that read it by position. */
    FileChannel channelForTransfer(long offset, long length) {
        checkRange(offset, length);
        return channel;
    }

    void write(ByteBuffer src, long offset) throws IOException {
        checkRange(offset, src.remaining());
        keepReserve(offset, src.remaining());
        writeFully(src, offset);
    }

    /** ENOSPC when the range may need new blocks and the file system is down to its reserve. */
    private void keepReserve(long offset, long length) throws IOException {
        reserve.checkWrite(length, () -> {
            long hole = fs.seekHole(fd, offset);
            return hole < 0 || hole >= offset + length; // no hole before the range's end: all held
        });
    }

    private void writeFully(ByteBuffer src, long offset) throws IOException {
        FileChannel ch = channel;
        long pos = offset;
        while (src.hasRemaining()) {
            try {
                pos += ch.write(src, pos);
            } catch (ClosedChannelException e) {
                ch = recover(ch, e);
            } catch (IOException e) {
                throw noSpaceOr(e);
            }
        }
    }

    /**
     * The JDK reports a full file system as a plain IOException with strerror's text: give it
     * its errno back, so that the client is told ENOSPC rather than EIO.
     */
    private static IOException noSpaceOr(IOException e) {
        String m = e.getMessage();
        Errno errno = m == null ? null
                : m.contains(Errno.ENOSPC.description()) ? Errno.ENOSPC
                : m.contains(Errno.EDQUOT.description()) ? Errno.EDQUOT : null;
        if (errno == null) {
            return e;
        }
        NativeIOException n = NativeIOException.of("write", errno);
        n.initCause(e);
        return n;
    }

    void flush() throws IOException {
        // fdatasync on any fd of the file covers writes made through the channel: same inode.
        fs.fdatasync(fd);
    }

    void trim(long offset, long length) throws IOException {
        writeZeroes(offset, length, true);
    }

    void writeZeroes(long offset, long length, boolean mayPunch) throws IOException {
        writeZeroes(offset, length, mayPunch, false);
    }

    void writeZeroes(long offset, long length, boolean mayPunch, boolean fastOnly)
            throws IOException {
        checkRange(offset, length);
        if (length == 0) {
            return; // fallocate rejects empty ranges
        }
        try {
            if (mayPunch) {
                fs.punchHole(fd, offset, length);
            } else {
                keepReserve(offset, length); // zeroing without punching allocates
                fs.zeroRange(fd, offset, length);
            }
        } catch (OperationNotSupportedException e) {
            if (fastOnly) {
                throw e;
            }
            keepReserve(offset, length);
            writeZeroBytes(offset, length);
        }
    }

    /**
     * The slow path for file systems without fallocate modes: plain writes from a shared buffer.
     */
    private void writeZeroBytes(long offset, long length) throws IOException {
        long end = offset + length;
        for (long pos = offset; pos < end; pos += ZERO_CHUNK) {
            ByteBuffer chunk = Zeros.BUFFER.duplicate();
            chunk.limit((int) Math.min(ZERO_CHUNK, end - pos));
            writeFully(chunk, pos);
        }
    }

    List<Extent> extents(long offset, long length) throws IOException {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException(
                    "negative offset or length: " + offset + ", " + length);
        }
        long end = length > size - offset ? size : offset + length;
        return ExtentMapper.map(fs, fd, Math.min(offset, size), end);
    }

    long dataBytes() throws IOException {
        return ExtentMapper.dataBytes(fs, fd, size);
    }

    /**
     * The channel was closed under us. If this store closed it, fail. If a thread's interrupt
     * closed it (JDK behaviour for interruptible channels), reopen it for everyone; the interrupted
     * thread itself still gets its {@link ClosedByInterruptException}.
     */
    private FileChannel recover(FileChannel broken, ClosedChannelException cause)
            throws IOException {
        FileChannel replacement;
        synchronized (this) {
            if (closed) {
                throw cause;
            }
            if (channel == broken) {
                channel = openChannel(path);
            }
            replacement = channel;
        }
        if (cause instanceof ClosedByInterruptException) {
            throw cause;
        }
        return replacement;
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IllegalArgumentException(
                    "range of "
                            + length
                            + " bytes at "
                            + offset
                            + " is outside volume '"
                            + metadata.name()
                            + "' of "
                            + size
                            + " bytes");
        }
    }

    /** Closes channel and fd; idempotent. Returns the first failure instead of throwing. */
    synchronized IOException close() {
        if (closed) {
            return null;
        }
        closed = true;
        IOException failure = null;
        try {
            channel.close();
        } catch (IOException e) {
            failure = e;
        }
        try {
            fs.close(fd);
        } catch (IOException e) {
            failure = failure == null ? e : failure;
        }
        return failure;
    }
}
