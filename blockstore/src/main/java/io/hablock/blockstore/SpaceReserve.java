package io.hablock.blockstore;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Free space the copies leave alone on the data directory's file system, for what else lives
 * there (the embedded ZooKeeper's log and snapshots, the volumes' metadata, logs): once fewer
 * bytes than the reserve are free, a write that would allocate blocks fails with ENOSPC (a
 * {@link io.hablock.nativeio.NoSpaceException}, NBD_ENOSPC to the client). Overwrites of blocks
 * the file already holds, trims and hole punches go on.
 *
 * <p>The check costs no system call per write while there is room: the free space is looked at
 * again (statvfs) once the bytes written since the last look could have used up the room above
 * the reserve (half of it, as other writers draw on it too), and at least every 100 ms: something
 * else may fill the file system, and only what it fills within those 100 ms can eat into the reserve.
 */
public final class SpaceReserve {
    /** The default reserve is this share of the file system... */
    public static final double DEFAULT_FRACTION = 0.05;
    /** ...but never more than this. */
    public static final long DEFAULT_MAX_BYTES = 1L << 30;

    private static final long RESAMPLE_NANOS = 100_000_000L;

    private final long reserveBytes;
    private final LongSupplier usable;
    private final LongSupplier nanoClock;
    /** Bytes that may still be written before the free space must be looked at again. */
    private final AtomicLong room = new AtomicLong(-1);
    private volatile long sampledAt;

    /**
     * @param usable bytes free for this process on the file system (statvfs)
     * @param nanoClock monotonic time in nanoseconds ({@link System#nanoTime})
     */
    SpaceReserve(long reserveBytes, LongSupplier usable, LongSupplier nanoClock) {
        if (reserveBytes < 0) {
            throw new IllegalArgumentException("negative reserve: " + reserveBytes);
        }
        this.reserveBytes = reserveBytes;
        this.usable = usable;
        this.nanoClock = nanoClock;
        this.sampledAt = nanoClock.getAsLong() - RESAMPLE_NANOS;
    }

    /**
     * The reserve for the file system holding {@code dir}: 5 % of its size, at most 1 GiB
     * ({@code reserveBytes} instead when not negative).
     */
    public static SpaceReserve on(Path dir, long reserveBytes) throws IOException {
        FileStore store = Files.getFileStore(dir);
        long reserve = reserveBytes >= 0 ? reserveBytes : defaultFor(store.getTotalSpace());
        return new SpaceReserve(reserve, () -> {
            try {
                return store.getUsableSpace();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, System::nanoTime);
    }

    /** The default reserve for a file system of {@code totalBytes}. */
    public static long defaultFor(long totalBytes) {
        return Math.min((long) (totalBytes * DEFAULT_FRACTION), DEFAULT_MAX_BYTES);
    }

    public long reserveBytes() {
        return reserveBytes;
    }

    /** Bytes free on the file system for this process now (statvfs). */
    public long usableBytes() {
        return usable.getAsLong();
    }

    /**
     * Throws ENOSPC when writing {@code length} bytes may allocate blocks and the free space is
     * below the reserve; {@code allocated} tells whether the range is held already (asked only then).
     */
    void checkWrite(long length, Allocated allocated) throws IOException {
        long now = nanoClock.getAsLong();
        if (room.addAndGet(-length) >= 0 && now - sampledAt < RESAMPLE_NANOS) {
            return;
        }
        long above = usable.getAsLong() - reserveBytes;
        sampledAt = now;
        room.set(Math.max(0, above - length) / 2); // halved: other writers draw on it too
        if (above < length && !allocated.get()) {
            throw (NativeIOException) NativeIOException.of("write (fewer than the " + Sizes.format(reserveBytes)
                    + " kept free on the data directory's file system are left)", Errno.ENOSPC);
        }
    }

    /** Whether a range is already held by the file: a write there allocates nothing. */
    @FunctionalInterface
    interface Allocated {
        boolean get() throws IOException;
    }
}
