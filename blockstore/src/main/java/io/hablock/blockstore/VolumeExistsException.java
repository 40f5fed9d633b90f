package io.hablock.blockstore;

/** A volume of that name already exists. */
public final class VolumeExistsException extends BlockStoreException {
    public VolumeExistsException(String volume) {
        super("volume '" + volume + "' already exists");
    }
}
