package io.hablock.nbd;

import java.io.IOException;

/** A device failure that names the {@link DeviceError} the client should see. */
public class DeviceException extends IOException {
    private static final long serialVersionUID = 1L;

    private final DeviceError error;

    public DeviceException(DeviceError error, String message) {
        super(message);
        this.error = error;
    }

    public DeviceException(DeviceError error, String message, Throwable cause) {
        super(message, cause);
        this.error = error;
    }

    public DeviceError error() {
        return error;
    }
}
