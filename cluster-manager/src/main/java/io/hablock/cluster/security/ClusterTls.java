package io.hablock.cluster.security;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * One process's TLS identity in its cluster: a key and a certificate signed by the cluster CA, and
 * the CA it trusts. Gives the Netty contexts for mutual TLS (both sides present a certificate of
 * the same CA, TLS 1.3) and tells who is at the other end of a connection.
 */
public final class ClusterTls {
    private static final Duration VALIDITY = Duration.ofDays(825);
    private static final List<String> PROTOCOLS = List.of("TLSv1.3");

    private final X509Certificate ca;
    private final PrivateKey key;
    private final X509Certificate certificate;
    private final SslContext server;
    private final SslContext client;

    private ClusterTls(X509Certificate ca, PrivateKey key, X509Certificate certificate) {
        this.ca = ca;
        this.key = key;
        this.certificate = certificate;
        try {
            SslProvider provider = OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
            this.server = SslContextBuilder.forServer(key, certificate).sslProvider(provider).trustManager(ca)
                    .clientAuth(ClientAuth.REQUIRE).protocols(PROTOCOLS).build();
            // Peers are known by the CA that signed them and by the identity in the certificate, not by
            // the name used to reach them (a node may be reached at any of its addresses).
            this.client = SslContextBuilder.forClient().sslProvider(provider).keyManager(key, certificate).trustManager(ca)
                    .endpointIdentificationAlgorithm(null).protocols(PROTOCOLS).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /**
     * A node's identity: a new key and a certificate for its id, signed with the cluster CA at
     * start (nothing to rotate on disk: a restart makes a new one).
     *
     * @param hosts the addresses the node is reached at
     */
    public static ClusterTls forNode(ClusterSecret secret, String nodeId, List<String> hosts) {
        KeyPair keys = Certificates.newKeyPair();
        return new ClusterTls(secret.caCertificate(), keys.getPrivate(), Certificates.issue(secret.caCertificate(),
                secret.caKey(), keys.getPublic(), Certificates.NODE, nodeId, hosts, VALIDITY));
    }

    /** An administrator's (the CLI's) identity: may ask copies for checksums, may change nothing. */
    public static ClusterTls forAdmin(ClusterSecret secret, String name) {
        KeyPair keys = Certificates.newKeyPair();
        return new ClusterTls(secret.caCertificate(), keys.getPrivate(), Certificates.issue(secret.caCertificate(),
                secret.caKey(), keys.getPublic(), Certificates.ADMIN, name, List.of(), Duration.ofDays(1)));
    }

    /** For tests: an identity signed by {@code secret}'s CA with any role and name. */
    public static ClusterTls of(ClusterSecret secret, String role, String identity) {
        KeyPair keys = Certificates.newKeyPair();
        return new ClusterTls(secret.caCertificate(), keys.getPrivate(), Certificates.issue(secret.caCertificate(),
                secret.caKey(), keys.getPublic(), role, identity, List.of("127.0.0.1"), VALIDITY));
    }

    /** The server side of mutual TLS: a client without a certificate of this cluster's CA is refused. */
    public SslContext serverContext() {
        return server;
    }

    public SslContext clientContext() {
        return client;
    }

    public X509Certificate certificate() {
        return certificate;
    }

    public PrivateKey key() {
        return key;
    }

    public X509Certificate ca() {
        return ca;
    }

    /** Who is at the other end of an established TLS connection: the subject of its certificate. */
    public record Peer(String role, String identity) {
        public boolean isNode() {
            return Certificates.NODE.equals(role);
        }

        @Override
        public String toString() {
            return role + " " + identity;
        }
    }

    /** The peer of a connection whose handshake completed, or empty when it presented no certificate. */
    public static Optional<Peer> peer(SslHandler ssl) {
        if (ssl == null) {
            return Optional.empty();
        }
        return peer(ssl.engine().getSession());
    }

    static Optional<Peer> peer(SSLSession session) {
        try {
            Certificate[] chain = session.getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate c)) {
                return Optional.empty();
            }
            String role = null;
            String identity = null;
            for (Rdn rdn : new LdapName(c.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("OU")) {
                    role = rdn.getValue().toString();
                } else if (rdn.getType().equalsIgnoreCase("CN")) {
                    identity = rdn.getValue().toString();
                }
            }
            return role == null || identity == null ? Optional.empty() : Optional.of(new Peer(role, identity));
        } catch (SSLPeerUnverifiedException | InvalidNameException e) {
            return Optional.empty();
        }
    }
}
