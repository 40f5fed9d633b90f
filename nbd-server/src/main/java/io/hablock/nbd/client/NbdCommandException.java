package io.hablock.nbd.client;

import io.hablock.nbd.DeviceError;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.protocol.NbdError;
import java.io.IOException;

/**
 * The server answered a request with an error. The connection stays usable: the reply was read
 * in full. As a {@link DeviceException} it carries what the error means to a device, so a device
 * that passes it on (a forwarder) gives its own client the same error.
 */
public final class NbdCommandException extends DeviceException {
    private final int error;

    NbdCommandException(String request, int error) {
        this(request, error, null);
    }

    /** With the server's {@code message} (a structured error chunk's), when it gave one. */
    NbdCommandException(String request, int error, String message) {
        super(deviceErrorOf(error), request + " failed: " + errorName(error) + " (" + error + ")"
                + (message == null || message.isEmpty() ? "" : ": " + message));
        this.error = error;
    }

    /** The error value of the reply (errno numbering, e.g. 22). */
    public int code() {
        return error;
    }

    /**
     * What the error means to a device: a forwarder tells by it whether another server would
     * answer the same. A value the spec does not define counts as {@link DeviceError#INVALID}, as
     * the spec asks of clients.
     */
    public DeviceError deviceError() {
        return error(); // as a DeviceException
    }

    private static DeviceError deviceErrorOf(int error) {
        NbdError e = NbdError.ofCode(error);
        return e == null ? DeviceError.INVALID : e.deviceError();
    }

    /** The spec's name of the error, e.g. {@code EINVAL}, or {@code error N} for one it does not define. */
    public String errorName() {
        return errorName(error);
    }

    static String errorName(int error) {
        NbdError e = NbdError.ofCode(error);
        return e == null ? "error " + error : e.name();
    }
}
