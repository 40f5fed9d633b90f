package io.hablock.nbd.server;

import io.hablock.nbd.tls.ServerTls;
import java.util.concurrent.ExecutorService;

/** What every connection of one server shares: settings, TLS, the I/O workers, the shutdown state. */
final class ServerContext {
    private final NbdServerConfig config;
    private final ServerTls tls;
    private final ExecutorService io;
    private volatile boolean shuttingDown;

    ServerContext(NbdServerConfig config, ServerTls tls, ExecutorService io) {
        this.config = config;
        this.tls = tls;
        this.io = io;
    }

    ServerTls tls() {
        return tls;
    }

    NbdServerConfig config() {
        return config;
    }

    ExecutorService io() {
        return io;
    }

    boolean isShuttingDown() {
        return shuttingDown;
    }

    void beginShutdown() {
        shuttingDown = true;
    }
}
