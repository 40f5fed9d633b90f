package io.hablock.cli.acceptance.fault;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * A minimal blocking NBD client (fixed newstyle, NBD_OPT_GO, simple replies), enough for the
 * checker to know exactly which writes were acknowledged. A request waits for its reply in
 * short slices, so the caller can give up on a connection whose server stopped answering (a
 * partitioned owner) as soon as the cluster names another owner. Requests can also be sent
 * first and awaited later ({@link #sendRead}, {@link #sendWrite}, {@link #await}): they then
 * sit in the socket of a stopped or cut-off server until it wakes or the link is back.
 */
final class NbdConnection implements AutoCloseable {
    private static final long NBDMAGIC = 0x4e42444d41474943L;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final long OPT_REPLY_MAGIC = 0x3e889045565a9L;
    private static final int REQUEST_MAGIC = 0x25609513;
    private static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    private static final int OPT_GO = 7;
    private static final int REP_ACK = 1;
    private static final int REP_INFO = 3;
    private static final int CMD_READ = 0;
    private static final int CMD_WRITE = 1;
    private static final int CMD_DISC = 2;
    private static final int FLAG_FUA = 1;
    private static final int SLICE_MS = 200;

    /** The server refused the export in the handshake (for example: not the owner); its message. */
    static final class Refused extends IOException {
        Refused(String message) {
            super(message);
        }
    }

    /** The server answered a request with an NBD error number. */
    static final class RequestFailed extends IOException {
        RequestFailed(String message) {
            super(message);
        }
    }

    /** The caller gave up waiting for a reply. */
    static final class Abandoned extends IOException {
        Abandoned(String message) {
            super(message);
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final String address;
    private final long size;
    private long nextHandle = 1;
    /** Requests sent and not answered yet: handle to the length of the data a read gets back (0 for a write). */
    private final Map<Long, Integer> pending = new HashMap<>();
    /** Replies that came while the caller waited for another request, until they are awaited. */
    private final Map<Long, Reply> early = new HashMap<>();
    /** Requests whose caller gave up: their replies may still come, and must not be mistaken. */
    private final Set<Long> abandoned = new HashSet<>();
    /** Replies that came late for abandoned requests: handle to NBD error (0: success). */
    private final Map<Long, Integer> lateReplies = new LinkedHashMap<>();

    /** A server's answer: its NBD error (0: success) and, for a successful read, the data. */
    record Reply(int error, byte[] data) {
    }

    private NbdConnection(Socket socket, String address, long size) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
        this.address = address;
        this.size = size;
    }

    /** Connects and selects {@code export}; {@link Refused} carries the server's message. */
    static NbdConnection open(String host, int port, String export, int connectTimeoutMs) throws IOException {
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(host, port), connectTimeoutMs);
            s.setSoTimeout(SLICE_MS);
            long deadline = System.nanoTime() + 10_000_000_000L;
            BooleanSupplier late = () -> System.nanoTime() > deadline;
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            ByteBuffer greeting = readExactly(in, 18, late);
            if (greeting.getLong() != NBDMAGIC || greeting.getLong() != IHAVEOPT) {
                throw new IOException("not an NBD server");
            }
            out.write(ByteBuffer.allocate(4).putInt(3).array()); // FIXED_NEWSTYLE | NO_ZEROES
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            ByteBuffer go = ByteBuffer.allocate(16 + 4 + name.length + 2);
            go.putLong(IHAVEOPT).putInt(OPT_GO).putInt(4 + name.length + 2).putInt(name.length).put(name).putShort((short) 0);
            out.write(go.array());
            out.flush();
            long exportSize = -1;
            while (true) {
                ByteBuffer h = readExactly(in, 20, late);
                if (h.getLong() != OPT_REPLY_MAGIC) {
                    throw new IOException("bad option reply magic");
                }
                h.getInt();
                int type = h.getInt();
                int len = h.getInt();
                ByteBuffer data = readExactly(in, len, late);
                if (type == REP_ACK) {
                    break;
                }
                if (type < 0) {
                    String msg = StandardCharsets.UTF_8.decode(data).toString();
                    throw new Refused("NBD_OPT_GO refused (" + (type & 0x7fffffff) + "): " + msg);
                }
                if (type == REP_INFO && len >= 12 && data.getShort() == 0) {
                    exportSize = data.getLong();
                }
            }
            return new NbdConnection(s, host + ":" + port, exportSize);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    String address() {
        return address;
    }

    long size() {
        return size;
    }

    /** Writes with FUA: when this returns, the data is durable on every in-sync copy. */
    void write(long offset, byte[] data, BooleanSupplier giveUp) throws IOException {
        check(await(sendWrite(offset, data), giveUp));
    }

    byte[] read(long offset, int length, BooleanSupplier giveUp) throws IOException {
        return check(await(sendRead(offset, length), giveUp)).data();
    }

    /** Sends a FUA write without waiting; {@link #await} its handle. */
    long sendWrite(long offset, byte[] data) throws IOException {
        return send(CMD_WRITE, FLAG_FUA, offset, data.length, data);
    }

    /** Sends a read without waiting; {@link #await} its handle. */
    long sendRead(long offset, int length) throws IOException {
        return send(CMD_READ, 0, offset, length, null);
    }

    private Reply check(Reply r) throws RequestFailed {
        if (r.error() != 0) {
            throw new RequestFailed("NBD error " + r.error() + " from " + address);
        }
        return r;
    }

    private long send(int type, int flags, long offset, int length, byte[] payload) throws IOException {
        long handle = nextHandle++;
        if (type != CMD_DISC) {
            pending.put(handle, type == CMD_READ ? length : 0);
        }
        ByteBuffer req = ByteBuffer.allocate(28 + (payload == null ? 0 : payload.length));
        req.putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(handle).putLong(offset).putInt(length);
        if (payload != null) {
            req.put(payload);
        }
        out.write(req.array());
        out.flush();
        return handle;
    }

    /** Late replies to abandoned requests, handle to NBD error: a 0 for a write is an acknowledged write. */
    Map<Long, Integer> lateReplies() {
        return Map.copyOf(lateReplies);
    }

    /**
     * The reply to request {@code handle}, NBD errors included; replies to other requests that
     * come first are kept for their own {@code await}. {@link Abandoned} when {@code giveUp}
     * says so first (the reply, if it ever comes, goes to {@link #lateReplies}).
     */
    Reply await(long handle, BooleanSupplier giveUp) throws IOException {
        Optional<Reply> r = tryAwait(handle, giveUp);
        if (r.isEmpty()) {
            abandoned.add(handle);
            throw new Abandoned("gave up waiting for the server");
        }
        return r.get();
    }

    /** The reply to {@code handle} if it already came (while another request was awaited), without waiting. */
    Optional<Reply> answered(long handle) {
        return Optional.ofNullable(early.remove(handle));
    }

    /**
     * Like {@link #await}, but when {@code giveUp} says so first the request stays pending: its
     * reply can still be awaited later.
     */
    Optional<Reply> tryAwait(long handle, BooleanSupplier giveUp) throws IOException {
        while (!early.containsKey(handle)) {
            ByteBuffer h;
            try {
                h = readExactly(in, 16, giveUp);
            } catch (Abandoned e) {
                return Optional.empty(); // nothing of a reply was read: the stream is intact
            }
            if (h.getInt() != SIMPLE_REPLY_MAGIC) {
                throw new IOException("bad reply magic from " + address);
            }
            int error = h.getInt();
            long got = h.getLong();
            Integer length = pending.remove(got);
            if (length == null) {
                throw new IOException("reply for an unknown handle from " + address);
            }
            // The data follows the header at once: a bounded wait, not the caller's condition,
            // so that giving up never leaves half a reply in the stream.
            long end = System.nanoTime() + 10_000_000_000L;
            byte[] data = error == 0 && length > 0 ? readExactly(in, length, () -> System.nanoTime() > end).array() : new byte[0];
            if (abandoned.remove(got)) {
                lateReplies.put(got, error);
            } else {
                early.put(got, new Reply(error, data));
            }
        }
        return Optional.of(early.remove(handle));
    }

    /**
     * Reads n bytes, in slices of the socket timeout, asking {@code giveUp} between slices while
     * nothing came yet. Once part came, the rest follows within 10 s or the connection is broken
     * (an {@link IOException}, not {@link Abandoned}: half a message is left in the stream).
     */
    private static ByteBuffer readExactly(InputStream in, int n, BooleanSupplier giveUp) throws IOException {
        byte[] b = new byte[n];
        int got = 0;
        long partialEnd = 0;
        while (got < n) {
            try {
                int r = in.read(b, got, n - got);
                if (r < 0) {
                    throw new IOException("connection closed by the server");
                }
                if (got == 0) {
                    partialEnd = System.nanoTime() + 10_000_000_000L;
                }
                got += r;
            } catch (SocketTimeoutException e) {
                if (got == 0 && giveUp.getAsBoolean()) {
                    throw new Abandoned("gave up waiting for the server");
                }
                if (got > 0 && System.nanoTime() > partialEnd) {
                    throw new IOException("the server sent " + got + " of " + n + " bytes and stopped");
                }
            }
        }
        return ByteBuffer.wrap(b);
    }

    @Override
    public void close() {
        try {
            socket.setSoTimeout(SLICE_MS);
            send(CMD_DISC, 0, 0, 0, null);
        } catch (IOException e) {
            // the server is gone: nothing to say goodbye to
        }
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
