package io.hablock.nbd;

/**
 * A range of a device that either holds data or is a hole (reads as zeros), as BLOCK_STATUS
 * reports it under {@code base:allocation}.
 *
 * @param offset first byte
 * @param length number of bytes, positive
 * @param hole true for a hole, false for data
 */
public record Extent(long offset, long length, boolean hole) {
    /** The first byte after the extent. */
    public long end() {
        return offset + length;
    }
}
