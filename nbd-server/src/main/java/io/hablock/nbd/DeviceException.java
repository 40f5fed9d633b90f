package io.hablock.nbd;

import io.hablock.nbd.protocol.NbdError;
import java.io.IOException;

/** A device failure that names the NBD error the client should see. */
public class DeviceException extends IOException {
    private static final long serialVersionUID = 1L;

    private final NbdError error;

    public DeviceException(NbdError error, String message) {
        super(message);
        this.error = error;
    }

    public DeviceException(NbdError error, String message, Throwable cause) {
        super(message, cause);
        this.error = error;
    }

    public NbdError error() {
        return error;
    }
}
