package io.hablock.cli.admin;

import io.hablock.blockstore.Sizes;
import io.hablock.blockstore.VolumeMetadata;

/**
 * A volume as the admin endpoint shows it (the JSON of {@code volume ls/info --json}).
 *
 * @param allocatedBytes bytes actually allocated on disk, or -1 when not computed
 */
public record VolumeView(String name, String uuid, long sizeBytes, String size, String created,
                         int formatVersion, long allocatedBytes) {

    public static VolumeView of(VolumeMetadata m, long allocatedBytes) {
        return new VolumeView(m.name(), m.uuid().toString(), m.sizeBytes(), Sizes.format(m.sizeBytes()),
                m.created().toString(), m.formatVersion(), allocatedBytes);
    }
}
