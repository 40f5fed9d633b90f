package io.hablock.nbd.server;

import io.netty.channel.DefaultMessageSizeEstimator;
import io.netty.channel.FileRegion;
import io.netty.channel.MessageSizeEstimator;

/**
 * Netty counts a {@link FileRegion} as zero bytes waiting to be written, so a client that
 * never reads its replies would never make the channel unwritable. This counts what the region
 * will send, so back-pressure works for sendfile replies too.
 */
final class RegionAwareSizeEstimator implements MessageSizeEstimator {
    static final RegionAwareSizeEstimator INSTANCE = new RegionAwareSizeEstimator();

    private final Handle handle = msg -> msg instanceof FileRegion region
            ? (int) Math.min(Integer.MAX_VALUE, region.count() - region.transferred())
            : DefaultMessageSizeEstimator.DEFAULT.newHandle().size(msg);

    @Override
    public Handle newHandle() {
        return handle;
    }
}
