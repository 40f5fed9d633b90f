package io.hablock.nbd.client;

import io.hablock.nbd.protocol.Nbd;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The client's side of the fixed newstyle handshake: greeting, client flags, one
 * {@code NBD_OPT_GO} asking for the block size constraints. Everything the server says is
 * checked before it is used; a reply longer than {@link #MAX_REPLY} ends the handshake.
 */
final class NbdHandshake {
    /** Longest option reply accepted (the spec's strings are at most 4 KiB). */
    static final int MAX_REPLY = 64 << 10;

    private NbdHandshake() {
    }

    /**
     * What {@code NBD_OPT_GO} told about the export.
     *
     * @param size bytes
     * @param flags transmission flags
     * @param minBlock minimum block size (1 when the server did not say)
     * @param maxPayload largest request payload the server accepts (32 MiB when it did not say)
     */
    record Export(long size, int flags, int minBlock, int maxPayload) {
    }

    /** Negotiates {@code export}; returns with the connection in the transmission phase. */
    static Export go(DataInputStream in, DataOutputStream out, String export) throws IOException {
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        if (name.length > Nbd.MAX_STRING) {
            throw new IllegalArgumentException("export name longer than " + Nbd.MAX_STRING + " bytes");
        }
        try {
            long magic = in.readLong();
            if (magic != Nbd.NBDMAGIC) {
                throw new IOException(String.format("not an NBD server (greeting 0x%016x)", magic));
            }
            long newstyle = in.readLong();
            if (newstyle != Nbd.IHAVEOPT) {
                throw new IOException("the server does not offer the newstyle handshake (oldstyle servers are not supported)");
            }
            int serverFlags = in.readUnsignedShort();
            if ((serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
                throw new IOException("the server does not offer the fixed newstyle handshake");
            }
            // Only bits the server offered; with NO_ZEROES there is no padding to skip anyway after GO.
            out.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE | (serverFlags & Nbd.FLAG_NO_ZEROES));
            out.writeLong(Nbd.IHAVEOPT);
            out.writeInt(Nbd.OPT_GO);
            out.writeInt(4 + name.length + 2 + 2);
            out.writeInt(name.length);
            out.write(name);
            out.writeShort(1);
            out.writeShort(Nbd.INFO_BLOCK_SIZE);
            out.flush();
            return readGoReplies(in, out, export);
        } catch (EOFException e) {
            throw new IOException("the server closed the connection during the handshake", e);
        }
    }

    private static Export readGoReplies(DataInputStream in, DataOutputStream out, String export) throws IOException {
        long size = -1;
        int flags = 0;
        int minBlock = 1;
        int maxPayload = 32 << 20;
        while (true) {
            long magic = in.readLong();
            if (magic != Nbd.OPTION_REPLY_MAGIC) {
                throw new IOException(String.format("protocol error: option reply magic 0x%016x", magic));
            }
            int option = in.readInt();
            int type = in.readInt();
            int length = in.readInt();
            if (option != Nbd.OPT_GO) {
                throw new IOException("protocol error: a reply to option " + option + " while negotiating NBD_OPT_GO");
            }
            if (length < 0 || length > MAX_REPLY) {
                throw new IOException("protocol error: option reply of " + Integer.toUnsignedString(length) + " bytes");
            }
            byte[] data = new byte[length];
            in.readFully(data);
            if (type == Nbd.REP_ACK) {
                if (size < 0) {
                    throw new IOException("protocol error: NBD_OPT_GO acknowledged without NBD_INFO_EXPORT");
                }
                return new Export(size, flags, minBlock, maxPayload);
            }
            if (type == Nbd.REP_INFO) {
                ByteBuffer b = ByteBuffer.wrap(data);
                int info = data.length >= 2 ? b.getShort() & 0xffff : -1;
                if (info == Nbd.INFO_EXPORT && data.length == 12) {
                    size = b.getLong();
                    flags = b.getShort() & 0xffff;
                } else if (info == Nbd.INFO_BLOCK_SIZE && data.length == 14) {
                    minBlock = Math.max(1, b.getInt());
                    b.getInt(); // preferred
                    maxPayload = (int) Math.max(minBlock, Math.min(Integer.toUnsignedLong(b.getInt()), 32L << 20));
                } else if (info == Nbd.INFO_EXPORT || info == Nbd.INFO_BLOCK_SIZE || info < 0) {
                    throw new IOException("protocol error: NBD_REP_INFO of type " + info + " with " + length + " bytes");
                }
                continue; // NAME, DESCRIPTION, or a type newer than this client
            }
            if ((type & 0x80000000) != 0) {
                abort(out);
                throw new NbdOptionException("export '" + export + "' refused", type,
                        new String(data, StandardCharsets.UTF_8).strip());
            }
            // A reply type newer than this client, not an error: the spec says to ignore it.
        }
    }

    /** Ends the negotiation politely; the server may answer or just close, and we close anyway. */
    private static void abort(DataOutputStream out) {
        try {
            out.writeLong(Nbd.IHAVEOPT);
            out.writeInt(Nbd.OPT_ABORT);
            out.writeInt(0);
            out.flush();
        } catch (IOException e) {
            // the server is gone already: nothing to abort
        }
    }
}
