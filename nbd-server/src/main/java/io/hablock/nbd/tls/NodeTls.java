package io.hablock.nbd.tls;

import io.netty.handler.ssl.SslContext;
import java.io.IOException;

/**
 * A node's NBD TLS, both ways: what its server offers, and the client context its forwarders
 * use to reach the owners' NBD ports (null when the mode is off: they connect in the clear).
 * A node with TLS on or required reaches every owner through TLS, presenting its own
 * certificate; the cluster's nodes are expected to share one CA.
 */
public record NodeTls(ServerTls server, SslContext client) {
    public static NodeTls off() {
        return new NodeTls(ServerTls.off(), null);
    }

    /** Reads the files once (not at all when {@code mode} is off). */
    public static NodeTls load(TlsMode mode, TlsFiles files, boolean verifyPeer) throws IOException {
        if (mode == TlsMode.OFF) {
            return off();
        }
        return new NodeTls(ServerTls.load(mode, files, verifyPeer), files.clientContext());
    }
}
