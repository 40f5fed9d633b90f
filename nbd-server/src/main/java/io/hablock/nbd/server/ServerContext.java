package io.hablock.nbd.server;

import io.hablock.nbd.tls.ServerTls;
import java.util.concurrent.ExecutorService;

/**
 * What every connection of one server shares: settings, TLS, the I/O workers, the memory budget,
 * the shutdown state.
 */
final class ServerContext {
    private final NbdServerConfig config;
    private final ServerTls tls;
    private final ExecutorService io;
    private final MemoryBudget memory;
    private volatile boolean shuttingDown;

    ServerContext(NbdServerConfig config, ServerTls tls, ExecutorService io) {
        this.config = config;
        this.tls = tls;
        this.io = io;
        this.memory = new MemoryBudget(config.limits().memoryBytes());
    }

    MemoryBudget memory() {
        return memory;
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
