package io.hablock.cli.acceptance.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

/**
 * An NBD client that behaves like the reference integrity tester of the NetworkBlockDevice
 * project: it picks its export with NBD_OPT_EXPORT_NAME, so it never learns a maximum block size,
 * gets simple replies, and sends requests of any length (libnbd stops at 64 MiB). Its data is a
 * pattern made on the fly, one MiB at a time from a seed, so that requests of hundreds of MiB
 * need no such buffers here and a READ is checked as it arrives.
 */
public final class ExportNameClient implements AutoCloseable {
    private static final long NBDMAGIC = 0x4e42444d41474943L;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final int OPT_EXPORT_NAME = 1;
    private static final int REQUEST_MAGIC = 0x25609513;
    private static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    private static final int CMD_READ = 0;
    private static final int CMD_WRITE = 1;
    private static final int CMD_DISC = 2;
    private static final int MIB = 1 << 20;

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private long cookie = 1;

    private ExportNameClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
    }

    /**
     * Connects with client flags FIXED_NEWSTYLE alone (no NO_ZEROES, as the oldest clients the
     * server serves; plain newstyle is refused) and selects {@code export}.
     */
    public static ExportNameClient open(int port, String export) throws IOException {
        Socket socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(60_000);
        socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        ExportNameClient client = new ExportNameClient(socket);
        try {
            assertThat(client.in.readLong()).as("NBDMAGIC").isEqualTo(NBDMAGIC);
            assertThat(client.in.readLong()).as("IHAVEOPT").isEqualTo(IHAVEOPT);
            client.in.readUnsignedShort();
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            client.out.writeInt(1); // NBD_FLAG_C_FIXED_NEWSTYLE
            client.out.writeLong(IHAVEOPT);
            client.out.writeInt(OPT_EXPORT_NAME);
            client.out.writeInt(name.length);
            client.out.write(name);
            client.out.flush();
            client.in.readLong(); // export size
            client.in.readUnsignedShort(); // transmission flags
            client.in.readFully(new byte[124]); // padding: no NO_ZEROES
            return client;
        } catch (IOException | RuntimeException | AssertionError e) {
            client.close();
            throw e;
        }
    }

    /** Writes {@code length} bytes of the pattern of {@code seed} at {@code offset}; fails on an error reply. */
    public void write(long offset, int length, long seed) throws IOException {
        long handle = cookie++;
        header(CMD_WRITE, handle, offset, length);
        byte[] piece = new byte[MIB];
        for (int at = 0, i = 0; at < length; at += MIB, i++) {
            pattern(seed, i, piece);
            out.write(piece, 0, Math.min(MIB, length - at));
        }
        out.flush();
        assertThat(reply(handle)).as("error of the %d-byte WRITE at %d", length, offset).isZero();
    }

    /**
     * Reads {@code length} bytes at {@code offset} and checks them against the pattern of
     * {@code seed}, taking at least {@code pauseNanosPerMib} per MiB (a slow reader).
     */
    public void readAndVerify(long offset, int length, long seed, long pauseNanosPerMib) throws IOException {
        long handle = cookie++;
        header(CMD_READ, handle, offset, length);
        out.flush();
        assertThat(reply(handle)).as("error of the %d-byte READ at %d", length, offset).isZero();
        byte[] expected = new byte[MIB];
        byte[] got = new byte[MIB];
        for (int at = 0, i = 0; at < length; at += MIB, i++) {
            int n = Math.min(MIB, length - at);
            in.readFully(got, 0, n);
            pattern(seed, i, expected);
            if (!Arrays.equals(got, 0, n, expected, 0, n)) {
                throw new AssertionError("READ at " + offset + ": MiB " + i + " differs from what was written");
            }
            if (pauseNanosPerMib > 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(pauseNanosPerMib);
            }
        }
    }

    private void header(int type, long handle, long offset, int length) throws IOException {
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(0);
        out.writeShort(type);
        out.writeLong(handle);
        out.writeLong(offset);
        out.writeInt(length);
    }

    private int reply(long handle) throws IOException {
        assertThat(in.readInt()).as("simple reply magic").isEqualTo(SIMPLE_REPLY_MAGIC);
        int error = in.readInt();
        assertThat(in.readLong()).as("cookie").isEqualTo(handle);
        return error;
    }

    private static void pattern(long seed, int mib, byte[] into) {
        new Random(seed * 1_000_003L + mib).nextBytes(into);
    }

    @Override
    public void close() throws IOException {
        try {
            header(CMD_DISC, cookie++, 0, 0);
            out.flush();
        } catch (IOException e) {
            // the connection is gone already
        } finally {
            socket.close();
        }
    }
}
