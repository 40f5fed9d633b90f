package io.hablock.nativeio.nbd;

/**
 * The NBD ioctl request numbers of {@code include/uapi/linux/nbd.h}, computed as the kernel's
 * {@code _IO(0xab, nr)} macro does (asm-generic {@code _IOC} layout, identical on x86_64 and
 * aarch64: no data, so direction and size are zero).
 */
public final class NbdIoctl {
    private NbdIoctl() {
    }

    /** The ioctl "type" byte of NBD. */
    public static final int NBD_IOCTL_TYPE = 0xab;

    public static final int NBD_SET_SOCK = io(NBD_IOCTL_TYPE, 0);
    public static final int NBD_SET_BLKSIZE = io(NBD_IOCTL_TYPE, 1);
    public static final int NBD_SET_SIZE = io(NBD_IOCTL_TYPE, 2);
    public static final int NBD_DO_IT = io(NBD_IOCTL_TYPE, 3);
    public static final int NBD_CLEAR_SOCK = io(NBD_IOCTL_TYPE, 4);
    public static final int NBD_CLEAR_QUE = io(NBD_IOCTL_TYPE, 5);
    public static final int NBD_PRINT_DEBUG = io(NBD_IOCTL_TYPE, 6);
    public static final int NBD_SET_SIZE_BLOCKS = io(NBD_IOCTL_TYPE, 7);
    public static final int NBD_DISCONNECT = io(NBD_IOCTL_TYPE, 8);
    public static final int NBD_SET_TIMEOUT = io(NBD_IOCTL_TYPE, 9);
    public static final int NBD_SET_FLAGS = io(NBD_IOCTL_TYPE, 10);

    // asm-generic/ioctl.h: nr 8 bits, type 8 bits, size 14 bits, dir 2 bits, from the low end.
    private static final int IOC_NRSHIFT = 0;
    private static final int IOC_TYPESHIFT = 8;
    private static final int IOC_SIZESHIFT = 16;
    private static final int IOC_DIRSHIFT = 30;
    private static final int IOC_NONE = 0;

    /** {@code _IOC(dir, type, nr, size)}. */
    static int ioc(int dir, int type, int nr, int size) {
        return (dir << IOC_DIRSHIFT) | (size << IOC_SIZESHIFT) | (type << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT);
    }

    /** {@code _IO(type, nr)}: an ioctl that passes its argument by value (no data to copy). */
    static int io(int type, int nr) {
        return ioc(IOC_NONE, type, nr, 0);
    }

    /** The macro name of an NBD request number, for error messages ("ioctl(NBD_SET_SOCK)"). */
    public static String name(int request) {
        return switch (request - NBD_SET_SOCK) {
            case 0 -> "NBD_SET_SOCK";
            case 1 -> "NBD_SET_BLKSIZE";
            case 2 -> "NBD_SET_SIZE";
            case 3 -> "NBD_DO_IT";
            case 4 -> "NBD_CLEAR_SOCK";
            case 5 -> "NBD_CLEAR_QUE";
            case 6 -> "NBD_PRINT_DEBUG";
            case 7 -> "NBD_SET_SIZE_BLOCKS";
            case 8 -> "NBD_DISCONNECT";
            case 9 -> "NBD_SET_TIMEOUT";
            case 10 -> "NBD_SET_FLAGS";
            default -> "0x" + Integer.toHexString(request);
        };
    }
}
