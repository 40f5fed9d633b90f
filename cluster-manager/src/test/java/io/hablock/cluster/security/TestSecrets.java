package io.hablock.cluster.security;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One cluster secret for the tests of this JVM, in memory and in a file nodes are given. */
public final class TestSecrets {
    private static final ClusterSecret SECRET = ClusterSecret.generate();
    private static final Path FILE;

    static {
        try {
            FILE = Files.createTempFile("hablock-test-", ".secret");
            Files.writeString(FILE, SECRET.toFileText());
            FILE.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private TestSecrets() {
    }

    public static ClusterSecret secret() {
        return SECRET;
    }

    public static Path file() {
        return FILE;
    }

    /** A JDK TLS context presenting {@code id}'s certificate and trusting its CA (for raw-socket tests). */
    public static SSLContext jdkContext(ClusterTls id) {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("me", id.key(), new char[0], new Certificate[] {id.certificate()});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, new char[0]);
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", id.ca());
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext c = SSLContext.getInstance("TLSv1.3");
            c.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return c;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A TLS connection to {@code at} as {@code id}, handshake done. */
    public static SSLSocket connect(ClusterTls id, InetSocketAddress at) throws IOException {
        SSLSocket s = (SSLSocket) jdkContext(id).getSocketFactory().createSocket(at.getAddress(), at.getPort());
        s.startHandshake();
        return s;
    }

    /** A TLS listener on the loopback address as {@code id} (a peer that may then say nothing). */
    public static SSLServerSocket listen(ClusterTls id) throws IOException {
        SSLServerSocket s = (SSLServerSocket) jdkContext(id).getServerSocketFactory().createServerSocket(0, 8,
                InetAddress.getLoopbackAddress());
        s.setNeedClientAuth(true);
        return s;
    }

    /** A node's identity in the test cluster. */
    public static ClusterTls node(String nodeId) {
        return ClusterTls.of(SECRET, Certificates.NODE, nodeId);
    }
}
