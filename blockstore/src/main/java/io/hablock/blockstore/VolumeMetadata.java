package io.hablock.blockstore;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * What a node knows about one local volume, as stored in its {@code volume.json}.
 *
 * @param name the volume name, unique in the store
 * @param uuid identity of this incarnation (a re-created volume of the same name gets a new one)
 * @param sizeBytes the fixed size, a multiple of 512
 * @param created when the volume was created
 * @param formatVersion the on-disk format, currently {@value #CURRENT_FORMAT}
 */
public record VolumeMetadata(
        String name, UUID uuid, long sizeBytes, Instant created, int formatVersion) {
    /** The format version this code writes and reads. */
    public static final int CURRENT_FORMAT = 1;

    public VolumeMetadata {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(created, "created");
    }
}
