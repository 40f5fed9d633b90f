package io.hablock.blockstore;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The fencing epoch of one volume, persisted in its {@code volume.json}. One instance per volume for
 * the life of the store (it outlives the volume's open file), so every handle sees the same value.
 *
 * <p>Fenced operations hold the read side of a lock while they run; raising the epoch takes the
 * write side. So once {@link #raise} returns, no operation admitted under a lower epoch is still
 * running, and none will start.
 */
final class VolumeEpoch {
    private final VolumeMetadata metadata;
    private final Path metadataFile;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile long epoch; // written under the write lock
    private boolean retired; // guarded by the write lock (read under either)

    VolumeEpoch(VolumeMetadata metadata, Path metadataFile, long epoch) {
        this.metadata = metadata;
        this.metadataFile = metadataFile;
        this.epoch = epoch;
    }

    long get() {
        return epoch;
    }

    /** Persists {@code newEpoch} (temp file, fsync, rename, fsync dir) if above the current one. */
    void raise(long newEpoch) throws IOException {
        if (newEpoch < 0) {
            throw new IllegalArgumentException("negative epoch " + newEpoch);
        }
        if (newEpoch <= epoch) {
            return; // never lowers; the common case takes no lock
        }
        lock.writeLock().lock();
        try {
            ensureLive();
            if (newEpoch > epoch) {
                DurableFiles.writeAtomically(
                        metadataFile, MetadataCodec.toJson(metadata, newEpoch), Step.Listener.NONE);
                epoch = newEpoch;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Runs {@code operation} under {@code requestEpoch}: refuses it below the persisted epoch,
     * persists a higher one first, and keeps any raise from completing while it runs.
     */
    <T> T fenced(long requestEpoch, LocalVolume.FencedOperation<T> operation) throws IOException {
        while (true) {
            if (requestEpoch > epoch) {
                raise(requestEpoch);
            }
            lock.readLock().lock();
            try {
                ensureLive();
                long current = epoch;
                if (requestEpoch < current) {
                    throw new StaleEpochException(metadata.name(), requestEpoch, current);
                }
                if (requestEpoch == current) {
                    return operation.run();
                }
                // A concurrent raise cannot lower it, so this only repeats after a failed raise.
            } finally {
                lock.readLock().unlock();
            }
        }
    }

    /** After a delete or store close, no metadata write may touch the directory again. */
    void retire() {
        lock.writeLock().lock();
        try {
            retired = true;
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void ensureLive() throws BlockStoreException {
        if (retired) {
            throw new BlockStoreException(
                    "volume '" + metadata.name() + "' was deleted or its store closed");
        }
    }
}
