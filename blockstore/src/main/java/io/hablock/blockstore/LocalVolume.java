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
 *
 * <p>Fencing: each volume has a persisted, never decreasing {@linkplain #generation() generation},
 * shared by all its handles. {@link #fenced} runs an operation only if its generation is not below
 * it; the owner and every copy apply every change that way, so a deposed owner (or an abandoned
 * connection of the current one) can never write again.
 */
public final class LocalVolume implements Closeable {
    /** An operation run under an epoch by {@link #fenced}. */
    @FunctionalInterface
    public interface FencedOperation<T> {
        T run() throws IOException;
    }

    private final VolumeFile file;
    private final VolumeEpoch epoch;
    private final BlockStore store;
    private final AtomicBoolean closed = new AtomicBoolean();

    LocalVolume(VolumeFile file, VolumeEpoch epoch, BlockStore store) {
        this.file = file;
        this.epoch = epoch;
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

    /** The epoch of the volume's {@linkplain #generation() generation}. */
    public long epoch() {
        return epoch.get().epoch();
    }

    /** The highest generation persisted for this volume; {@link Generation#ZERO} for a new one. */
    public Generation generation() {
        return epoch.get();
    }

    /**
     * Raises the volume's generation to {@code next} if it is above the current one, durably (temp
     * file, fsync, rename, directory fsync) before returning; never lowers it. Waits for fenced
     * operations running under a lower generation to finish, so none of them is running or will
     * start once this returns. Must not be called from inside a {@link #fenced} operation.
     *
     * @return the generation before the call (what the copy held)
     */
    public Generation raise(Generation next) throws IOException {
        ensureOpen();
        return epoch.raise(next);
    }

    /**
     * Runs {@code operation} under {@code request}: persists it first if it is above the
     * volume's generation, refuses if it is below, and holds off any {@link #raise} until the
     * operation is done.
     *
     * @throws StaleEpochException {@code request} is below the volume's generation; nothing ran
     */
    public <T> T fenced(Generation request, FencedOperation<T> operation) throws IOException {
        ensureOpen();
        return epoch.fenced(request, operation);
    }

    /**
     * XXHash64 (seed 0) of each {@code chunkSize} chunk of the volume's content, the last chunk
     * possibly shorter. Holes are not read, and hash exactly like the same bytes written as zeros,
     * so copies that differ only in allocation have equal checksums. Not a snapshot: writes
     * running meanwhile may or may not be seen.
     *
     * @throws IllegalArgumentException {@code chunkSize} not in 1..64 MiB, or too many chunks
     */
    public long[] checksums(long chunkSize) throws IOException {
        ensureOpen();
        return ExtentChecksums.compute(file, chunkSize);
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
