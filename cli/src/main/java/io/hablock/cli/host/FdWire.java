package io.hablock.cli.host;

import io.hablock.nativeio.nbd.NbdSyscalls;
import io.hablock.nbd.client.NbdHandshake;
import java.io.EOFException;
import java.io.IOException;

/**
 * The NBD handshake's bytes over a raw socket descriptor, which the kernel takes over afterwards
 * (so no Java stream may buffer anything read ahead).
 */
final class FdWire implements NbdHandshake.Wire {
    private final NbdSyscalls sys;
    private final int fd;

    FdWire(NbdSyscalls sys, int fd) {
        this.sys = sys;
        this.fd = fd;
    }

    @Override
    public void readFully(byte[] b) throws IOException {
        for (int done = 0; done < b.length; ) {
            int r = sys.read(fd, b, done, b.length - done);
            if (r == 0) {
                throw new EOFException("the NBD server closed the connection during the handshake");
            }
            done += r;
        }
    }

    @Override
    public void write(byte[] b) throws IOException {
        sys.write(fd, b, 0, b.length);
    }
}
