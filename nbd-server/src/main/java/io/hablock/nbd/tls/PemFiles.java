package io.hablock.nbd.tls;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the PEM files of a certificate directory: certificates, and an unencrypted private key
 * in any of the forms the usual tools write: PKCS#8 ({@code BEGIN PRIVATE KEY}: openssl 3,
 * {@code certtool --pkcs8}), PKCS#1 RSA ({@code BEGIN RSA PRIVATE KEY}: certtool's default,
 * {@code openssl genrsa -traditional}) and SEC1 EC ({@code BEGIN EC PRIVATE KEY}). The JDK reads
 * only PKCS#8; the other two are wrapped into it here.
 */
final class PemFiles {
    private static final Pattern KEY = Pattern.compile(
            "-----BEGIN (PRIVATE|RSA PRIVATE|EC PRIVATE|ENCRYPTED PRIVATE) KEY-----([^-]*)-----END \\1 KEY-----");
    /** rsaEncryption, 1.2.840.113549.1.1.1, then NULL parameters. */
    private static final byte[] RSA_ALGORITHM = hex("300d06092a864886f70d0101010500");
    /** id-ecPublicKey, 1.2.840.10045.2.1 (the curve follows). */
    private static final byte[] EC_KEY_OID = hex("06072a8648ce3d0201");

    private PemFiles() {
    }

    static X509Certificate[] certificates(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            X509Certificate[] certs = CertificateFactory.getInstance("X.509").generateCertificates(in).stream()
                    .map(X509Certificate.class::cast).toArray(X509Certificate[]::new);
            if (certs.length == 0) {
                throw new IOException(file + " holds no certificate");
            }
            return certs;
        } catch (GeneralSecurityException e) {
            throw new IOException(file + " is not a PEM certificate: " + e.getMessage(), e);
        }
    }

    static PrivateKey privateKey(Path file) throws IOException {
        Matcher m = KEY.matcher(Files.readString(file, StandardCharsets.US_ASCII));
        if (!m.find()) {
            throw new IOException(file + " holds no PEM private key");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(m.group(2).strip());
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": the private key is not valid base64", e);
        }
        byte[] pkcs8 = switch (m.group(1)) {
            case "PRIVATE" -> der;
            case "RSA PRIVATE" -> sequence(concat(hex("020100"), RSA_ALGORITHM, tlv(0x04, der)));
            case "EC PRIVATE" -> sequence(concat(hex("020100"), sequence(concat(EC_KEY_OID, curve(file, der))),
                    tlv(0x04, der)));
            default -> throw new IOException(file + ": the private key is encrypted; hablock reads unencrypted keys");
        };
        for (String algorithm : new String[] {"RSA", "EC"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new IOException(file + ": not an RSA or EC private key");
    }

    /** The named curve's OID (its whole TLV) from a SEC1 ECPrivateKey's [0] parameters. */
    private static byte[] curve(Path file, byte[] sec1) throws IOException {
        // SEQUENCE { INTEGER 1, OCTET STRING key, [0] { OID curve } OPTIONAL, [1] ... OPTIONAL }
        int[] outer = header(sec1, 0);
        int at = outer[0];
        int end = outer[0] + outer[1];
        while (at < end) {
            int[] h = header(sec1, at);
            if ((sec1[at] & 0xff) == 0xa0) {
                int[] oid = header(sec1, h[0]);
                if (sec1[h[0]] != 0x06) {
                    break;
                }
                return java.util.Arrays.copyOfRange(sec1, h[0], oid[0] + oid[1]);
            }
            at = h[0] + h[1];
        }
        throw new IOException(file + ": an EC private key without its named curve (convert it to PKCS#8: "
                + "openssl pkcs8 -topk8 -nocrypt)");
    }

    /** The start and length of the content of the DER element at {@code at}. */
    private static int[] header(byte[] der, int at) throws IOException {
        if (at + 2 > der.length) {
            throw new IOException("truncated DER in a private key");
        }
        int first = der[at + 1] & 0xff;
        if (first < 0x80) {
            return new int[] {at + 2, first};
        }
        int n = first & 0x7f;
        if (n > 3 || at + 2 + n > der.length) {
            throw new IOException("bad DER length in a private key");
        }
        int length = 0;
        for (int i = 0; i < n; i++) {
            length = (length << 8) | (der[at + 2 + i] & 0xff);
        }
        return new int[] {at + 2 + n, length};
    }

    private static byte[] sequence(byte[] content) {
        return tlv(0x30, content);
    }

    private static byte[] tlv(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
        out.write(tag);
        int n = content.length;
        if (n < 0x80) {
            out.write(n);
        } else {
            int bytes = n < 0x100 ? 1 : n < 0x10000 ? 2 : 3;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(n >>> (8 * i));
            }
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] hex(String s) {
        return java.util.HexFormat.of().parseHex(s);
    }
}
