package io.hablock.nbd.server;

import static io.hablock.nbd.testing.RawNbdClient.last;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nbd.testing.Options;
import io.hablock.nbd.testing.OptionReply;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.TestCertificates;
import io.hablock.nbd.testing.Tool;
import io.hablock.nbd.testing.Wire;
import io.hablock.nbd.tls.ServerTls;
import io.hablock.nbd.tls.TlsFiles;
import io.hablock.nbd.tls.TlsMode;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLSocketFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NBD over TLS (NBD_OPT_STARTTLS) with real clients: libnbd's nbdinfo and fio's nbd engine with
 * {@code nbds://} URIs, qemu-io with a {@code tls-creds-x509} object, and raw options for what
 * those never send (options before STARTTLS, STARTTLS twice, bytes in the clear after it).
 * Certificates are made with openssl for each run.
 */
class TlsTest {
    private static final String VOL = ServerFixture.VOLUME;

    @TempDir
    static Path pki;
    private static TestCertificates certs;

    @TempDir
    Path dir;
    private ServerFixture fixture;

    @BeforeAll
    static void certificates() throws Exception {
        certs = TestCertificates.create(pki);
    }

    @AfterEach
    void stop() {
        if (fixture != null) {
            fixture.close();
        }
    }

    private void start(TlsMode mode, boolean verifyPeer) throws Exception {
        fixture = ServerFixture.start(dir, ServerTls.load(mode, new TlsFiles(certs.server()), verifyPeer));
    }

    private String uri(boolean tls, Path clientDir) {
        return (tls ? "nbds" : "nbd") + "://127.0.0.1:" + fixture.address().getPort() + "/" + VOL
                + (clientDir == null ? "" : "?tls-certificates=" + clientDir);
    }

    @Test
    void requireServesTlsClientsAndRefusesPlainOnes() throws Exception {
        start(TlsMode.REQUIRE, false);

        Tool.Result tls = Tool.run("nbdinfo", "--size", uri(true, certs.client()));
        assertThat(tls.exit()).as(tls.output()).isZero();
        assertThat(tls.output().strip()).isEqualTo(String.valueOf(ServerFixture.VOLUME_SIZE));

        Tool.Result anonymous = Tool.run("nbdinfo", "--size", uri(true, certs.anonymous()));
        assertThat(anonymous.exit()).as(anonymous.output()).isZero();

        Tool.Result plain = Tool.run("nbdinfo", uri(false, null));
        assertThat(plain.exit()).isNotZero();
        assertThat(plain.output()).containsIgnoringCase("TLS");
        Tool.Result plainList = Tool.run("nbdinfo", "--list", uri(false, null));
        assertThat(plainList.exit()).isNotZero();
        assertThat(plainList.output()).doesNotContain("hablock volume");
    }

    @Test
    void requireAnswersTlsRequiredToEveryOptionBeforeStartTls() throws Exception {
        start(TlsMode.REQUIRE, false);
        try (RawNbdClient client = fixture.handshake()) {
            assertThat(last(client.option(Wire.OPT_LIST)).type()).isEqualTo(Wire.REP_ERR_TLS_REQD);
            assertThat(last(client.option(Wire.OPT_INFO, Options.infoRequest(VOL))).type())
                    .isEqualTo(Wire.REP_ERR_TLS_REQD);
            assertThat(last(client.go(VOL)).type()).isEqualTo(Wire.REP_ERR_TLS_REQD);
            assertThat(last(client.option(Wire.OPT_STRUCTURED_REPLY)).type()).isEqualTo(Wire.REP_ERR_TLS_REQD);
            assertThat(last(client.option(Wire.OPT_STARTTLS, new byte[1])).type()).isEqualTo(Wire.REP_ERR_INVALID);

            assertThat(last(client.option(Wire.OPT_STARTTLS)).type()).isEqualTo(Wire.REP_ACK);
            client.upgradeToTls(trustingClient());
            // Through TLS: STARTTLS again is an error, everything else is served.
            assertThat(last(client.option(Wire.OPT_STARTTLS)).type()).isEqualTo(Wire.REP_ERR_INVALID);
            assertThat(client.option(Wire.OPT_LIST)).extracting(OptionReply::type)
                    .containsExactly(Wire.REP_SERVER, Wire.REP_ACK);
            assertThat(last(client.go(VOL)).type()).isEqualTo(Wire.REP_ACK);
            byte[] data = "through TLS".getBytes();
            assertThat(client.write(4096, data).error()).isZero();
            assertThat(client.read(4096, data.length).data()).isEqualTo(data);
            client.disconnect();
        }
        try (RawNbdClient client = fixture.handshake()) {
            // NBD_OPT_EXPORT_NAME cannot be answered with an error: the server closes.
            client.sendOption(Wire.OPT_EXPORT_NAME, VOL.getBytes());
            client.assertClosedByServer();
        }
    }

    @Test
    void optionsSentInTheClearAfterStartTlsAreNotTaken() throws Exception {
        start(TlsMode.ON, false);
        try (RawNbdClient client = fixture.handshake()) {
            // STARTTLS and, in the same segment, a GO a man in the middle might have added.
            byte[] go = Options.infoRequest(VOL);
            ByteBuffer both = ByteBuffer.allocate(16 + 16 + go.length)
                    .putLong(Wire.IHAVEOPT).putInt(Wire.OPT_STARTTLS).putInt(0)
                    .putLong(Wire.IHAVEOPT).putInt(Wire.OPT_GO).putInt(go.length).put(go);
            client.sendBytes(both.array());
            client.assertClosedByServer();
        }
    }

    @Test
    void onServesPlainAndTlsClientsAlikeWithQemu() throws Exception {
        start(TlsMode.ON, false);
        String opts = "driver=nbd,host=127.0.0.1,port=" + fixture.address().getPort() + ",export=" + VOL;
        Tool.Result tls = Tool.run("qemu-io",
                "--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + certs.client(),
                "--image-opts", opts + ",tls-creds=tls0",
                "-c", "write -P 0xab 1M 1M", "-c", "read -P 0xab 1M 1M");
        assertThat(tls.exit()).as(tls.output()).isZero();
        assertThat(tls.output()).contains("wrote 1048576/1048576").contains("read 1048576/1048576")
                .doesNotContain("Pattern verification failed");

        Tool.Result plain = Tool.run("qemu-io", "--image-opts", opts, "-c", "read -P 0xab 1M 1M");
        assertThat(plain.exit()).as(plain.output()).isZero();
        assertThat(plain.output()).contains("read 1048576/1048576").doesNotContain("Pattern verification failed");
    }

    @Test
    void fioWritesAndVerifiesThroughTls(@TempDir Path home) throws Exception {
        start(TlsMode.REQUIRE, false);
        // fio's engine refuses a tls-certificates path in the URI (libnbd's local file rule):
        // libnbd then reads the client's files from $HOME/.pki/libnbd.
        Path pkiDir = Files.createDirectories(home.resolve(".pki"));
        Files.createSymbolicLink(pkiDir.resolve("libnbd"), certs.client());
        Tool.Result fio = Tool.run(List.of("fio", "--name=tls", "--ioengine=nbd", "--uri=" + uri(true, null),
                "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=8M", "--verify=crc32c",
                "--verify_fatal=1", "--output-format=terse"), Map.of("HOME", home.toString()));
        assertThat(fio.exit()).as(fio.output()).isZero();
        assertThat(fio.output()).doesNotContainIgnoringCase("verify:").doesNotContainIgnoringCase("error");
    }

    @Test
    void verifyPeerServesOnlyClientsWithACertificateTheCaSigned() throws Exception {
        start(TlsMode.REQUIRE, true);
        Tool.Result signed = Tool.run("nbdinfo", "--size", uri(true, certs.client()));
        assertThat(signed.exit()).as(signed.output()).isZero();

        Tool.Result none = Tool.run("nbdinfo", "--size", uri(true, certs.anonymous()));
        assertThat(none.exit()).as(none.output()).isNotZero();
        Tool.Result stranger = Tool.run("nbdinfo", "--size", uri(true, certs.stranger()));
        assertThat(stranger.exit()).as(stranger.output()).isNotZero();
    }

    @Test
    void offRefusesStartTls() throws Exception {
        start(TlsMode.OFF, false);
        Tool.Result tls = Tool.run("nbdinfo", "--size", uri(true, certs.client()));
        assertThat(tls.exit()).isNotZero();
        try (RawNbdClient client = fixture.handshake()) {
            assertThat(last(client.option(Wire.OPT_STARTTLS)).type()).isEqualTo(Wire.REP_ERR_UNSUP);
        }
    }

    /** A JDK client that trusts the test CA and has no certificate. */
    private static SSLSocketFactory trustingClient() throws Exception {
        JdkSslContext context = (JdkSslContext) SslContextBuilder.forClient().sslProvider(SslProvider.JDK)
                .trustManager(certs.anonymous().resolve("ca-cert.pem").toFile()).build();
        return context.context().getSocketFactory();
    }
}
