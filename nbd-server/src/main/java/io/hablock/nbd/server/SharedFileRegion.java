package io.hablock.nbd.server;

import io.netty.channel.DefaultFileRegion;
import java.nio.channels.FileChannel;

/**
 * A range of a volume's shared open file, sent with sendfile. Unlike a plain
 * {@link DefaultFileRegion} it leaves the file open when released: the file belongs to the
 * volume and serves every connection.
 */
final class SharedFileRegion extends DefaultFileRegion {

    SharedFileRegion(FileChannel file, long position, long count) {
        super(file, position, count);
    }

    @Override
    protected void deallocate() {
        // The volume owns the file; nothing to close here.
    }
}
