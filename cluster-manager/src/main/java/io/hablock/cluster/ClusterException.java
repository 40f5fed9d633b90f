package io.hablock.cluster;

import java.io.IOException;

/** A cluster operation failed; the message is one line a user can act on. */
public class ClusterException extends IOException {
    public ClusterException(String message) {
        super(message);
    }

    public ClusterException(String message, Throwable cause) {
        super(message, cause);
    }
}
