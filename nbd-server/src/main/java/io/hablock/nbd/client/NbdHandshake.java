package io.hablock.nbd.client;

import io.hablock.nbd.protocol.Nbd;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * The client's side of the fixed newstyle handshake: greeting, client flags, then, when asked
 * for, {@code NBD_OPT_STRUCTURED_REPLY} and {@code NBD_OPT_SET_META_CONTEXT} for
 * {@code base:allocation}, and one {@code NBD_OPT_GO} asking for the block size constraints.
 * Options go one at a time, each after the last reply to the one before. Everything the server
 * says is checked before it is used; a reply longer than {@link #MAX_REPLY} ends the handshake.
 * One {@link Negotiation} makes every client's handshake: the blocking ones here (a socket a
 * kernel takes over, {@link NbdClient}) and {@link NbdPipelinedClient}'s, made as bytes arrive.
 */
public final class NbdHandshake {
    /** Longest option reply accepted (the spec's strings are at most 4 KiB). */
    static final int MAX_REPLY = 64 << 10;

    private NbdHandshake() {
    }

    /**
     * What the negotiation agreed on for the export.
     *
     * @param size bytes
     * @param flags transmission flags
     * @param minBlock minimum block size (1 when the server did not say)
     * @param preferredBlock preferred block size (0 when the server did not say)
     * @param maxPayload largest request payload the server accepts (32 MiB when it did not say)
     * @param structuredReplies the server answers with structured replies (it must, to READ)
     * @param baseAllocation the id the server gave the {@code base:allocation} context, empty
     *     when none was selected (BLOCK_STATUS cannot be asked then)
     */
    public record Export(long size, int flags, int minBlock, int preferredBlock, int maxPayload,
            boolean structuredReplies, OptionalInt baseAllocation) {
    }

    /** Blocking reads and writes of the handshake's bytes, over whatever carries them. */
    public interface Wire {
        /** Fills {@code b}; an {@link EOFException} when the server closed first. */
        void readFully(byte[] b) throws IOException;

        void write(byte[] b) throws IOException;
    }

    /**
     * Negotiates {@code export} over {@code wire} (a socket a kernel will take over, say), blocking,
     * with simple replies (what the kernel speaks); returns with the connection in the
     * transmission phase.
     *
     * @throws NbdOptionException when the server refuses the export (its message included)
     */
    public static Export go(Wire wire, String export) throws IOException {
        Negotiation negotiation = new Negotiation(export, exportName(export), false);
        try {
            ByteBuffer greeting = ByteBuffer.wrap(read(wire, GREETING_LENGTH));
            negotiation.greeted(greeting.getLong(), greeting.getLong(), greeting.getShort() & 0xffff);
            while (true) {
                wire.write(negotiation.takeRequest());
                Export done;
                do {
                    ByteBuffer header = ByteBuffer.wrap(read(wire, REPLY_HEADER_LENGTH));
                    long magic = header.getLong();
                    int option = header.getInt();
                    int type = header.getInt();
                    int length = negotiation.checkHeader(magic, option, header.getInt());
                    try {
                        done = negotiation.accept(type, read(wire, length));
                    } catch (NbdOptionException e) {
                        try {
                            wire.write(abortRequest());
                        } catch (IOException gone) {
                            // the server is gone already: nothing to abort
                        }
                        throw e;
                    }
                    if (done != null) {
                        return done;
                    }
                } while (!negotiation.hasRequest());
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

    /** Checks the server's greeting. */
    private static void checkGreeting(long magic, long newstyle, int serverFlags) throws IOException {
        if (magic != Nbd.NBDMAGIC) {
            throw new IOException(String.format("not an NBD server (greeting 0x%016x)", magic));
        }
        if (newstyle != Nbd.IHAVEOPT) {
            throw new IOException("the server does not offer the newstyle handshake (oldstyle servers are not supported)");
        }
        if ((serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("the server does not offer the fixed newstyle handshake");
        }
    }

    /**
     * One client's negotiation, reply by reply, whatever carries the bytes: it says what to send
     * ({@link #takeRequest}) after the greeting and after each reply, and checks every reply.
     * Structured replies and the {@code base:allocation} context are asked for when wanted and
     * used when the server agrees; a server that refuses them is served with simple replies.
     */
    static final class Negotiation {
        /** The option whose replies are awaited. */
        private enum Step { GREETING, STARTTLS, STRUCTURED_REPLY, SET_META_CONTEXT, GO }

        private final String export;
        private final byte[] name;
        private final boolean wantStructured;
        private final boolean wantTls;
        /** The server acknowledged STARTTLS: the TLS handshake comes before the next option. */
        private boolean tlsToStart;
        private Step step = Step.GREETING;
        private ByteBuffer request;
        private boolean structured;
        private OptionalInt baseAllocation = OptionalInt.empty();
        private long size = -1;
        private int flags;
        private int minBlock = 1;
        private int preferredBlock;
        private int maxPayload = 32 << 20;

        /**
         * @param name the export's name as sent ({@link #exportName})
         * @param wantStructured ask for structured replies and {@code base:allocation}
         */
        Negotiation(String export, byte[] name, boolean wantStructured) {
            this(export, name, wantStructured, false);
        }

        /**
         * @param wantTls begin with {@code NBD_OPT_STARTTLS}; a server that refuses it fails the
         *     negotiation (no fallback to the clear: that is what a man in the middle would want)
         */
        Negotiation(String export, byte[] name, boolean wantStructured, boolean wantTls) {
            this.export = export;
            this.name = name;
            this.wantStructured = wantStructured;
            this.wantTls = wantTls;
        }

        /** Checks the server's greeting; the client flags and the first option are then to send. */
        void greeted(long magic, long newstyle, int serverFlags) throws IOException {
            if (step != Step.GREETING) {
                throw new IllegalStateException("greeted twice");
            }
            checkGreeting(magic, newstyle, serverFlags);
            // Only bits the server offered; with NO_ZEROES there is no padding to skip anyway after GO.
            ByteBuffer clientFlags = ByteBuffer.allocate(4).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | (serverFlags & Nbd.FLAG_NO_ZEROES));
            ByteBuffer first = wantTls ? option(Step.STARTTLS, 0) : firstAfterTls();
            request = ByteBuffer.allocate(4 + first.capacity()).put(clientFlags.flip()).put(first.flip());
        }

        private ByteBuffer firstAfterTls() {
            return wantStructured ? option(Step.STRUCTURED_REPLY, 0) : goRequest();
        }

        /**
         * True, once, when the server has just acknowledged STARTTLS: the caller makes the TLS
         * handshake now, then sends {@link #takeRequest} through it.
         */
        boolean takeTlsStart() {
            boolean start = tlsToStart;
            tlsToStart = false;
            return start;
        }

        /** True when the negotiation waits for this client to send an option. */
        boolean hasRequest() {
            return request != null;
        }

        /** What to send now (client flags, an option), once; null when nothing is. */
        byte[] takeRequest() {
            ByteBuffer b = request;
            request = null;
            return b == null ? null : b.array();
        }

        /** Checks a reply's header; returns the length of its data. */
        int checkHeader(long magic, int option, int length) throws IOException {
            if (magic != Nbd.OPTION_REPLY_MAGIC) {
                throw new IOException(String.format("protocol error: option reply magic 0x%016x", magic));
            }
            int expected = code(step);
            if (option != expected) {
                throw new IOException("protocol error: a reply to option " + option + " while negotiating option " + expected);
            }
            if (length < 0 || length > MAX_REPLY) {
                throw new IOException("protocol error: option reply of " + Integer.toUnsignedString(length) + " bytes");
            }
            return length;
        }

        /**
         * Takes one reply; returns the export once the server acknowledged GO, null while more is
         * to come (a reply, or an option to send first: see {@link #takeRequest}).
         *
         * @throws NbdOptionException when the server refused the export
         */
        Export accept(int type, byte[] data) throws IOException {
            return switch (step) {
                case GREETING -> throw new IllegalStateException("a reply before the greeting");
                case STARTTLS -> {
                    if (type == Nbd.REP_ACK) {
                        tlsToStart = true;
                        request = firstAfterTls();
                    } else if ((type & 0x80000000) != 0) {
                        throw new NbdOptionException("export '" + export + "': NBD_OPT_STARTTLS refused", type, new String(data, StandardCharsets.UTF_8).strip());
                    }
                    yield null;
                }
                case STRUCTURED_REPLY -> {
                    if (type == Nbd.REP_ACK || (type & 0x80000000) != 0) {
                        // An error: a server without structured replies, served with simple ones.
                        structured = type == Nbd.REP_ACK;
                        request = structured ? setMetaContext() : goRequest();
                    }
                    yield null;
                }
                case SET_META_CONTEXT -> {
                    metaContext(type, data);
                    yield null;
                }
                case GO -> go(type, data);
            };
        }

        private void metaContext(int type, byte[] data) throws IOException {
            if (type == Nbd.REP_META_CONTEXT) {
                ByteBuffer b = ByteBuffer.wrap(data);
                String context = data.length >= 4 ? new String(data, 4, data.length - 4, StandardCharsets.UTF_8) : null;
                if (!Nbd.BASE_ALLOCATION.equals(context) || baseAllocation.isPresent()) {
                    throw new IOException("protocol error: NBD_REP_META_CONTEXT '" + context + "' for a query of '"
                            + Nbd.BASE_ALLOCATION + "'");
                }
                baseAllocation = OptionalInt.of(b.getInt());
            } else if (type == Nbd.REP_ACK || (type & 0x80000000) != 0) {
                if (type != Nbd.REP_ACK) {
                    baseAllocation = OptionalInt.empty(); // refused: no context, structured replies all the same
                }
                request = goRequest();
            }
        }

        private Export go(int type, byte[] data) throws IOException {
            if (type == Nbd.REP_ACK) {
                if (size < 0) {
                    throw new IOException("protocol error: NBD_OPT_GO acknowledged without NBD_INFO_EXPORT");
                }
                return new Export(size, flags, minBlock, preferredBlock, maxPayload, structured, baseAllocation);
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

        /** {@code NBD_OPT_SET_META_CONTEXT}: the export, one query, {@code base:allocation}. */
        private ByteBuffer setMetaContext() {
            byte[] query = Nbd.BASE_ALLOCATION.getBytes(StandardCharsets.US_ASCII);
            return option(Step.SET_META_CONTEXT, 4 + name.length + 4 + 4 + query.length)
                    .putInt(name.length).put(name).putInt(1).putInt(query.length).put(query);
        }

        /** {@code NBD_OPT_GO} asking for the block size constraints. */
        private ByteBuffer goRequest() {
            return option(Step.GO, 4 + name.length + 2 + 2)
                    .putInt(name.length).put(name).putShort((short) 1).putShort((short) Nbd.INFO_BLOCK_SIZE);
        }

        /** An option's header, its data to be put after it; the replies awaited from now on are {@code next}'s. */
        private ByteBuffer option(Step next, int length) {
            step = next;
            return ByteBuffer.allocate(16 + length).putLong(Nbd.IHAVEOPT).putInt(code(next)).putInt(length);
        }

        private static int code(Step step) {
            return switch (step) {
                case GREETING -> -1;
                case STARTTLS -> Nbd.OPT_STARTTLS;
                case STRUCTURED_REPLY -> Nbd.OPT_STRUCTURED_REPLY;
                case SET_META_CONTEXT -> Nbd.OPT_SET_META_CONTEXT;
                case GO -> Nbd.OPT_GO;
            };
        }
    }

    /** {@code NBD_OPT_ABORT}: ends the negotiation politely. */
    static byte[] abortRequest() {
        return ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_ABORT).putInt(0).array();
    }
}
