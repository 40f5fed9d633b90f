package io.hablock.nbd.tls;

import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.util.Objects;

/**
 * How an NBD server does TLS: its mode and, unless the mode is {@link TlsMode#OFF}, the context
 * its {@code SslHandler}s are made from.
 */
public record ServerTls(TlsMode mode, SslContext context) {
    public ServerTls {
        Objects.requireNonNull(mode);
        if ((mode == TlsMode.OFF) != (context == null)) {
            throw new IllegalArgumentException("a TLS context goes with modes on and require only");
        }
    }

    public static ServerTls off() {
        return new ServerTls(TlsMode.OFF, null);
    }

    /** The mode with the certificates in {@code files} (not read when the mode is off). */
    public static ServerTls load(TlsMode mode, TlsFiles files, boolean verifyPeer) throws IOException {
        return mode == TlsMode.OFF ? off() : new ServerTls(mode, files.serverContext(verifyPeer));
    }
}
