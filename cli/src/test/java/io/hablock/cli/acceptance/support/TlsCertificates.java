package io.hablock.cli.acceptance.support;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A CA and certificates made with the {@code openssl} command: {@link #node()} in the layout a
 * node reads ({@code --tls-certificates}: ca-cert.pem, server-cert.pem, server-key.pem for
 * 127.0.0.1), {@link #client()} in the one libnbd and qemu read (ca-cert.pem, client-cert.pem,
 * client-key.pem).
 */
public final class TlsCertificates {
    private final Path root;

    private TlsCertificates(Path root) {
        this.root = root;
    }

    public static TlsCertificates create(Path root) throws Exception {
        TlsCertificates certs = new TlsCertificates(root);
        Path work = Files.createDirectories(root.resolve("work"));
        Files.createDirectories(certs.node());
        Files.createDirectories(certs.client());
        openssl(work, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca-key.pem", "-out", "ca-cert.pem", "-days", "2", "-subj", "/CN=test cluster CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        Files.writeString(work.resolve("node.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                + "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
        Files.writeString(work.resolve("client.ext"), "keyUsage=critical,digitalSignature,keyEncipherment\n"
                + "extendedKeyUsage=clientAuth\n");
        for (String name : List.of("node", "client")) {
            openssl(work, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", name + "-key.pem", "-out", name + ".csr", "-subj", "/CN=" + name);
            openssl(work, "x509", "-req", "-in", name + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                    "-CAcreateserial", "-out", name + "-cert.pem", "-days", "2", "-extfile", name + ".ext");
        }
        Files.copy(work.resolve("ca-cert.pem"), certs.node().resolve("ca-cert.pem"));
        Files.copy(work.resolve("ca-cert.pem"), certs.client().resolve("ca-cert.pem"));
        Files.copy(work.resolve("node-cert.pem"), certs.node().resolve("server-cert.pem"));
        Files.copy(work.resolve("node-key.pem"), certs.node().resolve("server-key.pem"));
        Files.copy(work.resolve("client-cert.pem"), certs.client().resolve("client-cert.pem"));
        Files.copy(work.resolve("client-key.pem"), certs.client().resolve("client-key.pem"));
        return certs;
    }

    public Path node() {
        return root.resolve("node");
    }

    public Path client() {
        return root.resolve("client");
    }

    private static void openssl(Path work, String... args) {
        List<String> argv = new ArrayList<>(List.of("sh", "-c", "cd \"$0\" && exec openssl \"$@\"", work.toString()));
        argv.addAll(List.of(args));
        Command.of(argv).runOk();
    }
}
