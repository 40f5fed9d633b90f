package io.hablock.cli.host;

import io.hablock.nativeio.nbd.NbdSyscalls;
import io.hablock.nbd.protocol.Nbd;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The client side of the fixed-newstyle NBD handshake, just far enough to hand the socket to the
 * kernel: NBD_OPT_GO for one export, which answers its size, transmission flags and preferred
 * block size. Runs on a raw descriptor because the kernel needs the descriptor afterwards.
 */
final class NbdHandshake {
    /** The export as the server announced it; {@code preferredBlockSize} is 0 when not announced. */
    record Export(long size, int flags, int preferredBlockSize) {
    }

    private final NbdSyscalls sys;
    private final int fd;

    private NbdHandshake(NbdSyscalls sys, int fd) {
        this.sys = sys;
        this.fd = fd;
    }

    /** Negotiates {@code exportName} on connected socket {@code fd}; leaves it in transmission phase. */
    static Export go(NbdSyscalls sys, int fd, String exportName) throws IOException {
        return new NbdHandshake(sys, fd).go(exportName);
    }

    private Export go(String exportName) throws IOException {
        ByteBuffer greeting = read(18);
        if (greeting.getLong() != Nbd.NBDMAGIC || greeting.getLong() != Nbd.IHAVEOPT) {
            throw new IOException("not a newstyle NBD server");
        }
        int serverFlags = greeting.getShort() & 0xffff;
        if ((serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("the NBD server does not speak fixed newstyle");
        }
        int clientFlags = Nbd.FLAG_C_FIXED_NEWSTYLE | (serverFlags & Nbd.FLAG_NO_ZEROES);
        byte[] name = Nbd.utf8(exportName, Nbd.MAX_STRING);
        ByteBuffer out = ByteBuffer.allocate(4 + 16 + 4 + name.length + 4);
        out.putInt(clientFlags);
        out.putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(4 + name.length + 2 + 2);
        out.putInt(name.length).put(name).putShort((short) 1).putShort((short) Nbd.INFO_BLOCK_SIZE);
        sys.write(fd, out.array(), 0, out.position());

        long size = -1;
        int flags = 0;
        int preferred = 0;
        while (true) {
            ByteBuffer header = read(20);
            if (header.getLong() != Nbd.OPTION_REPLY_MAGIC) {
                throw new IOException("bad option reply magic from the NBD server");
            }
            header.getInt(); // the option we sent
            int type = header.getInt();
            int length = header.getInt();
            if (length < 0 || length > 64 * 1024) {
                throw new IOException("option reply of " + length + " bytes from the NBD server");
            }
            ByteBuffer data = read(length);
            if (type == Nbd.REP_ACK) {
                break;
            }
            if ((type & 0x80000000) != 0) {
                String message = StandardCharsets.UTF_8.decode(data).toString();
                throw new IOException("the NBD server refused export '" + exportName + "'"
                        + (message.isEmpty() ? "" : ": " + message));
            }
            if (type == Nbd.REP_INFO && length >= 2) {
                int info = data.getShort() & 0xffff;
                if (info == Nbd.INFO_EXPORT && length >= 12) {
                    size = data.getLong();
                    flags = data.getShort() & 0xffff;
                } else if (info == Nbd.INFO_BLOCK_SIZE && length >= 14) {
                    data.getInt(); // minimum
                    preferred = data.getInt();
                }
            }
        }
        if (size < 0) {
            throw new IOException("the NBD server did not announce the size of '" + exportName + "'");
        }
        return new Export(size, flags, preferred);
    }

    private ByteBuffer read(int n) throws IOException {
        byte[] b = new byte[n];
        for (int done = 0; done < n; ) {
            int r = sys.read(fd, b, done, n - done);
            if (r == 0) {
                throw new EOFException("the NBD server closed the connection during the handshake");
            }
            done += r;
        }
        return ByteBuffer.wrap(b);
    }
}
