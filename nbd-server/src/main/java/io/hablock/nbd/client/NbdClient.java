package io.hablock.nbd.client;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.protocol.Nbd;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A blocking NBD client, one request at a time: connects, negotiates one export with
 * {@code NBD_OPT_GO} (fixed newstyle, NO_ZEROES when offered), then reads, writes and flushes
 * with simple replies. Reads and writes larger than the server's maximum payload are split.
 * Data moves between the caller's buffers and the socket without a copy in between: a direct
 * buffer (a forwarded request's payload) goes to the kernel as it is.
 *
 * <p>Every wait on the socket, to send as well as for a reply, ends after the timeout given at
 * connect: a server that stops reading or answering (killed, cut off) breaks the connection
 * instead of blocking the caller.
 *
 * <p>Errors the server returns for a request are {@link NbdCommandException}s and leave the
 * connection usable. Anything else (timeout, reset, a reply that breaks the protocol) leaves
 * the stream at an unknown point: the connection is closed and every later call fails.
 * Not thread-safe.
 */
public final class NbdClient implements Closeable {
    /** Connect timeout and the longest wait for any reply, unless given. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    private static final int REPLY_HEADER_LENGTH = 16;
    private static final int HEAP_CHUNK = 256 << 10;
    /** How often a long wait on the server asks the abandon check. */
    private static final long CHECK_EVERY_MILLIS = 250;

    private enum State { OPEN, BROKEN, CLOSED }

    private final SocketChannel channel;
    private final Selector selector;
    private final SelectionKey key;
    private volatile long timeoutMillis;
    private final String export;
    private final NbdHandshake.Export info;
    private final ByteBuffer requestHeader = ByteBuffer.allocateDirect(Nbd.REQUEST_HEADER_LENGTH);
    private final ByteBuffer replyHeader = ByteBuffer.allocateDirect(REPLY_HEADER_LENGTH);
    private State state = State.OPEN;
    private IOException brokenBy;
    private long nextCookie = 1;
    private volatile Supplier<String> abandonCheck = () -> null;

    private NbdClient(SocketChannel channel, Selector selector, long timeoutMillis, String export,
            NbdHandshake.Export info) throws IOException {
        this.channel = channel;
        this.selector = selector;
        this.key = channel.register(selector, 0);
        this.timeoutMillis = timeoutMillis;
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
        Negotiated n = negotiate(address, export, timeout, localAddress);
        Selector selector = null;
        try {
            n.channel().configureBlocking(false);
            selector = Selector.open();
            return new NbdClient(n.channel(), selector, n.channel().socket().getSoTimeout(), export, n.export());
        } catch (IOException | RuntimeException e) {
            n.channel().close();
            if (selector != null) {
                selector.close();
            }
            throw e;
        }
    }

    /** A blocking socket in the transmission phase, and what the server said of the export. */
    record Negotiated(SocketChannel channel, NbdHandshake.Export export) {
    }

    /**
     * Connects (blocking, at most {@code timeout} for the connect and each handshake message) and
     * negotiates {@code export}; the socket's read timeout is left at {@code timeout}.
     */
    static Negotiated negotiate(InetSocketAddress address, String export, Duration timeout, InetAddress localAddress)
            throws IOException {
        int millis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        SocketChannel channel = SocketChannel.open();
        try {
            if (localAddress != null) {
                channel.bind(new InetSocketAddress(localAddress, 0));
            }
            Socket socket = channel.socket();
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(millis);
            socket.connect(address, millis);
            // The handshake is a few small messages: streams over the blocking socket (which
            // honour the timeout). The server says nothing after it until asked, so nothing
            // read ahead is left in the stream's buffer.
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 12));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 12));
            return new Negotiated(channel, NbdHandshake.go(in, out, export));
        } catch (IOException | RuntimeException e) {
            channel.close();
            if (e instanceof NbdOptionException || e instanceof java.net.BindException || !(e instanceof IOException io)) {
                throw e;
            }
            String host = address.getAddress() == null ? address.getHostString() : address.getAddress().getHostAddress();
            throw new IOException("NBD " + host + ":" + address.getPort() + "/" + export + ": " + io.getMessage(), io);
        }
    }

    /**
     * While a wait on the server lasts, {@code check} is asked every quarter of a second: a
     * non-null answer is the reason to give up on this server at once (the request fails with
     * it and the connection breaks) instead of waiting out the timeout. A forwarder uses it to
     * leave an owner the cluster has replaced.
     */
    public void abandonWhen(Supplier<String> check) {
        abandonCheck = Objects.requireNonNull(check, "check");
    }

    /**
     * From now on, waits on the server up to {@code timeout} (the connect timeout until then). A
     * forwarder waits long on an owner the cluster still names, leaving it through
     * {@link #abandonWhen} as soon as the cluster names another.
     */
    public void replyTimeout(java.time.Duration timeout) {
        timeoutMillis = Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
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
        read(offset, ByteBuffer.wrap(dst, from, length));
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}, advancing its position. */
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        int done = 0;
        do { // a zero-length request is still sent: the server checks it like any other
            int n = Math.min(length - done, info.maxPayload());
            ByteBuffer part = dst.duplicate();
            part.limit(part.position() + n);
            request(Nbd.CMD_READ, 0, offset + done, n, null, part);
            dst.position(dst.position() + n);
            done += n;
        } while (done < length);
    }

    /** Writes all of {@code src} at {@code offset}; returns when the server acknowledged it. */
    public void write(long offset, byte[] src) throws IOException {
        write(offset, src, 0, src.length);
    }

    public void write(long offset, byte[] src, int from, int length) throws IOException {
        write(offset, src, from, length, false);
    }

    /** Writes {@code src.remaining()} bytes at {@code offset}, advancing its position. */
    public void write(long offset, ByteBuffer src) throws IOException {
        write(offset, new ByteBuffer[] {src}, false);
    }

    /** Makes a write durable before it is acknowledged ({@code NBD_CMD_FLAG_FUA}) when {@code fua}. */
    public void write(long offset, byte[] src, int from, int length, boolean fua) throws IOException {
        Objects.checkFromIndexSize(from, length, src.length);
        write(offset, new ByteBuffer[] {ByteBuffer.wrap(src, from, length)}, fua);
    }

    /**
     * Writes the parts, one after the other, at {@code offset} as one request (or as few as the
     * server's maximum payload allows), advancing their positions.
     */
    public void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        if (isReadOnly()) {
            throw new IOException("export '" + export + "' is read-only");
        }
        long length = BlockDevice.lengthOf(parts);
        int flags = fua ? Nbd.CMD_FLAG_FUA : 0;
        int part = 0;
        long done = 0;
        do { // a zero-length request is still sent: the server checks it like any other
            int n = (int) Math.min(length - done, info.maxPayload());
            // the next n bytes of the parts, as slices that advance the parts when sent
            List<ByteBuffer> slices = new ArrayList<>(parts.length - part);
            for (int left = n; left > 0; part++) {
                ByteBuffer p = parts[part];
                if (p.remaining() <= left) {
                    slices.add(p);
                    left -= p.remaining();
                } else {
                    ByteBuffer head = p.duplicate();
                    head.limit(head.position() + left);
                    slices.add(head);
                    p.position(p.position() + left);
                    left = 0;
                    break;
                }
            }
            request(Nbd.CMD_WRITE, flags, offset + done, n, slices.toArray(ByteBuffer[]::new), null);
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
            request(type, flags, offset + done, n, null, null);
            done += n;
        } while (done < length);
    }

    /** Returns when every write acknowledged so far is durable ({@code NBD_CMD_FLUSH}). */
    public void flush() throws IOException {
        if ((info.flags() & Nbd.TFLAG_SEND_FLUSH) == 0) {
            throw new IOException("the server of export '" + export + "' does not support NBD_CMD_FLUSH");
        }
        request(Nbd.CMD_FLUSH, 0, 0, 0, null, null);
    }

    /** One request and its simple reply; {@code src} is the WRITE payload, {@code dst} receives READ data. */
    private void request(int type, int flags, long offset, int length, ByteBuffer[] src, ByteBuffer dst)
            throws IOException {
        checkOpen();
        long cookie = nextCookie++;
        int error;
        try {
            putHeader(type, flags, cookie, offset, length);
            if (src == null) {
                send(new ByteBuffer[] {requestHeader});
            } else {
                ByteBuffer[] all = new ByteBuffer[src.length + 1];
                all[0] = requestHeader;
                System.arraycopy(src, 0, all, 1, src.length);
                send(all);
            }
            replyHeader.clear();
            receive(replyHeader);
            replyHeader.flip();
            int magic = replyHeader.getInt();
            if (magic != Nbd.SIMPLE_REPLY_MAGIC) {
                throw new IOException(String.format("protocol error: reply magic 0x%08x (structured replies were not asked for)", magic));
            }
            error = replyHeader.getInt();
            long replyCookie = replyHeader.getLong();
            if (replyCookie != cookie) {
                throw new IOException("protocol error: reply for cookie " + replyCookie + " while waiting for " + cookie);
            }
            if (error == 0 && dst != null) {
                receive(dst);
            }
        } catch (IOException e) {
            throw broken(describe(type, offset, length), e);
        }
        if (error != 0) {
            throw new NbdCommandException(describe(type, offset, length), error);
        }
    }

    private void putHeader(int type, int flags, long cookie, long offset, int length) {
        requestHeader.clear();
        requestHeader.putInt(Nbd.REQUEST_MAGIC);
        requestHeader.putShort((short) flags);
        requestHeader.putShort((short) type);
        requestHeader.putLong(cookie);
        requestHeader.putLong(offset);
        requestHeader.putInt(length);
        requestHeader.flip();
    }

    /**
     * Sends all of {@code buffers} (leaving their positions at their limits), waiting at most the
     * timeout each time the socket is full.
     */
    private void send(ByteBuffer[] buffers) throws IOException {
        ByteBuffer[] io = hasLargeHeapBuffer(buffers) ? inHeapChunks(buffers) : buffers;
        int first = 0;
        while (first < io.length) {
            if (!io[first].hasRemaining()) {
                first++;
            } else if (channel.write(io, first, io.length - first) == 0) {
                await(SelectionKey.OP_WRITE, "the server took no data for ");
            }
        }
        if (io != buffers) {
            for (ByteBuffer b : buffers) {
                b.position(b.limit());
            }
        }
    }

    private static boolean hasLargeHeapBuffer(ByteBuffer[] buffers) {
        for (ByteBuffer b : buffers) {
            if (!b.isDirect() && b.remaining() > HEAP_CHUNK) {
                return true;
            }
        }
        return false;
    }

    /**
     * The JDK moves a heap buffer through a temporary direct buffer of the same size, which its
     * thread then keeps: large heap buffers go as views of at most {@link #HEAP_CHUNK} bytes.
     */
    private static ByteBuffer[] inHeapChunks(ByteBuffer[] buffers) {
        List<ByteBuffer> io = new ArrayList<>(buffers.length + 8);
        for (ByteBuffer b : buffers) {
            if (b.isDirect() || b.remaining() <= HEAP_CHUNK) {
                io.add(b.duplicate());
                continue;
            }
            for (int at = b.position(); at < b.limit(); at += HEAP_CHUNK) {
                io.add(b.duplicate().position(at).limit(Math.min(b.limit(), at + HEAP_CHUNK)));
            }
        }
        return io.toArray(ByteBuffer[]::new);
    }

    /** Fills {@code dst}, waiting at most the timeout each time nothing has arrived. */
    private void receive(ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            ByteBuffer view = dst;
            if (!dst.isDirect() && dst.remaining() > HEAP_CHUNK) {
                view = dst.duplicate();
                view.limit(view.position() + HEAP_CHUNK);
            }
            int n = channel.read(view);
            if (n < 0) {
                throw new EOFException();
            }
            if (n == 0) {
                await(SelectionKey.OP_READ, "no reply within ");
            } else if (view != dst) {
                dst.position(dst.position() + n);
            }
        }
    }

    private void await(int op, String timeoutMessage) throws IOException {
        key.interestOps(op);
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        for (;;) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                throw new SocketTimeoutException(timeoutMessage + timeoutMillis + " ms");
            }
            if (selector.select(Math.min(left, CHECK_EVERY_MILLIS)) > 0) {
                selector.selectedKeys().clear();
                return;
            }
            if (Thread.interrupted()) {
                throw new InterruptedIOException("interrupted while waiting for the server");
            }
            String reason = abandonCheck.get();
            if (reason != null) {
                throw new IOException(reason);
            }
        }
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
                : cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        brokenBy = new IOException(what + ": " + why, cause);
        state = State.BROKEN;
        closeQuietly();
        return brokenBy;
    }

    static String describe(int type, long offset, long length) {
        String name = switch (type) {
            case Nbd.CMD_READ -> "NBD_CMD_READ";
            case Nbd.CMD_WRITE -> "NBD_CMD_WRITE";
            case Nbd.CMD_FLUSH -> "NBD_CMD_FLUSH";
            case Nbd.CMD_TRIM -> "NBD_CMD_TRIM";
            case Nbd.CMD_WRITE_ZEROES -> "NBD_CMD_WRITE_ZEROES";
            case Nbd.CMD_BLOCK_STATUS -> "NBD_CMD_BLOCK_STATUS";
            default -> "NBD command " + type;
        };
        return type == Nbd.CMD_FLUSH ? name : name + " of " + length + " bytes at offset " + offset;
    }

    /** Sends {@code NBD_CMD_DISC} (the server finishes and closes) and closes the socket. */
    @Override
    public void close() {
        if (state == State.OPEN) {
            try {
                putHeader(Nbd.CMD_DISC, 0, nextCookie++, 0, 0);
                send(new ByteBuffer[] {requestHeader});
                channel.shutdownOutput();
            } catch (IOException e) {
                // the server is gone: nothing to say goodbye to
            }
        }
        state = State.CLOSED;
        closeQuietly();
    }

    private void closeQuietly() {
        try {
            selector.close();
        } catch (IOException e) {
            // closing anyway
        }
        try {
            channel.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    @Override
    public String toString() {
        return "NbdClient[" + channel.socket().getRemoteSocketAddress() + "/" + export + ", " + state + "]";
    }
}
