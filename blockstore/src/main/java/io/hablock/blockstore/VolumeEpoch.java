package io.hablock.blockstore;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The fencing {@link Generation} of one volume, persisted in its {@code volume.json}. One instance
 * per volume for the life of the store (it outlives the volume's open file), so every handle sees
 * the same value.
 *
 * <p>Fenced operations hold the read side of a lock while they run; raising the generation takes
 * the write side. So once {@link #raise} returns, no operation admitted under a lower generation
 * is still running, and none will start.
 */
final class VolumeEpoch {
    private final VolumeMetadata metadata;
    private final Path metadataFile;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile Generation current; // written under the write lock
    private boolean retired; // guarded by the write lock (read under either)

    VolumeEpoch(VolumeMetadata metadata, Path metadataFile, Generation current) {
        this.metadata = metadata;
        this.metadataFile = metadataFile;
        this.current = current;
    }

    Generation get() {
        return current;
    }

    /**
     * Persists {@code next} (temp file, fsync, rename, fsync dir) if above the current generation.
     *
     * @return the generation before the call
     */
    Generation raise(Generation next) throws IOException {
        Generation before = current;
        if (!before.isBelow(next)) {
            return before; // never lowers; the common case takes no lock
        }
        lock.writeLock().lock();
        try {
            ensureLive();
            before = current;
            if (before.isBelow(next)) {
                DurableFiles.writeAtomically(
                        metadataFile, MetadataCodec.toJson(metadata, next), Step.Listener.NONE);
                current = next;
            }
            return before;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Runs {@code operation} under {@code request}: refuses it below the persisted generation,
     * persists a higher one first, and keeps any raise from completing while it runs.
     */
    <T> T fenced(Generation request, LocalVolume.FencedOperation<T> operation) throws IOException {
        while (true) {
            if (current.isBelow(request)) {
                raise(request);
            }
            lock.readLock().lock();
            try {
                ensureLive();
                Generation now = current;
                int c = request.compareTo(now);
                if (c < 0) {
                    throw new StaleEpochException(metadata.name(), request, now);
                }
                if (c == 0) {
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
