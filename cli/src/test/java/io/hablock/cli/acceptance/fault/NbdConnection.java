package io.hablock.cli.acceptance.fault;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;

/**
 * A minimal blocking NBD client (fixed newstyle, NBD_OPT_GO, simple replies, one request at a
 * time), enough for the checker to know exactly which writes were acknowledged. A request
 * waits for its reply in short slices, so the caller can give up on a connection whose server
 * stopped answering (a partitioned owner) as soon as the cluster names another owner.
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
    /** Requests whose caller gave up: their replies may still come, and must not be mistaken. */
    private final java.util.Set<Long> abandoned = new java.util.HashSet<>();
    /** Replies that came late for abandoned requests: handle to NBD error (0: success). */
    private final java.util.Map<Long, Integer> lateReplies = new java.util.LinkedHashMap<>();

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
        long handle = send(CMD_WRITE, FLAG_FUA, offset, data.length, data);
        awaitReply(handle, 0, giveUp);
    }

    byte[] read(long offset, int length, BooleanSupplier giveUp) throws IOException {
        long handle = send(CMD_READ, 0, offset, length, null);
        ByteBuffer data = awaitReply(handle, length, giveUp);
        return data.array();
    }

    private long send(int type, int flags, long offset, int length, byte[] payload) throws IOException {
        long handle = nextHandle++;
        ByteBuffer req = ByteBuffer.allocate(28 + (payload == null ? 0 : payload.length));
        req.putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(handle).putLong(offset).putInt(length);
        if (payload != null) {
            req.put(payload);
        }
        out.write(req.array());
        out.flush();
        return handle;
    }

    /** Late replies to abandoned writes, handle to NBD error: a 0 there is an acknowledged write. */
    java.util.Map<Long, Integer> lateReplies() {
        return java.util.Map.copyOf(lateReplies);
    }

    private ByteBuffer awaitReply(long handle, int dataLength, BooleanSupplier giveUp) throws IOException {
        int error;
        while (true) {
            ByteBuffer h;
            try {
                h = readExactly(in, 16, giveUp);
            } catch (Abandoned e) {
                abandoned.add(handle);
                throw e;
            }
            if (h.getInt() != SIMPLE_REPLY_MAGIC) {
                throw new IOException("bad reply magic from " + address);
            }
            error = h.getInt();
            long got = h.getLong();
            if (got == handle) {
                break;
            }
            if (!abandoned.remove(got)) {
                throw new IOException("reply for an unknown handle from " + address);
            }
            lateReplies.put(got, error); // only writes are ever abandoned here: no payload follows
        }
        if (error != 0) {
            throw new RequestFailed("NBD error " + error + " from " + address);
        }
        return readExactly(in, dataLength, giveUp);
    }

    /** Reads n bytes, in slices of the socket timeout, asking {@code giveUp} between slices. */
    private static ByteBuffer readExactly(InputStream in, int n, BooleanSupplier giveUp) throws IOException {
        byte[] b = new byte[n];
        int got = 0;
        while (got < n) {
            try {
                int r = in.read(b, got, n - got);
                if (r < 0) {
                    throw new IOException("connection closed by the server");
                }
                got += r;
            } catch (SocketTimeoutException e) {
                if (giveUp.getAsBoolean()) {
                    throw new Abandoned("gave up waiting for the server");
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
