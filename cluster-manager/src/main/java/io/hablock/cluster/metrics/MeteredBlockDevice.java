package io.hablock.cluster.metrics;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.Extent;
import io.hablock.nbd.IoContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link BlockDevice} that counts and times every call into another one, under the labels of
 * one volume. Each call costs two clock reads and a few lock-free counter updates; nothing is
 * allocated and nothing is looked up.
 *
 * <p>A call is counted when it returns, failed or not; a failure is counted again as an error.
 * Bytes count only when the call succeeded. A read the server sends itself from
 * {@link #zeroCopySource} is counted (op and bytes) when the source is handed out, and is not
 * timed, since the time is spent in the server. Extents and cache hints pass through uncounted.
 */
public final class MeteredBlockDevice implements BlockDevice {

    private final BlockDevice delegate;
    private final VolumeMetrics metrics;

    public MeteredBlockDevice(BlockDevice delegate, NodeMetrics metrics, String volume) {
        this.delegate = Objects.requireNonNull(delegate);
        this.metrics = metrics.volume(volume);
    }

    @Override
    public long size() {
        return delegate.size();
    }

    @Override
    public boolean isReadOnly() {
        return delegate.isReadOnly();
    }

    @Override
    public boolean canMultiConn() {
        return delegate.canMultiConn();
    }

    @Override
    public boolean prefersInlineIo() {
        return delegate.prefersInlineIo();
    }

    @Override
    public boolean startsInline() {
        return delegate.startsInline();
    }

    @Override
    public FileChannel zeroCopySource(long offset, long length) throws IOException {
        FileChannel source = delegate.zeroCopySource(offset, length);
        if (source != null) {
            metrics.read.countUntimed();
            metrics.readBytes.inc(length);
        }
        return source;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int bytes = dst.remaining();
        long start = metrics.read.start();
        boolean ok = false;
        try {
            delegate.read(offset, dst);
            ok = true;
        } finally {
            metrics.read.completed(start, ok);
        }
        metrics.readBytes.inc(bytes);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        timedWrite(src.remaining(), () -> delegate.write(offset, src, fua));
    }

    @Override
    public void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        timedWrite(BlockDevice.lengthOf(parts), () -> delegate.write(offset, parts, fua));
    }

    private interface Write {
        void run() throws IOException;
    }

    private void timedWrite(long bytes, Write write) throws IOException {
        long start = metrics.write.start();
        boolean ok = false;
        try {
            write.run();
            ok = true;
        } finally {
            metrics.write.completed(start, ok);
        }
        metrics.writtenBytes.inc(bytes);
    }

    @Override
    public void flush() throws IOException {
        long start = metrics.flush.start();
        boolean ok = false;
        try {
            delegate.flush();
            ok = true;
        } finally {
            metrics.flush.completed(start, ok);
        }
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        long start = metrics.trim.start();
        boolean ok = false;
        try {
            delegate.trim(offset, length, fua);
            ok = true;
        } finally {
            metrics.trim.completed(start, ok);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastOnly, boolean fua)
            throws IOException {
        long start = metrics.zero.start();
        boolean ok = false;
        try {
            delegate.writeZeroes(offset, length, mayTrim, fastOnly, fua);
            ok = true;
        } finally {
            metrics.zero.completed(start, ok);
        }
    }

    // The asynchronous calls: counted and timed when their futures complete.

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst, IoContext io) {
        int bytes = dst.remaining();
        return timed(metrics.read, bytes, metrics.readBytes, () -> delegate.readAsync(offset, dst, io));
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer[] parts, boolean fua, IoContext io) {
        long bytes = BlockDevice.lengthOf(parts);
        return timed(metrics.write, bytes, metrics.writtenBytes, () -> delegate.writeAsync(offset, parts, fua, io));
    }

    @Override
    public CompletableFuture<Void> flushAsync(IoContext io) {
        return timed(metrics.flush, 0, null, () -> delegate.flushAsync(io));
    }

    @Override
    public CompletableFuture<Void> trimAsync(long offset, long length, boolean fua, IoContext io) {
        return timed(metrics.trim, 0, null, () -> delegate.trimAsync(offset, length, fua, io));
    }

    @Override
    public CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean mayTrim, boolean fastOnly,
            boolean fua, IoContext io) {
        return timed(metrics.zero, 0, null, () -> delegate.writeZeroesAsync(offset, length, mayTrim, fastOnly, fua, io));
    }

    @Override
    public CompletableFuture<List<Extent>> extentsAsync(long offset, long length, IoContext io) {
        return delegate.extentsAsync(offset, length, io);
    }

    @Override
    public CompletableFuture<Void> cacheAsync(long offset, long length, IoContext io) {
        return delegate.cacheAsync(offset, length, io);
    }

    private static CompletableFuture<Void> timed(VolumeMetrics.OpMetrics op, long bytes, com.codahale.metrics.Counter counter,
            java.util.function.Supplier<CompletableFuture<Void>> call) {
        long start = op.start();
        return call.get().whenComplete((ok, failure) -> {
            op.completed(start, failure == null);
            if (failure == null && counter != null) {
                counter.inc(bytes);
            }
        });
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        return delegate.extents(offset, length);
    }

    @Override
    public void cache(long offset, long length) throws IOException {
        delegate.cache(offset, length);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
