package io.hablock.cluster.model;

/**
 * A rebuild in progress, as its owner publishes it.
 *
 * @param target node id of the copy being rebuilt
 * @param chunks chunks that differed at the start
 * @param chunksDone of those, copied so far
 * @param bytesSent bytes put on the wire so far (compressed data and checksums)
 * @param startedMillis when it started
 * @param chunkSize comparison granularity
 */
public record RebuildProgress(String target, long chunks, long chunksDone, long bytesSent, long startedMillis,
        long chunkSize) {

    /** 0..100. */
    public int percent() {
        return chunks == 0 ? 100 : (int) (chunksDone * 100 / chunks);
    }
}
