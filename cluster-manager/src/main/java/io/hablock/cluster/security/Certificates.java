package io.hablock.cluster.security;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Makes the cluster's X.509 certificates: a self-signed CA, and certificates it signs for nodes and
 * administrators (EC P-256, SHA-256 with ECDSA, the JDK's own providers). A certificate names its
 * holder in its subject: {@code O=hablock, OU=<role>, CN=<identity>}; a node's identity is its node
 * id. Nodes' certificates carry their addresses as subject alternative names, so NBD clients that
 * check host names (libnbd, qemu) accept them.
 */
public final class Certificates {
    /** The organisational unit of a node's certificate: may change the volumes it owns. */
    public static final String NODE = "node";
    /** The organisational unit of an administrator's (CLI) certificate: may read checksums, change nothing. */
    public static final String ADMIN = "admin";

    private static final SecureRandom RANDOM = new SecureRandom();

    private Certificates() {
    }

    /** A new EC P-256 key pair. */
    public static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK cannot make EC P-256 keys", e);
        }
    }

    /** A self-signed CA certificate for {@code keys}, valid from an hour ago for {@code validity}. */
    public static X509Certificate selfSignedCa(KeyPair keys, String name, Duration validity) {
        X500Name subject = name("ca", name);
        Instant now = Instant.now();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(validity)), subject, keys.getPublic());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return sign(b, keys.getPrivate());
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot make a CA certificate: " + e.getMessage(), e);
        }
    }

    /**
     * A certificate signed by the CA for {@code subjectKey}, usable by a TLS server and client alike.
     *
     * @param role {@link #NODE} or {@link #ADMIN}
     * @param identity the holder (a node id, an administrator's name)
     * @param hosts host names or IP addresses the holder is reached at (subject alternative names)
     */
    public static X509Certificate issue(X509Certificate ca, PrivateKey caKey, PublicKey subjectKey, String role,
            String identity, List<String> hosts, Duration validity) {
        Instant now = Instant.now();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca, serial(),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(validity)), name(role, identity), subjectKey);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
            b.addExtension(Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKey));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca));
            List<GeneralName> names = new ArrayList<>();
            for (String h : hosts) {
                if (h == null || h.isBlank()) {
                    continue;
                }
                names.add(isAddress(h) ? new GeneralName(GeneralName.iPAddress, h) : new GeneralName(GeneralName.dNSName, h));
            }
            if (!names.isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(GeneralName[]::new)));
            }
            return sign(b, caKey);
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot make a certificate for " + identity + ": " + e.getMessage(), e);
        }
    }

    /**
     * The private key as PKCS#8 that also carries the public key: GnuTLS (nbdkit, libnbd, qemu)
     * refuses EC keys without it, and the JDK's own encoding leaves it out.
     */
    public static byte[] pkcs8(KeyPair keys) {
        try {
            SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(keys.getPublic().getEncoded());
            java.security.interfaces.ECPrivateKey ec = (java.security.interfaces.ECPrivateKey) keys.getPrivate();
            org.bouncycastle.asn1.sec.ECPrivateKey inner = new org.bouncycastle.asn1.sec.ECPrivateKey(
                    ec.getParams().getOrder().bitLength(), ec.getS(), spki.getPublicKeyData(), null);
            return new PrivateKeyInfo(spki.getAlgorithm(), inner).getEncoded();
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode a key: " + e.getMessage(), e);
        }
    }

    /** A PEM block: {@code -----BEGIN LABEL-----}, base64 in lines of 64, {@code -----END LABEL-----}. */
    public static String pem(String label, byte[] der) {
        return "-----BEGIN " + label + "-----\n" + java.util.Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + label + "-----\n";
    }

    private static boolean isAddress(String host) {
        if (!host.matches("[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*")) {
            return false;
        }
        try {
            InetAddress.getByName(host); // a literal: no lookup
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static X500Name name(String role, String identity) {
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "hablock").addRDN(BCStyle.OU, role)
                .addRDN(BCStyle.CN, identity).build();
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e.getMessage(), e);
        }
    }
}
