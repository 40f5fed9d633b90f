package io.hablock.nbd;

/**
 * Why a device refused or failed a request, in terms a device knows; the server turns each into
 * the NBD error it sends, and the NBD clients turn a server's error back into one of these. What
 * a device does not name (any other {@link java.io.IOException}) is {@link #IO}.
 */
public enum DeviceError {
    /** The device may not be changed (read-only, or the file system said EPERM/EACCES/EROFS). */
    PERMISSION,
    /** The data could not be read or written; the request may succeed elsewhere or later. */
    IO,
    /** Not enough memory to serve the request. */
    NO_MEMORY,
    /** The request makes no sense for this device (range, flags, arguments). */
    INVALID,
    /** No room left for the data. */
    NO_SPACE,
    /** A read longer than the device can answer in one reply. */
    OVERFLOW,
    /** The device cannot do this, or not the fast way that was asked for (FAST_ZERO). */
    NOT_SUPPORTED,
    /** The device, the server or the connection is going away. */
    SHUTDOWN
}
