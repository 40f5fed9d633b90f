package io.hablock.blockstore;

/** A volume name or size that the store does not accept. */
public final class InvalidVolumeException extends BlockStoreException {
    public InvalidVolumeException(String message) {
        super(message);
    }
}
