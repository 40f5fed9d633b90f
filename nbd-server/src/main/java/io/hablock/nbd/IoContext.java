package io.hablock.nbd;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * What a device's asynchronous calls get from the server for one connection: a place to run
 * blocking work (the server's I/O workers, never the network thread) and whether the client is
 * still there. A device that waits on the network completes its futures from the network's
 * callbacks and holds no thread meanwhile; a device that reads and writes a local file runs that
 * through {@link #blocking}.
 */
public interface IoContext {

    /** Work that blocks: a pread, a pwrite, an fsync, a wait on copies. */
    @FunctionalInterface
    interface BlockingCall<T> {
        T call() throws IOException;
    }

    /**
     * Runs {@code work} on a thread that may wait and completes the future with its outcome. When
     * the client has gone by the time a thread takes it, the work does not run and the future
     * fails: a request of a closed connection must not land after newer ones of another.
     */
    <T> CompletableFuture<T> blocking(BlockingCall<T> work);

    /** True once the client's connection is closed: work not started yet need not be done. */
    boolean clientGone();

    /**
     * The client's connection, or null off one. A device that talks to the network may run on
     * its event loop (the calls of one connection all come from it, and completing there costs
     * no thread hop) and open its own connections of the same transport
     * ({@code channel().getClass()}). It must not read from or write to it.
     */
    default io.netty.channel.Channel channel() {
        return null;
    }

    /** Runs blocking work on the calling thread, for a client that stays: for callers that may wait. */
    IoContext CALLER = new IoContext() {
        @Override
        public <T> CompletableFuture<T> blocking(BlockingCall<T> work) {
            try {
                return CompletableFuture.completedFuture(work.call());
            } catch (IOException | RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override
        public boolean clientGone() {
            return false;
        }
    };
}
