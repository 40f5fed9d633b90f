package io.hablock.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What the NBD server serves: a fixed-size range of bytes. The server validates every request
 * (range, flags, read-only) before calling in, so implementations see only well-formed calls.
 * The server makes its calls through the asynchronous methods ({@code readAsync} and the
 * others), many in flight at once; their defaults run the blocking methods on the server's I/O
 * workers ({@link IoContext#blocking}), which suits a local file. A device that waits on the
 * network (a forwarder to another node) overrides them and holds no thread while it waits. Small
 * requests of a device that {@linkplain #prefersInlineIo() prefers it} are made through the
 * blocking methods on the network thread, where they must not wait. An implementation is
 * thread-safe; futures may complete on any thread. Failures are {@link IOException}s: a {@link DeviceException} names the
 * {@link DeviceError} the client is sent, any other exception is an I/O error. Mapping what lies
 * below (an errno of the file system) to a {@link DeviceError} is the device's job.
 *
 * <p>A plain local copy is one implementation; the replicated volume of the cluster is another.
 */
public interface BlockDevice extends AutoCloseable {

    /** Size in bytes; constant for the lifetime of the device. */
    long size();

    /** True when writes must be refused with EPERM. */
    boolean isReadOnly();

    /**
     * True when a flush (or FUA) made through this device covers writes completed through any
     * other device opened on the same export, which is what NBD's CAN_MULTI_CONN promises.
     */
    boolean canMultiConn();

    /**
     * True when small reads and writes normally finish in microseconds on the calling thread,
     * as a local file served from the page cache does. The server may then run them on its
     * network thread, saving two thread hops per request; it times them and moves the work back
     * to its I/O workers as soon as one is slow. A device that waits on the network (a
     * replicated volume) must say false. Called on the network thread, a device never waits: when
     * it would have to, it throws {@link WouldBlockException} and the server calls again from a
     * worker.
     */
    default boolean prefersInlineIo() {
        return false;
    }

    /**
     * True when the blocking work of this device's asynchronous calls (its local part: a pread,
     * a pwrite to the page cache) normally takes microseconds, while what takes longer (copies on
     * the network) completes the futures later without a thread. The server may then start small
     * requests on its network thread, running their blocking work right there (the same rules
     * and timing as {@link #prefersInlineIo()}); work that would wait there throws
     * {@link WouldBlockException} and is run again on a worker.
     */
    default boolean startsInline() {
        return false;
    }

    /**
     * False while the server runs the calling request on its network thread (any wait there
     * stalls every connection it serves), true on its I/O workers and other threads.
     */
    static boolean mayWait() {
        return !NetworkThread.isCurrent();
    }

    /**
     * The open file that holds {@code [offset, offset + length)} at the same positions, when the
     * server may send that range straight from it (sendfile: one copy, in the kernel); null
     * otherwise. The server only reads it by position and never closes it.
     */
    default FileChannel zeroCopySource(long offset, long length) throws IOException {
        return null;
    }

    /** Fills {@code dst.remaining()} bytes from {@code offset}; holes read as zeros. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes all of {@code src} at {@code offset}; durable before return when {@code fua}. */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException;

    /**
     * One write whose data came in parts (a payload spread over several socket reads), the
     * parts in order, {@code fua} for the whole. Applies them one by one; a device that sends
     * writes on (to copies, to another node) overrides this so the write stays one request.
     */
    default void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        long position = offset;
        for (int i = 0; i < parts.length; i++) {
            int length = parts[i].remaining();
            write(position, parts[i], fua && i == parts.length - 1);
            position += length;
        }
    }

    /** The bytes of a write in parts: the sum of what remains in each. */
    static long lengthOf(ByteBuffer[] parts) {
        long length = 0;
        for (ByteBuffer p : parts) {
            length += p.remaining();
        }
        return length;
    }

    /** Makes every write completed so far durable. */
    void flush() throws IOException;

    /** Discards a range; it may then read back as zeros or as its old contents. */
    void trim(long offset, long length, boolean fua) throws IOException;

    /**
     * Makes a range read back as zeros.
     *
     * @param mayTrim the range may be deallocated (the client did not ask for NO_HOLE)
     * @param fastOnly fail with {@link DeviceException} {@link DeviceError#NOT_SUPPORTED} rather than zero slowly (FAST_ZERO)
     */
    void writeZeroes(long offset, long length, boolean mayTrim, boolean fastOnly, boolean fua)
            throws IOException;

    /** The allocation map of {@code [offset, offset + length)}, contiguous and in order. */
    List<Extent> extents(long offset, long length) throws IOException;

    /** A hint to bring a range into cache; may do nothing. */
    void cache(long offset, long length) throws IOException;

    // ---- asynchronous calls: the server's way in ------------------------------------------------

    /** {@link #read} without holding a thread while it waits; {@code dst} is filled when the future completes. */
    default CompletableFuture<Void> readAsync(long offset, ByteBuffer dst, IoContext io) {
        return io.blocking(() -> {
            read(offset, dst);
            return null;
        });
    }

    /** {@link #write(long, ByteBuffer[], boolean)}; the parts are not touched once the future completed. */
    default CompletableFuture<Void> writeAsync(long offset, ByteBuffer[] parts, boolean fua, IoContext io) {
        return io.blocking(() -> {
            write(offset, parts, fua);
            return null;
        });
    }

    /** {@link #flush}. */
    default CompletableFuture<Void> flushAsync(IoContext io) {
        return io.blocking(() -> {
            flush();
            return null;
        });
    }

    /** {@link #trim}. */
    default CompletableFuture<Void> trimAsync(long offset, long length, boolean fua, IoContext io) {
        return io.blocking(() -> {
            trim(offset, length, fua);
            return null;
        });
    }

    /** {@link #writeZeroes}. */
    default CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean mayTrim, boolean fastOnly,
            boolean fua, IoContext io) {
        return io.blocking(() -> {
            writeZeroes(offset, length, mayTrim, fastOnly, fua);
            return null;
        });
    }

    /** {@link #extents}. */
    default CompletableFuture<List<Extent>> extentsAsync(long offset, long length, IoContext io) {
        return io.blocking(() -> extents(offset, length));
    }

    /** {@link #cache}. */
    default CompletableFuture<Void> cacheAsync(long offset, long length, IoContext io) {
        return io.blocking(() -> {
            cache(offset, length);
            return null;
        });
    }

    /** Releases this handle; other handles on the same export stay usable. */
    @Override
    void close();
}
