package io.hablock.cluster.metrics;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.Extent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A block device over a file, by position (thread-safe), offering zero-copy reads; it runs a
 * hook on every call (to move a test clock) and fails the next call on demand.
 */
final class FileBlockDevice implements BlockDevice {
    private final FileChannel file;
    private final long size;
    private final Runnable onCall;
    private final AtomicReference<IOException> nextFailure = new AtomicReference<>();
    private volatile boolean closed;

    FileBlockDevice(Path path, long size, Runnable onCall) throws IOException {
        this.file = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        this.file.truncate(0);
        this.size = size;
        this.onCall = onCall;
    }

    /** The next call fails with {@code failure}. */
    void failNext(IOException failure) {
        nextFailure.set(failure);
    }

    boolean isClosed() {
        return closed;
    }

    private void call() throws IOException {
        onCall.run();
        IOException failure = nextFailure.getAndSet(null);
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public boolean canMultiConn() {
        return true;
    }

    @Override
    public boolean prefersInlineIo() {
        return true;
    }

    @Override
    public FileChannel zeroCopySource(long offset, long length) {
        return offset % 2 == 0 ? file : null; // odd offsets: "not here", as a device may say
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        call();
        long position = offset;
        while (dst.hasRemaining()) {
            int n = file.read(dst, position);
            if (n < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            position += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        call();
        long position = offset;
        while (src.hasRemaining()) {
            position += file.write(src, position);
        }
    }

    @Override
    public void flush() throws IOException {
        call();
        file.force(false);
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        call();
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastOnly, boolean fua)
            throws IOException {
        call();
        ByteBuffer zeros = ByteBuffer.allocate((int) length);
        long position = offset;
        while (zeros.hasRemaining()) {
            position += file.write(zeros, position);
        }
    }

    @Override
    public List<Extent> extents(long offset, long length) {
        return List.of(new Extent(offset, length, false));
    }

    @Override
    public void cache(long offset, long length) {}

    @Override
    public void close() {
        closed = true;
        try {
            file.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
