package io.hablock.nativeio;

/**
 * The Linux errno values hablock cares about, with the text {@code strerror(3)} gives for them.
 * Numbers are the asm-generic ones, identical on x86_64 and aarch64.
 */
public enum Errno {
    EPERM(1, "Operation not permitted"),
    ENOENT(2, "No such file or directory"),
    EINTR(4, "Interrupted system call"),
    EIO(5, "Input/output error"),
    ENXIO(6, "No such device or address"),
    EBADF(9, "Bad file descriptor"),
    EAGAIN(11, "Resource temporarily unavailable"),
    ENOMEM(12, "Cannot allocate memory"),
    EACCES(13, "Permission denied"),
    EFAULT(14, "Bad address"),
    EBUSY(16, "Device or resource busy"),
    EEXIST(17, "File exists"),
    ENODEV(19, "No such device"),
    ENOTDIR(20, "Not a directory"),
    EISDIR(21, "Is a directory"),
    EINVAL(22, "Invalid argument"),
    EMFILE(24, "Too many open files"),
    ENOTTY(25, "Inappropriate ioctl for device"),
    EFBIG(27, "File too large"),
    ENOSPC(28, "No space left on device"),
    ESPIPE(29, "Illegal seek"),
    EROFS(30, "Read-only file system"),
    ENAMETOOLONG(36, "File name too long"),
    ENOSYS(38, "Function not implemented"),
    ELOOP(40, "Too many levels of symbolic links"),
    /** Also ENOTSUP: on Linux both names share the number 95. */
    EOPNOTSUPP(95, "Operation not supported"),
    EAFNOSUPPORT(97, "Address family not supported by protocol"),
    ENOBUFS(105, "No buffer space available"),
    ETIMEDOUT(110, "Connection timed out"),
    ECONNREFUSED(111, "Connection refused"),
    EDQUOT(122, "Disk quota exceeded"),
    /** Any errno not listed above; {@link NativeIOException#errnoCode()} keeps the raw number. */
    UNKNOWN(-1, "Unknown error");

    private static final Errno[] BY_CODE = new Errno[128];

    static {
        for (Errno e : values()) {
            if (e.code > 0) {
                BY_CODE[e.code] = e;
            }
        }
    }

    private final int code;
    private final String description;

    Errno(int code, String description) {
        this.code = code;
        this.description = description;
    }

    /** The numeric errno value, or -1 for {@link #UNKNOWN}. */
    public int code() {
        return code;
    }

    /** The strerror-like text, e.g. "Operation not supported". */
    public String description() {
        return description;
    }

    /** Maps a raw errno number to its constant, {@link #UNKNOWN} when not listed. */
    public static Errno of(int code) {
        Errno e = code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
        return e == null ? UNKNOWN : e;
    }
}
