package io.hablock.nbd.tls;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLException;

/**
 * A directory of PEM files laid out as nbdkit's and qemu's {@code --tls-certificates} /
 * {@code tls-creds-x509} expect: {@value #CA_CERT} (the CA that signs this node and its peers),
 * {@value #SERVER_CERT} (this node's certificate, optionally followed by intermediates) and
 * {@value #SERVER_KEY} (its unencrypted key, PKCS#8, PKCS#1 or SEC1). A node uses the same certificate and key as a client
 * when it connects to another node's NBD port.
 *
 * <p>The OpenSSL engine (BoringSSL from netty-tcnative) is used when its native library loads,
 * the JDK's otherwise.
 */
public record TlsFiles(Path dir) {
    public static final String CA_CERT = "ca-cert.pem";
    public static final String SERVER_CERT = "server-cert.pem";
    public static final String SERVER_KEY = "server-key.pem";
    /** Where a node's files live unless told otherwise. */
    public static final Path DEFAULT_DIR = Path.of("/etc/hablock/pki");

    /**
     * The server's TLS context: its certificate and key; with {@code verifyPeer}, clients must
     * present a certificate that {@value #CA_CERT} signed.
     *
     * @throws IOException one line naming the file that is missing or unreadable
     */
    public SslContext serverContext(boolean verifyPeer) throws IOException {
        SslContextBuilder builder = SslContextBuilder.forServer(key(), chain())
                // The handler goes in before the STARTTLS ACK is written, which must pass in the clear.
                .startTls(true);
        if (verifyPeer) {
            builder.trustManager(ca()).clientAuth(ClientAuth.REQUIRE);
        }
        return build(builder);
    }

    /**
     * A client's TLS context: the server must present a certificate that {@value #CA_CERT}
     * signed (any name: nodes trust whatever their cluster's CA signed); this node's own
     * certificate and key go along for a server that verifies its peers.
     */
    public SslContext clientContext() throws IOException {
        return build(SslContextBuilder.forClient()
                // Nodes reach each other by address; what proves a peer is the CA's signature.
                .endpointIdentificationAlgorithm(null)
                .trustManager(ca())
                .keyManager(key(), chain()));
    }

    /** The engine TLS runs on: "OpenSSL" (BoringSSL through netty-tcnative) or "JDK". */
    public static String engine() {
        return provider() == SslProvider.OPENSSL ? "OpenSSL" : "JDK";
    }

    private static SslProvider provider() {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    private SslContext build(SslContextBuilder builder) throws IOException {
        try {
            // TLS 1.2 at least, as the NBD spec asks; 1.3 where both ends have it.
            return builder.sslProvider(provider()).protocols("TLSv1.3", "TLSv1.2").build();
        } catch (SSLException | IllegalArgumentException e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            throw new IOException("cannot use the TLS certificates in " + dir + ": " + root.getMessage(), e);
        }
    }

    private java.security.PrivateKey key() throws IOException {
        return PemFiles.privateKey(file(SERVER_KEY));
    }

    private java.security.cert.X509Certificate[] chain() throws IOException {
        return PemFiles.certificates(file(SERVER_CERT));
    }

    private java.security.cert.X509Certificate[] ca() throws IOException {
        return PemFiles.certificates(file(CA_CERT));
    }

    private Path file(String name) throws IOException {
        Path file = dir.resolve(name);
        if (!Files.isReadable(file)) {
            throw new IOException("TLS certificate file " + file + " is missing or unreadable");
        }
        return file;
    }
}
