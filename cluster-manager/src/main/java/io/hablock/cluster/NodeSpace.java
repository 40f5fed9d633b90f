package io.hablock.cluster;

import io.hablock.blockstore.BlockStore;
import io.hablock.blockstore.Sizes;
import io.hablock.blockstore.SpaceReserve;
import io.hablock.blockstore.VolumeMetadata;
import java.io.UncheckedIOException;

/**
 * The room a node offers for copies. Without {@code --capacity}: its data directory's free
 * space, plus what its copies already hold, less the {@link SpaceReserve} kept free for
 * everything else on that file system (the embedded ZooKeeper above all). Placement counts the
 * provisioned sizes of the copies against it, so every copy placed on such a node can be
 * written full, unless something else fills the file system (then writes stop at the reserve
 * with ENOSPC).
 */
final class NodeSpace {
    private final BlockStore store;
    private final long configuredBytes;

    /**
     * @param configuredBytes {@code --capacity}: 0 for the automatic figure, negative for none (a
     *     node that stores no copy)
     */
    NodeSpace(BlockStore store, long configuredBytes) {
        this.store = store;
        this.configuredBytes = configuredBytes;
    }

    /** Bytes offered for copies now. */
    long capacity() {
        if (configuredBytes != 0) {
            return Math.max(0, configuredBytes);
        }
        try {
            SpaceReserve r = store.reserve();
            return Math.max(0, r.usableBytes() + store.usedBytes() - r.reserveBytes());
        } catch (UncheckedIOException e) {
            return 0;
        }
    }

    /**
     * Null when a new copy of {@code sizeBytes} fits here now, else why not: the file system's
     * free space above the reserve is smaller than the copy (even with {@code --capacity}, which
     * lets placement overcommit, no copy starts out unable to be written full), or the copies
     * here (provisioned sizes) would exceed the capacity. The rules placement applies, on figures
     * read now rather than published up to 10 s ago.
     */
    String refusal(long sizeBytes) {
        SpaceReserve r = store.reserve();
        long free = r.usableBytes();
        if (free - r.reserveBytes() < sizeBytes) {
            return (free <= r.reserveBytes() ? "its data directory's file system is full (" : "its data directory's file system has ")
                    + Sizes.format(free) + " free, of which " + Sizes.format(r.reserveBytes()) + " are kept free"
                    + (free <= r.reserveBytes() ? ")" : "");
        }
        long provisioned = store.list().stream().mapToLong(VolumeMetadata::sizeBytes).sum();
        long capacity = capacity();
        if (capacity - provisioned < sizeBytes) {
            return "it has room for " + Sizes.format(Math.max(0, capacity - provisioned)) + " more ("
                    + Sizes.format(capacity) + " capacity, " + Sizes.format(provisioned) + " provisioned)";
        }
        return null;
    }
}
