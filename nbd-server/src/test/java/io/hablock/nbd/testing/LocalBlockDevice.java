package io.hablock.nbd.testing;

import io.hablock.blockstore.LocalVolume;
import io.hablock.nativeio.OperationNotSupportedException;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.DeviceError;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.Extent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;

/**
 * A volume of the local block store served as it is, so that the server's tests run against
 * real files (holes, SEEK_DATA, fdatasync through a fault-injecting {@code PosixFs}). Every
 * handle of one volume shares the store's single open file, so a flush through any handle covers
 * writes through all of them: that is what makes CAN_MULTI_CONN true. Of the file system's
 * errors it names only what the tests need (FAST_ZERO refused); any other is an I/O error.
 */
final class LocalBlockDevice implements BlockDevice {
    private final LocalVolume volume;
    private final boolean readOnly;

    LocalBlockDevice(LocalVolume volume, boolean readOnly) {
        this.volume = volume;
        this.readOnly = readOnly;
    }

    @Override
    public long size() {
        return volume.size();
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
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
    public FileChannel zeroCopySource(long offset, long length) throws IOException {
        return volume.transferSource(offset, length);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        volume.read(dst, offset);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        volume.write(src, offset);
        if (fua) {
            volume.flush();
        }
    }

    @Override
    public void flush() throws IOException {
        volume.flush();
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        volume.trim(offset, length);
        if (fua) {
            volume.flush();
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastOnly, boolean fua)
            throws IOException {
        if (fastOnly) {
            try {
                volume.writeZeroesFast(offset, length, mayTrim);
            } catch (OperationNotSupportedException e) {
                throw new DeviceException(DeviceError.NOT_SUPPORTED, "this file system cannot zero a range quickly", e);
            }
        } else {
            volume.writeZeroes(offset, length, mayTrim);
        }
        if (fua) {
            volume.flush();
        }
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        return volume.extents(offset, length).stream().map(e -> new Extent(e.offset(), e.length(), e.hole())).toList();
    }

    @Override
    public void cache(long offset, long length) {
        // The page cache does this job for a local file; nothing to prefetch.
    }

    @Override
    public void close() {
        volume.close();
    }
}
