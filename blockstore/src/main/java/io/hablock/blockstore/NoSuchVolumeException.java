package io.hablock.blockstore;

/** No volume of that name exists. */
public final class NoSuchVolumeException extends BlockStoreException {
    public NoSuchVolumeException(String volume) {
        super("volume '" + volume + "' does not exist");
    }
}
