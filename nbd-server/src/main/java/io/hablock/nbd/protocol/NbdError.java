package io.hablock.nbd.protocol;

import io.hablock.nbd.DeviceError;

/** The error values a server may put in a reply, with the spec's numbers, and what each means to a device. */
public enum NbdError {
    EPERM(1, DeviceError.PERMISSION),
    EIO(5, DeviceError.IO),
    ENOMEM(12, DeviceError.NO_MEMORY),
    EINVAL(22, DeviceError.INVALID),
    ENOSPC(28, DeviceError.NO_SPACE),
    EOVERFLOW(75, DeviceError.OVERFLOW),
    ENOTSUP(95, DeviceError.NOT_SUPPORTED),
    ESHUTDOWN(108, DeviceError.SHUTDOWN);

    private final int code;
    private final DeviceError deviceError;

    NbdError(int code, DeviceError deviceError) {
        this.code = code;
        this.deviceError = deviceError;
    }

    public int code() {
        return code;
    }

    public DeviceError deviceError() {
        return deviceError;
    }

    /** The error to send for a device's {@code error}. */
    public static NbdError of(DeviceError error) {
        for (NbdError e : values()) {
            if (e.deviceError == error) {
                return e;
            }
        }
        throw new IllegalArgumentException("no NBD error for " + error);
    }

    /** The error with value {@code code}, or null for a value the spec does not define. */
    public static NbdError ofCode(int code) {
        for (NbdError e : values()) {
            if (e.code == code) {
                return e;
            }
        }
        return null;
    }
}
