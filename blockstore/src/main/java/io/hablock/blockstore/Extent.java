package io.hablock.blockstore;

/**
 * A range of a volume that either holds data or is a hole (reads as zeros, no space used).
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
