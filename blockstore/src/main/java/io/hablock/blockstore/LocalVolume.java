package io.hablock.blockstore;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A handle on an open local volume, from {@link BlockStore#open(String)}. All handles of one volume
 * share one open file. Thread-safe: many threads may do positional I/O at once, without locks.
 * Ranges must lie inside the volume, else {@link IllegalArgumentException}.
 *
 * <p>Writes are not durable until {@link #flush()}.
 */
public final class LocalVolume implements Closeable {
    private final VolumeFile file;
    private final BlockStore store;
    private final AtomicBoolean closed = new AtomicBoolean();

    LocalVolume(VolumeFile file, BlockStore store) {
        this.file = file;
        this.store = store;
    }

    public VolumeMetadata metadata() {
        return file.metadata();
    }

    /** The volume size in bytes. */
    public long size() {
        return file.size();
    }

    /**
     * Reads exactly {@code dst.remaining()} bytes at {@code offset}; unwritten areas read as zeros.
     */
    public void read(ByteBuffer dst, long offset) throws IOException {
        ensureOpen();
        file.read(dst, offset);
    }

    /**
     * The volume's open file, for a zero-copy transfer (sendfile) of {@code [offset, offset +
     * length)}: positional reads only, and the caller must not close it.
     */
    public FileChannel transferSource(long offset, long length) throws IOException {
        ensureOpen();
        return file.channelForTransfer(offset, length);
    }

    /** Writes all of {@code src.remaining()} bytes at {@code offset}; not synced. */
    public void write(ByteBuffer src, long offset) throws IOException {
        ensureOpen();
        file.write(src, offset);
    }

    /** Makes every write completed before this call durable (fdatasync). */
    public void flush() throws IOException {
        ensureOpen();
        file.flush();
    }

    /** Discards the range: it reads as zeros and frees space where the file system can. */
    public void trim(long offset, long length) throws IOException {
        ensureOpen();
        file.trim(offset, length);
    }

    /**
     * Makes the range read as zeros: by punching a hole if {@code mayPunch}, else by zeroing it in
     * place (space stays allocated); by writing zeros if the file system supports neither.
     */
    public void writeZeroes(long offset, long length, boolean mayPunch) throws IOException {
        ensureOpen();
        file.writeZeroes(offset, length, mayPunch);
    }

    /**
     * Like {@link #writeZeroes} but only where the file system zeroes without writing data (punch
     * hole or zero range).
     *
     * @throws io.hablock.nativeio.OperationNotSupportedException where it cannot; nothing changed
     */
    public void writeZeroesFast(long offset, long length, boolean mayPunch) throws IOException {
        ensureOpen();
        file.writeZeroes(offset, length, mayPunch, true);
    }

    /**
     * The data/hole map of {@code [offset, offset + length)} clipped to the volume size:
     * contiguous, non-overlapping, adjacent extents of the same kind merged. Granularity is the
     * file system's block size; ranges zeroed with ZERO_RANGE may report as holes.
     */
    public List<Extent> extents(long offset, long length) throws IOException {
        ensureOpen();
        return file.extents(offset, length);
    }

    /** Whether {@link #close()} was called on this handle. */
    public boolean isClosed() {
        return closed.get();
    }

    /** Releases this handle; the shared file closes with the last one. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            store.release(file);
        }
    }

    private void ensureOpen() throws ClosedChannelException {
        if (closed.get()) {
            throw new ClosedChannelException();
        }
    }
}
