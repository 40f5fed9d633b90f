package io.hablock.cli.command;

import io.hablock.nbd.tls.NodeTls;
import io.hablock.nbd.tls.TlsFiles;
import io.hablock.nbd.tls.TlsMode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/** {@code --tls}, {@code --tls-certificates}, {@code --tls-verify-peer}: NBD over TLS, as nbdkit names them. */
public final class NbdTlsOptions {
    @Option(names = "--tls", paramLabel = "off|on|require", defaultValue = "off",
            description = {"NBD over TLS (NBD_OPT_STARTTLS): 'on' serves TLS and plain clients, 'require' refuses "
                    + "every option but STARTTLS before TLS (NBD_REP_ERR_TLS_REQD) (default ${DEFAULT-VALUE}). "
                    + "When not off, this node also reaches the owners it forwards to through TLS, presenting "
                    + "its own certificate."})
    String tls;

    @Option(names = "--tls-certificates", paramLabel = "DIR",
            description = {"PEM files as nbdkit and qemu lay them out: ca-cert.pem, server-cert.pem, server-key.pem "
                    + "(PKCS#8) (default /etc/hablock/pki)."})
    Path certificates;

    @Option(names = "--tls-verify-peer",
            description = "Clients must present a certificate that ca-cert.pem signed.")
    boolean verifyPeer;

    /** The mode parsed; a one-line error for anything else. */
    TlsMode mode() {
        try {
            return TlsMode.valueOf(tls.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--tls must be off, on or require, not '" + tls + "'");
        }
    }

    /** Reads the certificates (not when --tls is off); a one-line error when a file is missing or bad. */
    NodeTls load() throws IOException {
        TlsMode mode = mode();
        if (mode == TlsMode.OFF && (certificates != null || verifyPeer)) {
            throw new IllegalArgumentException("--tls-certificates and --tls-verify-peer need --tls on or require");
        }
        return NodeTls.load(mode, new TlsFiles(certificates == null ? TlsFiles.DEFAULT_DIR : certificates), verifyPeer);
    }
}
