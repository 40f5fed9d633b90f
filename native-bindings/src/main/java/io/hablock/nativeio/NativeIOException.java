package io.hablock.nativeio;

import java.io.IOException;

/**
 * A failed libc call: which operation, and the errno it set. Use {@link #of} to get the most
 * specific subclass ({@link OperationNotSupportedException}, {@link NoSpaceException}).
 */
public class NativeIOException extends IOException {
    private final String operation;
    private final Errno errno;
    private final int errnoCode;

    protected NativeIOException(String operation, int errnoCode) {
        super(message(operation, errnoCode));
        this.operation = operation;
        this.errno = Errno.of(errnoCode);
        this.errnoCode = errnoCode;
    }

    /** The exception for {@code operation} failing with raw errno {@code errnoCode}. */
    public static NativeIOException of(String operation, int errnoCode) {
        switch (Errno.of(errnoCode)) {
            case EOPNOTSUPP:
                return new OperationNotSupportedException(operation, errnoCode);
            case ENOSPC:
            case EDQUOT:
                return new NoSpaceException(operation, errnoCode);
            default:
                return new NativeIOException(operation, errnoCode);
        }
    }

    /**
     * The exception for {@code operation} failing with {@code errno} (not {@link Errno#UNKNOWN}).
     */
    public static NativeIOException of(String operation, Errno errno) {
        if (errno == Errno.UNKNOWN) {
            throw new IllegalArgumentException("use of(operation, int) for an unlisted errno");
        }
        return of(operation, errno.code());
    }

    /** The errno constant; {@link Errno#UNKNOWN} when the number is not listed. */
    public Errno errno() {
        return errno;
    }

    /** The raw errno number, useful when {@link #errno()} is {@link Errno#UNKNOWN}. */
    public int errnoCode() {
        return errnoCode;
    }

    /** The failed call as written in the message, e.g. "fallocate(PUNCH_HOLE)". */
    public String operation() {
        return operation;
    }

    private static String message(String operation, int code) {
        Errno e = Errno.of(code);
        String what =
                e == Errno.UNKNOWN
                        ? "Unknown error " + code + " (errno " + code + ")"
                        : e.description() + " (" + e.name() + ")";
        return operation + " failed: " + what;
    }
}
