package io.hablock.nbd.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Certificates made with the {@code openssl} command for TLS tests, in the directory layouts
 * nbdkit, qemu and libnbd read: a CA; {@link #server()} holds what a node reads (ca-cert.pem,
 * server-cert.pem and server-key.pem for 127.0.0.1 and localhost, also good as a client
 * certificate); {@link #client()} what libnbd and qemu read as a client with a certificate;
 * {@link #anonymous()} the CA only (a client without a certificate); {@link #stranger()} a client
 * whose certificate another CA signed.
 */
public final class TestCertificates {
    private final Path root;

    private TestCertificates(Path root) {
        this.root = root;
    }

    /** Makes every certificate under {@code root} (a second or so). */
    public static TestCertificates create(Path root) throws IOException, InterruptedException {
        TestCertificates certs = new TestCertificates(root);
        Path work = Files.createDirectories(root.resolve("work"));
        Files.createDirectories(certs.server());
        Files.createDirectories(certs.client());
        Files.createDirectories(certs.anonymous());
        Files.createDirectories(certs.stranger());
        Files.createDirectories(certs.strangerNode());
        certs.ca(work, "ca", "hablock test CA");
        certs.ca(work, "other-ca", "some other CA");
        Files.writeString(work.resolve("node.ext"), """
                subjectAltName=IP:127.0.0.1,DNS:localhost
                basicConstraints=CA:FALSE
                keyUsage=critical,digitalSignature,keyEncipherment
                extendedKeyUsage=serverAuth,clientAuth
                """);
        Files.writeString(work.resolve("client.ext"), """
                basicConstraints=CA:FALSE
                keyUsage=critical,digitalSignature,keyEncipherment
                extendedKeyUsage=clientAuth
                """);
        certs.sign(work, "ca", "node", "localhost", "node.ext");
        certs.sign(work, "ca", "client", "test client", "client.ext");
        certs.sign(work, "other-ca", "stranger", "stranger", "client.ext");
        certs.sign(work, "other-ca", "stranger-node", "localhost", "node.ext");
        Files.copy(work.resolve("other-ca-cert.pem"), certs.strangerNode().resolve("ca-cert.pem"));
        Files.copy(work.resolve("stranger-node-cert.pem"), certs.strangerNode().resolve("server-cert.pem"));
        Files.copy(work.resolve("stranger-node-key.pem"), certs.strangerNode().resolve("server-key.pem"));
        Path ca = work.resolve("ca-cert.pem");
        for (Path dir : List.of(certs.server(), certs.client(), certs.anonymous(), certs.stranger())) {
            Files.copy(ca, dir.resolve("ca-cert.pem"));
        }
        Files.copy(work.resolve("node-cert.pem"), certs.server().resolve("server-cert.pem"));
        Files.copy(work.resolve("node-key.pem"), certs.server().resolve("server-key.pem"));
        Files.copy(work.resolve("client-cert.pem"), certs.client().resolve("client-cert.pem"));
        Files.copy(work.resolve("client-key.pem"), certs.client().resolve("client-key.pem"));
        Files.copy(work.resolve("stranger-cert.pem"), certs.stranger().resolve("client-cert.pem"));
        Files.copy(work.resolve("stranger-key.pem"), certs.stranger().resolve("client-key.pem"));
        return certs;
    }

    /** ca-cert.pem, server-cert.pem, server-key.pem: a node's directory. */
    public Path server() {
        return root.resolve("server");
    }

    /** ca-cert.pem, client-cert.pem, client-key.pem: a client with a certificate the CA signed. */
    public Path client() {
        return root.resolve("client");
    }

    /** ca-cert.pem only: a client that checks the server and has no certificate of its own. */
    public Path anonymous() {
        return root.resolve("anonymous");
    }

    /** A node's layout (ca-cert.pem, server-cert.pem, server-key.pem) all of another CA. */
    public Path strangerNode() {
        return root.resolve("stranger-node");
    }

    /** ca-cert.pem and a client certificate that another CA signed. */
    public Path stranger() {
        return root.resolve("stranger");
    }

    private void ca(Path work, String name, String subject) throws IOException, InterruptedException {
        openssl(work, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + "-key.pem", "-out", name + "-cert.pem", "-days", "2", "-subj", "/CN=" + subject,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    }

    private void sign(Path work, String ca, String name, String subject, String extensions)
            throws IOException, InterruptedException {
        openssl(work, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + "-key.pem", "-out", name + ".csr", "-subj", "/CN=" + subject);
        openssl(work, "x509", "-req", "-in", name + ".csr", "-CA", ca + "-cert.pem", "-CAkey", ca + "-key.pem",
                "-CAcreateserial", "-out", name + "-cert.pem", "-days", "2", "-extfile", extensions);
    }

    private static void openssl(Path work, String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).directory(work.toFile()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IOException("openssl " + String.join(" ", args) + " failed:\n" + output);
        }
    }
}
