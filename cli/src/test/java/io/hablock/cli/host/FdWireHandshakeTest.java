package io.hablock.cli.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import io.hablock.nativeio.nbd.NbdSyscalls;
import io.hablock.nbd.client.NbdHandshake;
import io.hablock.nbd.protocol.Nbd;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The attach handshake (the NBD client's, over a raw descriptor), against a real NBD server (nbdkit, see TESTING.md). */
class FdWireHandshakeTest {
    private final NbdSyscalls sys = NbdSyscalls.system();
    private Process nbdkit;
    private int port;

    @BeforeEach
    void startNbdkit() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        nbdkit = new ProcessBuilder("nbdkit", "-f", "-i", "127.0.0.1", "-p", String.valueOf(port), "memory", "3M")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> {
            new Socket("127.0.0.1", port).close();
            return true;
        });
    }

    @AfterEach
    void stopNbdkit() throws InterruptedException {
        nbdkit.destroy();
        nbdkit.waitFor();
    }

    @Test
    void goAnswersSizeAndFlagsAndLeavesTheSocketInTransmission() throws Exception {
        int fd = sys.connectTcp(new InetSocketAddress("127.0.0.1", port), Duration.ofSeconds(5));
        try {
            NbdHandshake.Export e = NbdHandshake.go(new FdWire(sys, fd), "vol1");
            assertThat(e.size()).isEqualTo(3L << 20);
            assertThat(e.flags() & Nbd.TFLAG_HAS_FLAGS).isEqualTo(Nbd.TFLAG_HAS_FLAGS);
            assertThat(e.flags() & Nbd.TFLAG_SEND_FLUSH).isNotZero();

            // transmission phase: a 512-byte READ at offset 0 gets a simple reply without error
            byte[] read = ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) 0)
                    .putShort((short) Nbd.CMD_READ).putLong(42).putLong(0).putInt(512).array();
            sys.write(fd, read, 0, read.length);
            byte[] reply = new byte[16];
            for (int n = 0; n < 16; ) {
                n += sys.read(fd, reply, n, 16 - n);
            }
            ByteBuffer r = ByteBuffer.wrap(reply);
            assertThat(r.getInt()).isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
            assertThat(r.getInt()).isZero();
            assertThat(r.getLong()).isEqualTo(42);
        } finally {
            sys.close(fd);
        }
    }

    @Test
    void aClosedPortIsATypedConnectError() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        assertThatThrownBy(() -> sys.connectTcp(new InetSocketAddress("127.0.0.1", closed), Duration.ofSeconds(5)))
                .isInstanceOfSatisfying(NativeIOException.class, e -> assertThat(e.errnoCode()).isEqualTo(111))
                .hasMessageStartingWith("connect(/127.0.0.1:" + closed + ") failed");
        assertThat(Errno.of(111)).isEqualTo(Errno.ECONNREFUSED);
    }
}
