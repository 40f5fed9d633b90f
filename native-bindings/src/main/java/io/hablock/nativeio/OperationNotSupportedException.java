package io.hablock.nativeio;

/** The file system does not support the call (EOPNOTSUPP / ENOTSUP): callers usually fall back. */
public final class OperationNotSupportedException extends NativeIOException {
    OperationNotSupportedException(String operation, int errnoCode) {
        super(operation, errnoCode);
    }
}
