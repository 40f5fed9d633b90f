package io.hablock.cluster;

import io.hablock.nativeio.NativeIOException;
import io.hablock.nbd.DeviceError;
import io.hablock.nbd.DeviceException;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * What the local copy's file system said (an errno), as the {@link DeviceError} an NBD client is
 * sent: a full disk is ENOSPC to the client, not a generic I/O error it would retry.
 */
final class LocalErrors {
    private LocalErrors() {
    }

    /** {@code e} as a {@link DeviceException} when its errno names a device error; otherwise {@code e}. */
    static IOException toDevice(IOException e) {
        if (!(e instanceof NativeIOException n)) {
            return e;
        }
        DeviceError error = switch (n.errno()) {
            case ENOSPC, EDQUOT -> DeviceError.NO_SPACE;
            case EOPNOTSUPP -> DeviceError.NOT_SUPPORTED;
            case EPERM, EACCES, EROFS -> DeviceError.PERMISSION;
            case EINVAL -> DeviceError.INVALID;
            case ENOMEM -> DeviceError.NO_MEMORY;
            default -> null;
        };
        return error == null ? e : new DeviceException(error, e.getMessage(), e);
    }

    /** {@code f}, its failure passed through {@link #toDevice(IOException)}. */
    static <T> CompletableFuture<T> toDevice(CompletableFuture<T> f) {
        return f.exceptionallyCompose(failure -> {
            Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
            return CompletableFuture.failedFuture(cause instanceof IOException io ? toDevice(io) : cause);
        });
    }
}
