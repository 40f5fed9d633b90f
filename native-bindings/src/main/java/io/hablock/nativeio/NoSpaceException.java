package io.hablock.nativeio;

/** The file system or the user's quota is full (ENOSPC / EDQUOT). */
public final class NoSpaceException extends NativeIOException {
    NoSpaceException(String operation, int errnoCode) {
        super(operation, errnoCode);
    }
}
