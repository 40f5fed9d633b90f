package io.hablock.blockstore;

import java.io.IOException;

/** A block store operation refused or failed for a reason a user can act on; one-line message. */
public class BlockStoreException extends IOException {
    public BlockStoreException(String message) {
        super(message);
    }

    public BlockStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
