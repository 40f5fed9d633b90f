package io.hablock.nbd.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.Tool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The key forms the usual tools write serve TLS to a real client (nbdinfo), and a directory
 * that is missing a file or holds a bad one ends in one clear line.
 */
class TlsFilesTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {
        "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256",   // PKCS#8 EC (openssl 3)
        "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",     // PKCS#8 RSA
        "genrsa -traditional 2048",                                 // PKCS#1 RSA (as certtool writes)
        "ecparam -genkey -name prime256v1"})                        // SEC1 EC, after EC PARAMETERS
    void everyUsualKeyFormServesTls(String keyCommand) throws Exception {
        Path pki = Files.createDirectories(dir.resolve("pki"));
        openssl(pki, List.of("sh", "-c", "openssl " + keyCommand + " > server-key.pem"));
        openssl(pki, List.of("openssl", "req", "-x509", "-key", "server-key.pem", "-out", "server-cert.pem", "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"));
        Files.copy(pki.resolve("server-cert.pem"), pki.resolve("ca-cert.pem"));
        Path client = Files.createDirectories(dir.resolve("client"));
        Files.copy(pki.resolve("ca-cert.pem"), client.resolve("ca-cert.pem"));

        try (ServerFixture fixture = ServerFixture.start(Files.createDirectories(dir.resolve("data")),
                ServerTls.load(TlsMode.REQUIRE, new TlsFiles(pki), false))) {
            Tool.Result info = Tool.run("nbdinfo", "--size", "nbds://127.0.0.1:" + fixture.address().getPort() + "/"
                    + ServerFixture.VOLUME + "?tls-certificates=" + client);
            assertThat(info.exit()).as(info.output()).isZero();
            assertThat(info.output().strip()).isEqualTo(String.valueOf(ServerFixture.VOLUME_SIZE));
        }
    }

    @Test
    void aMissingOrBadFileIsNamedInOneLine() throws Exception {
        TlsFiles files = new TlsFiles(dir);
        assertThatThrownBy(() -> files.serverContext(false)).isInstanceOf(IOException.class)
                .hasMessage("TLS certificate file " + dir.resolve("server-key.pem") + " is missing or unreadable");
        Files.writeString(dir.resolve("server-key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        Files.writeString(dir.resolve("server-cert.pem"), "not a certificate");
        assertThatThrownBy(() -> files.serverContext(false)).isInstanceOf(IOException.class)
                .hasMessageContaining("server-key.pem: not an RSA or EC private key");
        assertThatThrownBy(() -> files.clientContext()).isInstanceOf(IOException.class)
                .hasMessage("TLS certificate file " + dir.resolve("ca-cert.pem") + " is missing or unreadable");
    }

    private static void openssl(Path dir, List<String> command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
    }
}
