package io.hablock.nbd.server;

import java.util.concurrent.ExecutorService;

/** What every connection of one server shares: settings, the I/O workers, the shutdown state. */
final class ServerContext {
    private final NbdServerConfig config;
    private final ExecutorService io;
    private volatile boolean shuttingDown;

    ServerContext(NbdServerConfig config, ExecutorService io) {
        this.config = config;
        this.io = io;
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
