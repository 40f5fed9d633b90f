package io.hablock.blockstore;

/** A fenced operation carried an epoch below the one the volume has persisted: refused. */
public final class StaleEpochException extends BlockStoreException {
    private final long requestEpoch;
    private final long volumeEpoch;

    public StaleEpochException(String volume, long requestEpoch, long volumeEpoch) {
        super(
                "volume '"
                        + volume
                        + "': epoch "
                        + requestEpoch
                        + " is below the volume's epoch "
                        + volumeEpoch);
        this.requestEpoch = requestEpoch;
        this.volumeEpoch = volumeEpoch;
    }

    public long requestEpoch() {
        return requestEpoch;
    }

    public long volumeEpoch() {
        return volumeEpoch;
    }
}
