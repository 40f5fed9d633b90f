package io.hablock.blockstore;

/**
 * A fenced operation carried a generation below the one the volume has persisted: refused. With
 * a lower epoch the sender was deposed; with the same epoch and a lower sequence it comes from a
 * connection of the owner that an owner's membership change made obsolete.
 */
public final class StaleEpochException extends BlockStoreException {
    private final Generation request;
    private final Generation volume;

    public StaleEpochException(String volumeName, Generation request, Generation volume) {
        super(
                "volume '"
                        + volumeName
                        + "': "
                        + (request.epoch() < volume.epoch()
                                ? "epoch " + request.epoch() + " is below the volume's epoch " + volume.epoch()
                                : "generation " + request + " is below the volume's generation " + volume));
        this.request = request;
        this.volume = volume;
    }

    public Generation request() {
        return request;
    }

    public Generation volume() {
        return volume;
    }

    /** True when the sender's epoch is older (a deposed owner), not only its membership sequence. */
    public boolean olderEpoch() {
        return request.epoch() < volume.epoch();
    }
}
