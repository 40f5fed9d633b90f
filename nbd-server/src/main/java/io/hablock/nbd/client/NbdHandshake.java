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
public final class NbdHandshake {
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
     * @param preferredBlock preferred block size (0 when the server did not say)
     * @param maxPayload largest request payload the server accepts (32 MiB when it did not say)
     */
    public record Export(long size, int flags, int minBlock, int preferredBlock, int maxPayload) {
    }

    /** Blocking reads and writes of the handshake's bytes, over whatever carries them. */
    public interface Wire {
        /** Fills {@code b}; an {@link EOFException} when the server closed first. */
        void readFully(byte[] b) throws IOException;

        void write(byte[] b) throws IOException;
    }

    /**
     * Negotiates {@code export} over {@code wire} (a socket a kernel will take over, say), blocking;
     * returns with the connection in the transmission phase.
     *
     * @throws NbdOptionException when the server refuses the export (its message included)
     */
    public static Export go(Wire wire, String export) throws IOException {
        byte[] name = exportName(export);
        try {
            ByteBuffer greeting = ByteBuffer.wrap(read(wire, GREETING_LENGTH));
            wire.write(goRequest(checkGreeting(greeting.getLong(), greeting.getLong(), greeting.getShort() & 0xffff), name));
            GoReplies replies = new GoReplies(export);
            while (true) {
                ByteBuffer header = ByteBuffer.wrap(read(wire, REPLY_HEADER_LENGTH));
                long magic = header.getLong();
                int option = header.getInt();
                int type = header.getInt();
                int length = replies.checkHeader(magic, option, header.getInt());
                try {
                    Export done = replies.accept(type, read(wire, length));
                    if (done != null) {
                        return done;
                    }
                } catch (NbdOptionException e) {
                    try {
                        wire.write(abortRequest());
                    } catch (IOException gone) {
                        // the server is gone already: nothing to abort
                    }
                    throw e;
                }
            }
        } catch (EOFException e) {
            throw new IOException("the server closed the connection during the handshake", e);
        }
    }

    private static byte[] read(Wire wire, int n) throws IOException {
        byte[] b = new byte[n];
        wire.readFully(b);
        return b;
    }

    /** Negotiates {@code export} over a blocking socket's streams. */
    static Export go(DataInputStream in, DataOutputStream out, String export) throws IOException {
        return go(new Wire() {
            @Override
            public void readFully(byte[] b) throws IOException {
                in.readFully(b);
            }

            @Override
            public void write(byte[] b) throws IOException {
                out.write(b);
                out.flush();
            }
        }, export);
    }

    /** The export's name as sent; refuses one longer than the protocol allows. */
    static byte[] exportName(String export) {
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        if (name.length > Nbd.MAX_STRING) {
            throw new IllegalArgumentException("export name longer than " + Nbd.MAX_STRING + " bytes");
        }
        return name;
    }

    /** Length of the server's greeting: magic, IHAVEOPT, handshake flags. */
    static final int GREETING_LENGTH = 18;
    /** Length of an option reply's header: magic, option, type, length. */
    static final int REPLY_HEADER_LENGTH = 20;

    /** Checks the server's greeting; returns its handshake flags. */
    static int checkGreeting(long magic, long newstyle, int serverFlags) throws IOException {
        if (magic != Nbd.NBDMAGIC) {
            throw new IOException(String.format("not an NBD server (greeting 0x%016x)", magic));
        }
        if (newstyle != Nbd.IHAVEOPT) {
            throw new IOException("the server does not offer the newstyle handshake (oldstyle servers are not supported)");
        }
        if ((serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("the server does not offer the fixed newstyle handshake");
        }
        return serverFlags;
    }

    /** The client's flags and its {@code NBD_OPT_GO} asking for the block size constraints. */
    static byte[] goRequest(int serverFlags, byte[] name) {
        ByteBuffer b = ByteBuffer.allocate(4 + 8 + 4 + 4 + 4 + name.length + 2 + 2);
        // Only bits the server offered; with NO_ZEROES there is no padding to skip anyway after GO.
        b.putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | (serverFlags & Nbd.FLAG_NO_ZEROES));
        b.putLong(Nbd.IHAVEOPT);
        b.putInt(Nbd.OPT_GO);
        b.putInt(4 + name.length + 2 + 2);
        b.putInt(name.length);
        b.put(name);
        b.putShort((short) 1);
        b.putShort((short) Nbd.INFO_BLOCK_SIZE);
        return b.array();
    }

    /** What the replies to {@code NBD_OPT_GO} said so far, reply by reply. */
    static final class GoReplies {
        private final String export;
        private long size = -1;
        private int flags;
        private int minBlock = 1;
        private int preferredBlock;
        private int maxPayload = 32 << 20;

        GoReplies(String export) {
            this.export = export;
        }

        /** Checks a reply's header; returns the length of its data. */
        int checkHeader(long magic, int option, int length) throws IOException {
            if (magic != Nbd.OPTION_REPLY_MAGIC) {
                throw new IOException(String.format("protocol error: option reply magic 0x%016x", magic));
            }
            if (option != Nbd.OPT_GO) {
                throw new IOException("protocol error: a reply to option " + option + " while negotiating NBD_OPT_GO");
            }
            if (length < 0 || length > MAX_REPLY) {
                throw new IOException("protocol error: option reply of " + Integer.toUnsignedString(length) + " bytes");
            }
            return length;
        }

        /**
         * Takes one reply; returns the export once the server acknowledged GO, null while more
         * replies are to come.
         *
         * @throws NbdOptionException when the server refused the export
         */
        Export accept(int type, byte[] data) throws IOException {
            if (type == Nbd.REP_ACK) {
                if (size < 0) {
                    throw new IOException("protocol error: NBD_OPT_GO acknowledged without NBD_INFO_EXPORT");
                }
                return new Export(size, flags, minBlock, preferredBlock, maxPayload);
            }
            if (type == Nbd.REP_INFO) {
                ByteBuffer b = ByteBuffer.wrap(data);
                int info = data.length >= 2 ? b.getShort() & 0xffff : -1;
                if (info == Nbd.INFO_EXPORT && data.length == 12) {
                    size = b.getLong();
                    flags = b.getShort() & 0xffff;
                } else if (info == Nbd.INFO_BLOCK_SIZE && data.length == 14) {
                    minBlock = Math.max(1, b.getInt());
                    preferredBlock = b.getInt();
                    maxPayload = (int) Math.max(minBlock, Math.min(Integer.toUnsignedLong(b.getInt()), 32L << 20));
                } else if (info == Nbd.INFO_EXPORT || info == Nbd.INFO_BLOCK_SIZE || info < 0) {
                    throw new IOException("protocol error: NBD_REP_INFO of type " + info + " with " + data.length + " bytes");
                }
                return null; // NAME, DESCRIPTION, or a type newer than this client
            }
            if ((type & 0x80000000) != 0) {
                throw new NbdOptionException("export '" + export + "' refused", type,
                        new String(data, StandardCharsets.UTF_8).strip());
            }
            return null; // A reply type newer than this client, not an error: the spec says to ignore it.
        }
    }

    /** {@code NBD_OPT_ABORT}: ends the negotiation politely. */
    static byte[] abortRequest() {
        return ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_ABORT).putInt(0).array();
    }
}
