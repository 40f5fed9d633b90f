package io.hablock.blockstore;

/** A volume of that name already exists. */
public final class VolumeExistsException extends BlockStoreException {
    public VolumeExistsException(String volume) {
        super("volume '" + volume + "' already exists");
    }

    /** Volume {@code volume} cannot take {@code uuid}: volume {@code holder} has it. */
    public VolumeExistsException(String volume, java.util.UUID uuid, String holder) {
        super(
                "cannot create volume '"
                        + volume
                        + "': volume '"
                        + holder
                        + "' already has uuid "
                        + uuid);
    }
}
