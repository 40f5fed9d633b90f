package io.hablock.cli.command;

import io.hablock.cluster.security.Certificates;
import io.hablock.cluster.security.ClusterSecret;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock cluster cert NAME --out DIR}: a certificate of the cluster CA, in nbdkit's and qemu's file layout. */
@Command(name = "cert", mixinStandardHelpOptions = true,
        description = {"Issue a certificate signed by the cluster CA (from --secret-file) into DIR, in the layout nbdkit, "
                + "qemu and `hablock server --tls-certificates` read: ca-cert.pem, and server-cert.pem/server-key.pem "
                + "(for a node's NBD server) or, with --client, client-cert.pem/client-key.pem (for nbdinfo, qemu, fio "
                + "or nbd-client connecting over TLS to nodes that verify their clients). The key is EC P-256, "
                + "unencrypted, mode 0600. Existing files are not replaced."})
public final class ClusterCertCommand implements Callable<Integer> {
    @Mixin
    SecretFileOption secret;

    @Parameters(index = "0", paramLabel = "NAME", description = "Who holds it: a node's or a client's name (its CN).")
    String name;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory for the files (made if missing).")
    Path out;

    @Option(names = "--host", paramLabel = "HOST[,HOST...]", split = ",",
            description = "Addresses or names clients use to reach it (subject alternative names; a server's needs them).")
    List<String> hosts = new ArrayList<>();

    @Option(names = "--client", description = "A client certificate (client-*.pem) rather than a server's.")
    boolean client;

    @Option(names = "--days", paramLabel = "N", defaultValue = "825", description = "Validity (default ${DEFAULT-VALUE} days).")
    int days;

    @Override
    public Integer call() throws Exception {
        if (days < 1) {
            throw new IllegalArgumentException("--days must be at least 1");
        }
        ClusterSecret ca = secret.load();
        List<Path> files = issue(ca, name, hosts, client, Duration.ofDays(days), out, secret.file());
        System.out.println((client ? "client" : "server") + " certificate for " + name
                + (hosts.isEmpty() ? "" : " (" + String.join(", ", hosts) + ")") + " in " + out + ": "
                + files.stream().map(Path::getFileName).toList() + ", valid " + days + " days");
        return 0;
    }

    /**
     * Writes a new key and its certificate of the cluster CA into {@code out}, with the CA's
     * certificate: ca-cert.pem and server-cert.pem/server-key.pem, or client-*.pem for a client.
     * Existing certificate and key files are not replaced.
     *
     * @param secretFile where the CA comes from, for messages
     * @return the CA's, the certificate's and the key's files
     */
    static List<Path> issue(ClusterSecret ca, String name, List<String> hosts, boolean client, Duration validity, Path out,
            Path secretFile) throws Exception {
        KeyPair keys = Certificates.newKeyPair();
        X509Certificate cert = ca.issue(keys.getPublic(), client ? Certificates.ADMIN : Certificates.NODE, name, hosts, validity);
        String role = client ? "client" : "server";
        Files.createDirectories(out);
        Path certFile = out.resolve(role + "-cert.pem");
        Path keyFile = out.resolve(role + "-key.pem");
        for (Path p : List.of(certFile, keyFile)) {
            if (Files.exists(p)) {
                throw new FileAlreadyExistsException(p + " already exists (remove it first to issue a new one)");
            }
        }
        Path caFile = out.resolve("ca-cert.pem");
        if (!Files.exists(caFile)) {
            Files.writeString(caFile, ca.caCertificatePem(), StandardCharsets.US_ASCII);
        } else if (!Files.readString(caFile, StandardCharsets.US_ASCII).strip().equals(ca.caCertificatePem().strip())) {
            throw new IllegalStateException(caFile + " holds another CA than the cluster's (of " + secretFile + ")");
        }
        Files.writeString(keyFile, Certificates.pem("PRIVATE KEY", Certificates.pkcs8(keys)), StandardCharsets.US_ASCII,
                StandardOpenOption.CREATE_NEW);
        Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-------"));
        Files.writeString(certFile, Certificates.pem("CERTIFICATE", cert.getEncoded()), StandardCharsets.US_ASCII,
                StandardOpenOption.CREATE_NEW);
        return List.of(caFile, certFile, keyFile);
    }
}
