package io.hablock.nbd.testing;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.ExportProvider;
import io.hablock.nbd.ExportUnavailableException;
import io.hablock.nbd.Extent;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Real exports, watched: counts the device handles the server holds open (a leak shows as a
 * count that never returns to zero) and can hold writes at a gate, so a test can know that
 * requests are in flight inside the server. The devices themselves are the real ones.
 */
public final class TestExports implements ExportProvider {
    private final ExportProvider delegate;
    private final AtomicInteger openHandles = new AtomicInteger();
    private final AtomicInteger writesAtGate = new AtomicInteger();
    private final java.util.Set<java.net.InetAddress> peers = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicLong readsStarted = new java.util.concurrent.atomic.AtomicLong();
    private volatile CountDownLatch writeGate;
    private volatile IOException nextReadFailure;
    private volatile PositionedFailure readFailureAt;
    private volatile PositionedFailure writeFailureAt;
    private volatile boolean zeroCopy = true;
    private volatile long readDelayNanos;
    private volatile boolean startsInline;
    private volatile boolean readsWouldBlockInline;
    private final java.util.Queue<String> readThreads = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.Queue<String> writeThreads = new java.util.concurrent.ConcurrentLinkedQueue<>();

    public TestExports(ExportProvider delegate) {
        this.delegate = delegate;
    }

    @Override
    public List<ExportInfo> list() {
        return delegate.list();
    }

    @Override
    public String describe(String name) {
        return delegate.describe(name);
    }

    @Override
    public BlockDevice open(String name) throws ExportUnavailableException {
        BlockDevice device = delegate.open(name);
        openHandles.incrementAndGet();
        return new WatchedDevice(device);
    }

    /** Device handles opened and not yet closed. */
    public int openHandles() {
        return openHandles.get();
    }

    /** From now on every write waits until {@link #openWriteGate()}. */
    public void closeWriteGate() {
        writeGate = new CountDownLatch(1);
    }

    public void openWriteGate() {
        CountDownLatch gate = writeGate;
        writeGate = null;
        if (gate != null) {
            gate.countDown();
        }
    }

    /** The next read through any handle fails with {@code failure} (a disk error, say). */
    public void failNextRead(IOException failure) {
        nextReadFailure = failure;
    }

    /** The first read through any handle that covers byte {@code position} fails with {@code failure}. */
    public void failReadAt(long position, IOException failure) {
        readFailureAt = new PositionedFailure(position, failure);
    }

    /** The first write through any handle that covers byte {@code position} fails with {@code failure}. */
    public void failWriteAt(long position, IOException failure) {
        writeFailureAt = new PositionedFailure(position, failure);
    }

    /** From now on reads are never sent straight from the file, as with a cluster volume. */
    public void disableZeroCopy() {
        zeroCopy = false;
    }

    /** A one-shot failure of the first call that covers a byte. */
    private record PositionedFailure(long position, IOException failure) {
        boolean covers(long offset, long length) {
            return offset <= position && position < offset + length;
        }
    }

    /**
     * From now on devices opened start their asynchronous calls inline (as a replicated volume)
     * instead of preferring the blocking calls inline (as a local file).
     */
    public void startInline() {
        startsInline = true;
    }

    /** From now on a read on the network thread would have to wait (a lease to renew, say). */
    public void readsWouldBlockInline() {
        readsWouldBlockInline = true;
    }

    /** Every read from now on takes at least this long (a slow disk). */
    public void delayReads(java.time.Duration delay) {
        readDelayNanos = delay.toNanos();
    }

    /** Names of the threads that served reads, oldest first; cleared by the call. */
    public List<String> drainReadThreads() {
        return drain(readThreads);
    }

    /** Names of the threads that served writes, oldest first; cleared by the call. */
    public List<String> drainWriteThreads() {
        return drain(writeThreads);
    }

    private static List<String> drain(java.util.Queue<String> queue) {
        List<String> names = new java.util.ArrayList<>();
        for (String name; (name = queue.poll()) != null; ) {
            names.add(name);
        }
        return names;
    }

    /** From now on connections from {@code address} count as another node's (no cap per client). */
    public void treatAsPeer(java.net.InetAddress address) {
        peers.add(address);
    }

    @Override
    public boolean isPeer(java.net.InetAddress client) {
        return peers.contains(client) || delegate.isPeer(client);
    }

    /** Reads that reached a device (zero-copy reads, sent straight from the file, do not). */
    public long readsStarted() {
        return readsStarted.get();
    }

    /** Writes waiting at the gate right now. */
    public int writesAtGate() {
        return writesAtGate.get();
    }

    private final class WatchedDevice implements BlockDevice {
        private final BlockDevice device;
        private final AtomicInteger closes = new AtomicInteger();

        WatchedDevice(BlockDevice device) {
            this.device = device;
        }

        @Override
        public long size() {
            return device.size();
        }

        @Override
        public boolean isReadOnly() {
            return device.isReadOnly();
        }

        @Override
        public boolean canMultiConn() {
            return device.canMultiConn();
        }

        @Override
        public boolean prefersInlineIo() {
            // A gated device is a slow device: its writes must be in flight, not on the event loop.
            return device.prefersInlineIo() && writeGate == null && !startsInline;
        }

        @Override
        public boolean startsInline() {
            return startsInline && writeGate == null;
        }

        @Override
        public java.nio.channels.FileChannel zeroCopySource(long offset, long length) throws IOException {
            // Reads are served from the file directly then: no read failure or delay can be injected.
            return zeroCopy && nextReadFailure == null && readFailureAt == null && readDelayNanos == 0
                    ? device.zeroCopySource(offset, length) : null;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            IOException failure = nextReadFailure;
            if (failure != null) {
                nextReadFailure = null;
                throw failure;
            }
            PositionedFailure at = readFailureAt;
            if (at != null && at.covers(offset, dst.remaining())) {
                readFailureAt = null;
                throw at.failure();
            }
            readThreads.add(Thread.currentThread().getName());
            readsStarted.incrementAndGet();
            if (readsWouldBlockInline && !BlockDevice.mayWait()) {
                throw new io.hablock.nbd.WouldBlockException("test: this read would wait");
            }
            long delay = readDelayNanos;
            if (delay > 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(delay);
            }
            device.read(offset, dst);
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            writeThreads.add(Thread.currentThread().getName());
            PositionedFailure at = writeFailureAt;
            if (at != null && at.covers(offset, src.remaining())) {
                writeFailureAt = null;
                throw at.failure();
            }
            CountDownLatch gate = writeGate;
            if (gate != null) {
                writesAtGate.incrementAndGet();
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted at the write gate");
                } finally {
                    writesAtGate.decrementAndGet();
                }
            }
            device.write(offset, src, fua);
        }

        @Override
        public void flush() throws IOException {
            device.flush();
        }

        @Override
        public void trim(long offset, long length, boolean fua) throws IOException {
            device.trim(offset, length, fua);
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastOnly, boolean fua)
                throws IOException {
            device.writeZeroes(offset, length, mayTrim, fastOnly, fua);
        }

        @Override
        public List<Extent> extents(long offset, long length) throws IOException {
            return device.extents(offset, length);
        }

        @Override
        public void cache(long offset, long length) throws IOException {
            device.cache(offset, length);
        }

        @Override
        public void close() {
            // Counted once: a double close would hide a leak elsewhere.
            if (closes.getAndIncrement() == 0) {
                openHandles.decrementAndGet();
            }
            device.close();
        }
    }
}
