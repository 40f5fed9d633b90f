package io.hablock.nbd.client;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.TestCertificates;
import io.hablock.nbd.tls.ServerTls;
import io.hablock.nbd.tls.TlsFiles;
import io.hablock.nbd.tls.TlsMode;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The forwarding client through TLS, as one node reaches another's NBD port that requires it:
 * the node's own certificate as client certificate, its CA to check the server; against our
 * server (verify-peer) and against {@code nbdkit --tls=require --tls-verify-peer} with the same
 * files. It never falls back to the clear.
 */
class NbdPipelinedClientTlsTest {
    private static final int MIB = 1 << 20;

    @TempDir
    static Path pki;
    private static TestCertificates certs;
    private static SslContext nodeClient;

    @TempDir
    Path dir;
    private final EventLoopGroup group = NbdPipelinedClient.group(1, "test-tls-client");
    private ServerFixture fixture;
    private Process nbdkit;

    @BeforeAll
    static void certificates() throws Exception {
        certs = TestCertificates.create(pki);
        nodeClient = new TlsFiles(certs.server()).clientContext();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (fixture != null) {
            fixture.close();
        }
        if (nbdkit != null) {
            nbdkit.destroy();
            if (!nbdkit.waitFor(10, TimeUnit.SECONDS)) {
                nbdkit.destroyForcibly().waitFor();
            }
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private CompletableFuture<NbdPipelinedClient> connect(InetSocketAddress address, String export, SslContext tls) {
        return NbdPipelinedClient.connect(address, export, Duration.ofSeconds(5), null, group.next(),
                NioSocketChannel.class, tls);
    }

    @Test
    void writesAndReadsThroughTlsOnAServerThatVerifiesItsPeers() throws Exception {
        fixture = ServerFixture.start(dir, ServerTls.load(TlsMode.REQUIRE, new TlsFiles(certs.server()), true));
        NbdPipelinedClient client = connect(fixture.address(), ServerFixture.VOLUME, nodeClient).join();
        assertWritesAndReads(client);
        assertThat(client.hasBlockStatus()).isTrue();
        assertThat(client.blockStatus(0, 8 * MIB).get(5, TimeUnit.SECONDS)).isNotEmpty();
        client.close();
    }

    @Test
    void aPlainClientGetsTlsRequired() throws Exception {
        fixture = ServerFixture.start(dir, ServerTls.load(TlsMode.REQUIRE, new TlsFiles(certs.server()), false));
        assertThatThrownBy(() -> connect(fixture.address(), ServerFixture.VOLUME, null).get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(NbdOptionException.class)
                .cause().satisfies(e -> assertThat(((NbdOptionException) e).replyName()).isEqualTo("NBD_REP_ERR_TLS_REQD"));
    }

    @Test
    void aServerWithoutTlsIsNotUsedInTheClear() throws Exception {
        fixture = ServerFixture.start(dir, ServerTls.off());
        assertThatThrownBy(() -> connect(fixture.address(), ServerFixture.VOLUME, nodeClient).get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(NbdOptionException.class)
                .hasMessageContaining("NBD_OPT_STARTTLS refused");
    }

    @Test
    void aServerWhoseCertificateAnotherCaSignedIsRefused() throws Exception {
        fixture = ServerFixture.start(dir, ServerTls.load(TlsMode.REQUIRE, new TlsFiles(certs.server()), false));
        SslContext trustsOtherCa = new TlsFiles(certs.strangerNode()).clientContext();
        assertThatThrownBy(() -> connect(fixture.address(), ServerFixture.VOLUME, trustsOtherCa).get(10, TimeUnit.SECONDS))
                .hasMessageContaining("NBD 127.0.0.1:" + fixture.address().getPort());
    }

    @Test
    void nbdkitRequiringTlsAndVerifyingPeersServesTheNode() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        ProcessBuilder pb = new ProcessBuilder(List.of("nbdkit", "-f", "-p", String.valueOf(port), "-i", "127.0.0.1",
                "--tls=require", "--tls-certificates=" + certs.server(), "--tls-verify-peer", "memory", "64M"))
                .redirectErrorStream(true).redirectOutput(new File("target/nbdkit-tls.log"));
        pb.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        nbdkit = pb.start();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
            assertThat(nbdkit.isAlive()).as("nbdkit running (see nbd-server/target/nbdkit-tls.log)").isTrue();
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return true;
            }
        });
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", port);
        NbdPipelinedClient client = connect(address, "", nodeClient).get(10, TimeUnit.SECONDS);
        assertWritesAndReads(client);
        client.close();
        assertThatThrownBy(() -> connect(address, "", null).get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(NbdOptionException.class);
    }

    /** 4 MiB written in 1 MiB requests, read back whole and compared (large reads, not sendfile). */
    private static void assertWritesAndReads(NbdPipelinedClient client) throws Exception {
        byte[] data = pattern(4 * MIB, 7);
        for (int i = 0; i < 4; i++) {
            client.write((long) i * MIB, new ByteBuffer[] {ByteBuffer.wrap(data, i * MIB, MIB)}, false)
                    .get(10, TimeUnit.SECONDS);
        }
        client.flush().get(10, TimeUnit.SECONDS);
        ByteBuffer back = ByteBuffer.allocate(4 * MIB);
        client.read(0, back).get(10, TimeUnit.SECONDS);
        assertThat(back.array()).isEqualTo(data);
    }
}
