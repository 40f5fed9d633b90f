package io.hablock.cli.command;

import io.hablock.cluster.security.ClusterSecret;
import java.nio.file.Files;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hablock cluster init}: makes a new cluster's credentials. */
@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Make a new cluster's credentials in one file (mode 0600): a random secret (ZooKeeper's digest "
                + "credentials derive from it: only its holders may read or change the cluster's znodes) and a cluster "
                + "CA (each node signs its own certificate with it at start; replication between nodes is mutual TLS "
                + "with those certificates). Copy the file to every node of the cluster, as it is; it never leaves "
                + "them otherwise. The first `hablock server` of a cluster makes it too when it is missing.",
                "Refuses to replace an existing file: new credentials would lock the cluster's nodes out."})
public final class ClusterInitCommand implements Callable<Integer> {
    @Mixin
    SecretFileOption secret;

    @Option(names = "--print-ca", description = "Also print the CA certificate (PEM) on standard output, for NBD "
            + "clients that connect over TLS (ca-cert.pem).")
    boolean printCa;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(secret.file())) {
            throw new IllegalStateException(secret.file() + " already exists (a cluster's credentials are never replaced: "
                    + "give another --secret-file for a new cluster)");
        }
        ClusterSecret made = secret.createIfAbsent();
        System.err.println("cluster credentials written to " + secret.file() + " (CA " + made.fingerprint()
                + "): copy this file to every node of the cluster (mode 0600)");
        if (printCa) {
            System.out.print(made.caCertificatePem());
        }
        return 0;
    }
}
