package io.hablock.cluster.security;

import io.hablock.cluster.ClusterException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A cluster's credentials, in one file that every node and the CLI read ({@code --secret-file},
 * default {@value #DEFAULT_FILE}, mode 0600): a random secret, from which the ZooKeeper digest
 * credentials are derived, and the cluster CA's certificate and key, with which each node signs its
 * own certificate when it starts (replication runs over mutual TLS between such certificates).
 * Whoever holds the file is a member of the cluster: copy it to the nodes only.
 */
public final class ClusterSecret {
    /** Where nodes and the CLI look when no {@code --secret-file} is given. */
    public static final String DEFAULT_FILE = "/etc/hablock/cluster.secret";
    /** The digest user every hablock client authenticates to ZooKeeper as. */
    public static final String ZK_USER = "hablock";

    private static final String SECRET_LABEL = "HABLOCK CLUSTER SECRET";
    private static final Pattern PEM = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");
    private static final Duration CA_VALIDITY = Duration.ofDays(3650);

    private final byte[] secret;
    private final X509Certificate caCertificate;
    private final PrivateKey caKey;

    private ClusterSecret(byte[] secret, X509Certificate caCertificate, PrivateKey caKey) {
        this.secret = secret;
        this.caCertificate = caCertificate;
        this.caKey = caKey;
    }

    /** New credentials: 32 random bytes and a new CA valid ten years. */
    public static ClusterSecret generate() {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        KeyPair ca = Certificates.newKeyPair();
        return new ClusterSecret(secret, Certificates.selfSignedCa(ca, "hablock cluster CA", CA_VALIDITY), ca.getPrivate());
    }

    /**
     * Reads the file.
     *
     * @throws ClusterException (one line) when it is missing, unreadable or not a cluster secret
     */
    public static ClusterSecret load(Path file) throws ClusterException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new ClusterException("no cluster secret at " + file + " (`hablock cluster init` makes one, and so does "
                    + "the first `hablock server` of a cluster; copy it from a node of the cluster, or give --secret-file)");
        } catch (AccessDeniedException e) {
            throw new ClusterException("cannot read the cluster secret " + file + ": permission denied (run as root?)");
        } catch (IOException e) {
            throw new ClusterException("cannot read the cluster secret " + file + ": " + e.getMessage(), e);
        }
        Map<String, byte[]> blocks = new LinkedHashMap<>();
        Matcher m = PEM.matcher(text);
        while (m.find()) {
            blocks.putIfAbsent(m.group(1), Base64.getMimeDecoder().decode(m.group(2).strip()));
        }
        byte[] secret = blocks.get(SECRET_LABEL);
        byte[] cert = blocks.get("CERTIFICATE");
        byte[] key = blocks.get("PRIVATE KEY");
        if (secret == null || secret.length < 16 || cert == null || key == null) {
            throw new ClusterException(file + " is not a hablock cluster secret (made by `hablock cluster init`)");
        }
        try {
            X509Certificate ca = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(cert));
            PrivateKey caKey = KeyFactory.getInstance(ca.getPublicKey().getAlgorithm())
                    .generatePrivate(new PKCS8EncodedKeySpec(key));
            return new ClusterSecret(secret, ca, caKey);
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new ClusterException(file + ": unreadable CA certificate or key: " + e.getMessage(), e);
        }
    }

    /**
     * Writes new credentials to {@code file} (mode 0600, its directory 0700 if created) unless it
     * exists; either way returns what the file holds. Two processes doing this at once end with
     * the same credentials.
     */
    public static ClusterSecret createIfAbsent(Path file) throws ClusterException {
        if (Files.exists(file)) {
            return load(file);
        }
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            tmp = Files.createTempFile(dir, ".cluster-secret", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, generate().toFileText(), StandardCharsets.US_ASCII);
            try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.createLink(file, tmp); // fails if another process made it first: then theirs counts
        } catch (FileAlreadyExistsException e) {
            // lost a race: read the winner's
        } catch (AccessDeniedException e) {
            throw new ClusterException("cannot create the cluster secret " + file + ": permission denied (run as root, or "
                    + "give --secret-file)");
        } catch (IOException e) {
            throw new ClusterException("cannot create the cluster secret " + file + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a leftover temp file holds nothing the real one does not
                }
            }
        }
        return load(file);
    }

    /** The file's text: the secret, the CA certificate and the CA key as PEM blocks. */
    public String toFileText() {
        try {
            return "# hablock cluster credentials: copy this file, as it is (mode 0600), to every node of the cluster.\n"
                    + Certificates.pem(SECRET_LABEL, secret) + Certificates.pem("CERTIFICATE", caCertificate.getEncoded())
                    + Certificates.pem("PRIVATE KEY", caKey.getEncoded());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The CA certificate as a PEM block (what NBD clients trust: {@code ca-cert.pem}). */
    public String caCertificatePem() {
        try {
            return Certificates.pem("CERTIFICATE", caCertificate.getEncoded());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A certificate the cluster CA signs for {@code key} (see {@link Certificates#issue}). */
    public X509Certificate issue(java.security.PublicKey key, String role, String identity, java.util.List<String> hosts,
            Duration validity) {
        return Certificates.issue(caCertificate, caKey, key, role, identity, hosts, validity);
    }

    public X509Certificate caCertificate() {
        return caCertificate;
    }

    PrivateKey caKey() {
        return caKey;
    }

    /** The password of the {@link #ZK_USER} digest identity in ZooKeeper (derived: the secret itself never leaves the node). */
    public String zooKeeperPassword() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update("hablock zookeeper digest\0".getBytes(StandardCharsets.US_ASCII));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(d.digest(secret));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A short fingerprint of the CA (the first bytes of its SHA-256), to tell clusters apart in logs. */
    public String fingerprint() {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(caCertificate.getEncoded());
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < 6; i++) {
                s.append(String.format("%02x", h[i]));
            }
            return s.toString();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
