package io.hablock.cluster;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.Extent;
import io.hablock.nbd.IoContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One NBD connection's handle on a {@link ReplicatedVolume}. Reads are never sent straight from
 * the file (sendfile): the data must be read before the check that this node still owns the
 * volume, not after it. Changes go through the volume's asynchronous calls: none holds a thread
 * while the copies answer. Failures of the local copy's file system reach the server as
 * {@link io.hablock.nbd.DeviceError}s ({@link LocalErrors}).
 */
final class ReplicatedBlockDevice implements BlockDevice {
    private final ReplicatedVolume volume;
    private final boolean readOnly;
    private final Runnable onClose;

    ReplicatedBlockDevice(ReplicatedVolume volume, boolean readOnly, Runnable onClose) {
        this.volume = volume;
        this.readOnly = readOnly;
        this.onClose = onClose;
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
        // Every connection goes through the same local file and the same copies; a flush syncs
        // the file and every copy, covering writes completed on any connection.
        return true;
    }

    @Override
    public boolean prefersInlineIo() {
        // Alone, the volume is a local file: its blocking calls on the network thread cost the
        // least (no future per request); with copies, changes must not wait there.
        return !volume.hasPeers();
    }

    @Override
    public boolean startsInline() {
        // The local part is a page-cache read or write (microseconds); copies answer later, and
        // the lease, the membership or an overlapping change make a request wait elsewhere.
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        try {
            volume.read(offset, dst);
        } catch (IOException e) {
            throw LocalErrors.toDevice(e);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        try {
            volume.write(offset, src, fua);
        } catch (IOException e) {
            throw LocalErrors.toDevice(e);
        }
    }

    @Override
    public void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        try {
            volume.write(offset, parts, fua);
        } catch (IOException e) {
            throw LocalErrors.toDevice(e);
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            volume.flush();
        } catch (IOException e) {
            throw LocalErrors.toDevice(e);
        }
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        try {
            volume.trim(offset, length, fua);
        } catch (IOException e) {
            throw LocalErrors.toDevice(e);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastOnly, boolean fua)
            throws IOException {
        try {
            volume.writeZeroes(offset, length, mayTrim, fastOnly, fua);
        } catch (IOException e) {
            throw LocalErrors.toDevice(e);
        }
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer[] parts, boolean fua, IoContext io) {
        return LocalErrors.toDevice(volume.writeAsync(offset, parts, fua, io));
    }

    @Override
    public CompletableFuture<Void> flushAsync(IoContext io) {
        return LocalErrors.toDevice(volume.flushAsync(io));
    }

    @Override
    public CompletableFuture<Void> trimAsync(long offset, long length, boolean fua, IoContext io) {
        return LocalErrors.toDevice(volume.trimAsync(offset, length, fua, io));
    }

    @Override
    public CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean mayTrim, boolean fastOnly,
            boolean fua, IoContext io) {
        return LocalErrors.toDevice(volume.writeZeroesAsync(offset, length, mayTrim, fastOnly, fua, io));
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        try {
            return volume.extents(offset, length).stream().map(e -> new Extent(e.offset(), e.length(), e.hole())).toList();
        } catch (IOException e) {
            throw LocalErrors.toDevice(e);
        }
    }

    @Override
    public void cache(long offset, long length) {
    }

    @Override
    public void close() {
        onClose.run();
    }
}
