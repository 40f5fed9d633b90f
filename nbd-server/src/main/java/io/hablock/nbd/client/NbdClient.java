package io.hablock.nbd.client;

import io.hablock.nbd.protocol.Nbd;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;

/**
 * A blocking NBD client, one request at a time: connects, negotiates one export with
 * {@code NBD_OPT_GO} (fixed newstyle, NO_ZEROES when offered), then reads, writes and flushes
 * with simple replies. Reads and writes larger than the server's maximum payload are split.
 *
 * <p>Errors the server returns for a request are {@link NbdCommandException}s and leave the
 * connection usable. Anything else (timeout, reset, a reply that breaks the protocol) leaves
 * the stream at an unknown point: the connection is closed and every later call fails.
 * Not thread-safe.
 */
public final class NbdClient implements Closeable {
    /** Connect timeout and the longest wait for any reply, unless given. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    /** Size of the bounce buffer for a {@link ByteBuffer} without an array. */
    private static final int BOUNCE = 1 << 20;

    private enum State { OPEN, BROKEN, CLOSED }

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final String export;
    private final NbdHandshake.Export info;
    private State state = State.OPEN;
    private IOException brokenBy;
    private long nextCookie = 1;

    private NbdClient(Socket socket, DataInputStream in, DataOutputStream out, String export, NbdHandshake.Export info) {
        this.socket = socket;
        this.in = in;
        this.out = out;
        this.export = export;
        this.info = info;
    }

    /** Connects to {@code export} at {@code address} with the {@link #DEFAULT_TIMEOUT}. */
    public static NbdClient connect(InetSocketAddress address, String export) throws IOException {
        return connect(address, export, DEFAULT_TIMEOUT);
    }

    /**
     * Connects and negotiates {@code export}.
     *
     * @param timeout for the TCP connect and for each reply the server owes
     * @throws NbdOptionException when the server refuses the export (its message included)
     * @throws IOException when the server cannot be reached or does not speak NBD
     */
    public static NbdClient connect(InetSocketAddress address, String export, Duration timeout) throws IOException {
        return connect(address, export, timeout, null);
    }

    /**
     * Connects from {@code localAddress} (any port), so the server sees which host the
     * connection comes from, and negotiates {@code export}.
     *
     * @param localAddress the local address to bind, or null for the one routing picks
     * @throws java.net.BindException when {@code localAddress} is not an address of this host
     */
    public static NbdClient connect(InetSocketAddress address, String export, Duration timeout, InetAddress localAddress)
            throws IOException {
        Objects.requireNonNull(export, "export");
        Socket socket = new Socket();
        try {
            if (localAddress != null) {
                socket.bind(new InetSocketAddress(localAddress, 0));
            }
            socket.setTcpNoDelay(true);
            socket.setSoTimeout((int) timeout.toMillis());
            socket.connect(address, (int) timeout.toMillis());
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
            NbdHandshake.Export info = NbdHandshake.go(in, out, export);
            return new NbdClient(socket, in, out, export, info);
        } catch (IOException | RuntimeException e) {
            socket.close();
            if (e instanceof NbdOptionException || e instanceof java.net.BindException || !(e instanceof IOException io)) {
                throw e;
            }
            String host = address.getAddress() == null ? address.getHostString() : address.getAddress().getHostAddress();
            throw new IOException("NBD " + host + ":" + address.getPort() + "/" + export + ": " + io.getMessage(), io);
        }
    }

    /** The export's size in bytes. */
    public long size() {
        return info.size();
    }

    /** The transmission flags the server sent ({@code NBD_FLAG_*}). */
    public int transmissionFlags() {
        return info.flags();
    }

    public boolean isReadOnly() {
        return (info.flags() & Nbd.TFLAG_READ_ONLY) != 0;
    }

    /** Largest payload of one request; longer reads and writes are split. */
    public int maxPayload() {
        return info.maxPayload();
    }

    public String export() {
        return export;
    }

    /** Reads {@code dst.length} bytes at {@code offset}. */
    public void read(long offset, byte[] dst) throws IOException {
        read(offset, dst, 0, dst.length);
    }

    public void read(long offset, byte[] dst, int from, int length) throws IOException {
        Objects.checkFromIndexSize(from, length, dst.length);
        int done = 0;
        do { // a zero-length request is still sent: the server checks it like any other
            int n = Math.min(length - done, info.maxPayload());
            request(Nbd.CMD_READ, 0, offset + done, n, null, dst, from + done);
            done += n;
        } while (done < length);
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}, advancing its position. */
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (dst.hasArray()) {
            int n = dst.remaining();
            read(offset, dst.array(), dst.arrayOffset() + dst.position(), n);
            dst.position(dst.position() + n);
            return;
        }
        byte[] bounce = new byte[Math.min(dst.remaining(), BOUNCE)];
        while (dst.hasRemaining()) {
            int n = Math.min(dst.remaining(), bounce.length);
            read(offset, bounce, 0, n);
            dst.put(bounce, 0, n);
            offset += n;
        }
    }

    /** Writes all of {@code src} at {@code offset}; returns when the server acknowledged it. */
    public void write(long offset, byte[] src) throws IOException {
        write(offset, src, 0, src.length);
    }

    public void write(long offset, byte[] src, int from, int length) throws IOException {
        Objects.checkFromIndexSize(from, length, src.length);
        if (isReadOnly()) {
            throw new IOException("export '" + export + "' is read-only");
        }
        int done = 0;
        do { // a zero-length request is still sent: the server checks it like any other
            int n = Math.min(length - done, info.maxPayload());
            request(Nbd.CMD_WRITE, 0, offset + done, n, src, null, from + done);
            done += n;
        } while (done < length);
    }

    /** Writes {@code src.remaining()} bytes at {@code offset}, advancing its position. */
    public void write(long offset, ByteBuffer src) throws IOException {
        if (src.hasArray()) {
            int n = src.remaining();
            write(offset, src.array(), src.arrayOffset() + src.position(), n);
            src.position(src.position() + n);
            return;
        }
        byte[] bounce = new byte[Math.min(src.remaining(), BOUNCE)];
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), bounce.length);
            src.get(bounce, 0, n);
            write(offset, bounce, 0, n);
            offset += n;
        }
    }

    /** Makes a write durable before it is acknowledged ({@code NBD_CMD_FLAG_FUA}) when {@code fua}. */
    public void write(long offset, byte[] src, int from, int length, boolean fua) throws IOException {
        if (!fua) {
            write(offset, src, from, length);
            return;
        }
        int done = 0;
        do {
            int n = Math.min(length - done, info.maxPayload());
            request(Nbd.CMD_WRITE, Nbd.CMD_FLAG_FUA, offset + done, n, src, null, from + done);
            done += n;
        } while (done < length);
    }

    /** {@code NBD_CMD_TRIM} of {@code [offset, offset + length)}. */
    public void trim(long offset, long length, boolean fua) throws IOException {
        ranged(Nbd.CMD_TRIM, fua ? Nbd.CMD_FLAG_FUA : 0, offset, length);
    }

    /** {@code NBD_CMD_WRITE_ZEROES}; {@code noHole} asks the server not to deallocate. */
    public void writeZeroes(long offset, long length, boolean noHole, boolean fua) throws IOException {
        ranged(Nbd.CMD_WRITE_ZEROES, (fua ? Nbd.CMD_FLAG_FUA : 0) | (noHole ? Nbd.CMD_FLAG_NO_HOLE : 0), offset, length);
    }

    private void ranged(int type, int flags, long offset, long length) throws IOException {
        long done = 0;
        do { // ranges are 32-bit on the wire
            int n = (int) Math.min(length - done, 1L << 30);
            request(type, flags, offset + done, n, null, null, 0);
            done += n;
        } while (done < length);
    }

    /** Returns when every write acknowledged so far is durable ({@code NBD_CMD_FLUSH}). */
    public void flush() throws IOException {
        if ((info.flags() & Nbd.TFLAG_SEND_FLUSH) == 0) {
            throw new IOException("the server of export '" + export + "' does not support NBD_CMD_FLUSH");
        }
        request(Nbd.CMD_FLUSH, 0, 0, 0, null, null, 0);
    }

    /** One request and its simple reply; {@code src} is the WRITE payload, {@code dst} receives READ data. */
    private void request(int type, int flags, long offset, int length, byte[] src, byte[] dst, int from) throws IOException {
        checkOpen();
        long cookie = nextCookie++;
        int error;
        try {
            writeHeader(type, flags, cookie, offset, length);
            if (src != null) {
                out.write(src, from, length);
            }
            out.flush();
            int magic = in.readInt();
            if (magic != Nbd.SIMPLE_REPLY_MAGIC) {
                throw new IOException(String.format("protocol error: reply magic 0x%08x (structured replies were not asked for)", magic));
            }
            error = in.readInt();
            long replyCookie = in.readLong();
            if (replyCookie != cookie) {
                throw new IOException("protocol error: reply for cookie " + replyCookie + " while waiting for " + cookie);
            }
            if (error == 0 && dst != null) {
                in.readFully(dst, from, length);
            }
        } catch (IOException e) {
            throw broken(describe(type, offset, length), e);
        }
        if (error != 0) {
            throw new NbdCommandException(describe(type, offset, length), error);
        }
    }

    private void writeHeader(int type, int flags, long cookie, long offset, int length) throws IOException {
        out.writeInt(Nbd.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt(length);
    }

    private void checkOpen() throws IOException {
        switch (state) {
            case OPEN -> {
            }
            case BROKEN -> throw new IOException("the connection to export '" + export + "' is broken: "
                    + brokenBy.getMessage(), brokenBy);
            case CLOSED -> throw new IOException("the connection to export '" + export + "' is closed");
            default -> throw new AssertionError(state);
        }
    }

    private IOException broken(String what, IOException cause) {
        String why = cause instanceof EOFException ? "the server closed the connection"
                : cause instanceof java.net.SocketTimeoutException ? "no reply within " + soTimeoutMillis() + " ms"
                : cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        brokenBy = new IOException(what + ": " + why, cause);
        state = State.BROKEN;
        closeQuietly();
        return brokenBy;
    }

    private int soTimeoutMillis() {
        try {
            return socket.getSoTimeout();
        } catch (IOException e) {
            return -1;
        }
    }

    private static String describe(int type, long offset, int length) {
        String name = switch (type) {
            case Nbd.CMD_READ -> "NBD_CMD_READ";
            case Nbd.CMD_WRITE -> "NBD_CMD_WRITE";
            case Nbd.CMD_FLUSH -> "NBD_CMD_FLUSH";
            default -> "NBD command " + type;
        };
        return type == Nbd.CMD_FLUSH ? name : name + " of " + length + " bytes at offset " + offset;
    }

    /** Sends {@code NBD_CMD_DISC} (the server finishes and closes) and closes the socket. */
    @Override
    public void close() {
        if (state == State.OPEN) {
            try {
                writeHeader(Nbd.CMD_DISC, 0, nextCookie++, 0, 0);
                out.flush();
                socket.shutdownOutput();
            } catch (IOException e) {
                // the server is gone: nothing to say goodbye to
            }
        }
        state = State.CLOSED;
        closeQuietly();
    }

    private void closeQuietly() {
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    @Override
    public String toString() {
        return "NbdClient[" + socket.getRemoteSocketAddress() + "/" + export + ", " + state + "]";
    }
}
