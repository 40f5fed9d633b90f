package io.hablock.nbd;

import java.io.IOException;

/**
 * A device called on a network thread (see {@link BlockDevice#mayWait()}) would have to wait to
 * serve the request (for a lease, a lock, the network). The server runs it again on an I/O
 * worker, where waiting is allowed: nothing was done and the client sees no error.
 */
public final class WouldBlockException extends IOException {
    public WouldBlockException(String why) {
        super(why, null);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this; // a signal, not an error: no stack trace to fill
    }
}
