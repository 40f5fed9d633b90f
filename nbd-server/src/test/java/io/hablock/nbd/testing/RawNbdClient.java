package io.hablock.nbd.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.LongToIntFunction;

/**
 * A deliberately dumb NBD client for tests: it writes exactly the bytes it is told to, in the
 * order it is told to, and reads the server's answers field by field. It trusts nothing the
 * server says and checks every magic number. Reads block for at most {@link #TIMEOUT_MILLIS}, so
 * a server that stays silent fails the test instead of hanging it.
 */
public final class RawNbdClient implements Closeable {
    public static final int TIMEOUT_MILLIS = 10_000;

    private Socket socket;
    private DataInputStream in;
    private DataOutputStream out;
    private boolean structured;
    private long exportSize = -1;
    private int transmissionFlags;
    private long nextCookie = 1;

    private RawNbdClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
    }

    /** Opens the TCP connection and nothing else. */
    public static RawNbdClient connect(InetSocketAddress address) throws IOException {
        return connect(address, null);
    }

    /** Opens the TCP connection from {@code localAddress} (a loopback address such as 127.0.0.2: another client). */
    public static RawNbdClient connect(InetSocketAddress address, java.net.InetAddress localAddress) throws IOException {
        Socket socket = new Socket();
        if (localAddress != null) {
            socket.bind(new InetSocketAddress(localAddress, 0));
        }
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(TIMEOUT_MILLIS);
        socket.connect(address, TIMEOUT_MILLIS);
        return new RawNbdClient(socket);
    }

    // ---- handshake -------------------------------------------------------------------------

    /**
     * After the server acknowledged NBD_OPT_STARTTLS: makes the TLS handshake over this connection
     * and carries on through TLS.
     */
    public RawNbdClient upgradeToTls(javax.net.ssl.SSLSocketFactory factory) throws IOException {
        javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) factory.createSocket(socket,
                socket.getInetAddress().getHostAddress(), socket.getPort(), true);
        tls.setUseClientMode(true);
        tls.startHandshake();
        socket = tls;
        in = new DataInputStream(new BufferedInputStream(tls.getInputStream(), 1 << 16));
        out = new DataOutputStream(new BufferedOutputStream(tls.getOutputStream(), 1 << 16));
        return this;
    }

    /** Reads NBDMAGIC, IHAVEOPT and the handshake flags; returns the flags. */
    public int readGreeting() throws IOException {
        assertThat(in.readLong()).as("NBDMAGIC").isEqualTo(Wire.NBDMAGIC);
        assertThat(in.readLong()).as("IHAVEOPT").isEqualTo(Wire.IHAVEOPT);
        return in.readUnsignedShort();
    }

    public RawNbdClient sendClientFlags(int flags) throws IOException {
        out.writeInt(flags);
        out.flush();
        return this;
    }

    public void sendOption(int option, byte[] data) throws IOException {
        sendOptionHeader(option, data.length);
        out.write(data);
        out.flush();
    }

    /** An option header claiming {@code length} bytes of data, none of which is sent. */
    public void sendOptionHeader(int option, long length) throws IOException {
        out.writeLong(Wire.IHAVEOPT);
        out.writeInt(option);
        out.writeInt((int) length);
        out.flush();
    }

    public OptionReply readOptionReply() throws IOException {
        assertThat(in.readLong()).as("option reply magic").isEqualTo(Wire.OPTION_REPLY_MAGIC);
        int option = in.readInt();
        int type = in.readInt();
        int length = in.readInt();
        assertThat(length).as("option reply length").isBetween(0, 1 << 20);
        return new OptionReply(option, type, readBytes(length));
    }

    /** The next option reply, or empty if the server closed the connection instead. */
    public Optional<OptionReply> readOptionReplyUnlessClosed() throws IOException {
        try {
            return Optional.of(readOptionReply());
        } catch (EOFException | SocketException e) {
            return Optional.empty();
        }
    }

    /** Every reply to one option, up to and including its ACK or error. */
    public List<OptionReply> readOptionReplies(int option) throws IOException {
        List<OptionReply> replies = new ArrayList<>();
        OptionReply r;
        do {
            r = readOptionReply();
            assertThat(r.option()).as("reply %s answers option %d", r, option).isEqualTo(option);
            replies.add(r);
        } while (!r.isFinal());
        return replies;
    }

    /** Sends an option and returns all its replies; remembers an ACKed NBD_OPT_STRUCTURED_REPLY. */
    public List<OptionReply> option(int option, byte[] data) throws IOException {
        sendOption(option, data);
        List<OptionReply> replies = readOptionReplies(option);
        if (option == Wire.OPT_STRUCTURED_REPLY && last(replies).type() == Wire.REP_ACK) {
            structured = true;
        }
        return replies;
    }

    public List<OptionReply> option(int option) throws IOException {
        return option(option, new byte[0]);
    }

    /** NBD_OPT_GO; on success the client is in the transmission phase. */
    public List<OptionReply> go(String export, int... infoRequests) throws IOException {
        List<OptionReply> replies = option(Wire.OPT_GO, Options.infoRequest(export, infoRequests));
        if (last(replies).type() == Wire.REP_ACK) {
            OptionReply info = replies.stream()
                    .filter(r -> r.type() == Wire.REP_INFO && r.infoType() == Wire.INFO_EXPORT)
                    .findFirst().orElseThrow(() -> new AssertionError("GO succeeded without NBD_INFO_EXPORT"));
            assertThat(info.data()).as("NBD_INFO_EXPORT length").hasSize(12);
            ByteBuffer b = ByteBuffer.wrap(info.data());
            b.getShort();
            exportSize = b.getLong();
            transmissionFlags = b.getShort() & 0xffff;
        }
        return replies;
    }

    /** NBD_OPT_EXPORT_NAME: reads the export size and flags, but not any zero padding. */
    public void exportName(String export) throws IOException {
        sendOption(Wire.OPT_EXPORT_NAME, export.getBytes(StandardCharsets.UTF_8));
        exportSize = in.readLong();
        transmissionFlags = in.readUnsignedShort();
    }

    public static OptionReply last(List<OptionReply> replies) {
        return replies.get(replies.size() - 1);
    }

    // ---- transmission ----------------------------------------------------------------------

    public long exportSize() {
        return exportSize;
    }

    public int transmissionFlags() {
        return transmissionFlags;
    }

    public boolean structured() {
        return structured;
    }

    public long nextCookie() {
        return nextCookie++;
    }

    /** A whole request: header, then {@code payload} if not null. */
    public void sendRequest(int flags, int type, long cookie, long offset, long length, byte[] payload)
            throws IOException {
        writeRequestHeader(flags, type, cookie, offset, length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    /** A request header alone, whatever length it claims. */
    public void sendRequestHeader(int flags, int type, long cookie, long offset, long length) throws IOException {
        writeRequestHeader(flags, type, cookie, offset, length);
        out.flush();
    }

    private void writeRequestHeader(int flags, int type, long cookie, long offset, long length) throws IOException {
        out.writeInt(Wire.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int) length);
    }

    public void sendBytes(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /**
     * Reads the next simple reply or chunk. A simple reply carries data only for a successful
     * READ, which the client has to know: {@code readLength} gives it for each cookie (0 for
     * anything but a READ).
     */
    public ServerMessage readMessage(LongToIntFunction readLength) throws IOException {
        int magic = in.readInt();
        if (magic == Wire.SIMPLE_REPLY_MAGIC) {
            int error = in.readInt();
            long cookie = in.readLong();
            int length = error == 0 ? readLength.applyAsInt(cookie) : 0;
            return new SimpleReply(error, cookie, readBytes(length));
        }
        assertThat(magic).as("reply magic 0x%08x", magic).isEqualTo(Wire.STRUCTURED_REPLY_MAGIC);
        assertThat(structured).as("structured reply chunk without NBD_OPT_STRUCTURED_REPLY").isTrue();
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        int length = in.readInt();
        assertThat(length).as("chunk length").isBetween(0, 64 << 20);
        return new Chunk(flags, type, cookie, readBytes(length));
    }

    /** Reads messages until the server closes the connection; returns them all. */
    public List<ServerMessage> readMessagesUntilClosed(LongToIntFunction readLength) throws IOException {
        List<ServerMessage> messages = new ArrayList<>();
        while (true) {
            try {
                messages.add(readMessage(readLength));
            } catch (EOFException | SocketException e) {
                return messages;
            }
        }
    }

    /**
     * Reads the whole reply to request {@code cookie}, which must be the only one outstanding.
     * {@code offset} and {@code length} are those of a READ (length 0 for other commands).
     */
    public Reply readReply(long cookie, long offset, int length) throws IOException {
        ServerMessage first = readMessage(c -> length);
        assertThat(first.cookie()).as("cookie of the reply").isEqualTo(cookie);
        if (first instanceof SimpleReply simple) {
            return Reply.simple(simple);
        }
        List<Chunk> chunks = new ArrayList<>();
        Chunk chunk = (Chunk) first;
        chunks.add(chunk);
        while (!chunk.isDone()) {
            ServerMessage next = readMessage(c -> 0);
            assertThat(next).as("message after a chunk that was not DONE").isInstanceOf(Chunk.class);
            assertThat(next.cookie()).as("cookie of the next chunk").isEqualTo(cookie);
            chunk = (Chunk) next;
            chunks.add(chunk);
        }
        return Reply.structured(cookie, chunks, offset, length);
    }

    /** Sends one request and waits for its reply. */
    public Reply request(int flags, int type, long offset, long length, byte[] payload) throws IOException {
        long cookie = nextCookie();
        sendRequest(flags, type, cookie, offset, length, payload);
        return readReply(cookie, offset, type == Wire.CMD_READ ? (int) length : 0);
    }

    public Reply read(long offset, int length) throws IOException {
        return request(0, Wire.CMD_READ, offset, length, null);
    }

    public Reply write(long offset, byte[] data) throws IOException {
        return request(0, Wire.CMD_WRITE, offset, data.length, data);
    }

    /** A command without payload (FLUSH, TRIM, CACHE, WRITE_ZEROES, BLOCK_STATUS...). */
    public Reply command(int type, int flags, long offset, long length) throws IOException {
        return request(flags, type, offset, length, null);
    }

    /** Sends NBD_CMD_DISC and checks that the server closes without a word. */
    public void disconnect() throws IOException {
        sendRequestHeader(0, Wire.CMD_DISC, nextCookie(), 0, 0);
        assertClosedByServer();
    }

    public byte[] readBytes(int length) throws IOException {
        byte[] b = new byte[length];
        in.readFully(b);
        return b;
    }

    /** Whether the server has closed the connection (EOF or reset) without sending anything more. */
    public boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the server neither closed the connection nor sent anything in "
                    + TIMEOUT_MILLIS + " ms", e);
        } catch (SocketException | EOFException e) {
            return true; // reset: the server closed with our bytes still unread
        }
    }

    public void assertClosedByServer() throws IOException {
        assertThat(closedByServer()).as("server closed the connection without sending more").isTrue();
    }

    /** Drops the connection with a reset, as a crashed client would. */
    public void abort() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
