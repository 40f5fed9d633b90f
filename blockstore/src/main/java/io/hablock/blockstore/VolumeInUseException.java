package io.hablock.blockstore;

/** The volume has open handles, so it cannot be deleted. */
public final class VolumeInUseException extends BlockStoreException {
    public VolumeInUseException(String volume) {
        super("volume '" + volume + "' is in use");
    }
}
