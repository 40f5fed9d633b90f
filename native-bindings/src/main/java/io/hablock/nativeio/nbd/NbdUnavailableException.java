package io.hablock.nativeio.nbd;

import java.io.IOException;

/** This kernel cannot attach NBD devices: the nbd module is not loaded (or not built). */
public final class NbdUnavailableException extends IOException {
    /** The message for a kernel without the module, as the user sees it. */
    public static final String NOT_LOADED = "the nbd kernel module is not loaded: modprobe nbd";

    NbdUnavailableException(String message) {
        super(message);
    }
}
