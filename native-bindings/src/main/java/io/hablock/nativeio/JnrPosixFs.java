package io.hablock.nativeio;

import io.hablock.nativeio.internal.LibC;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Platform;
import jnr.ffi.Runtime;

import java.nio.file.Path;

/** {@link PosixFs} over the real libc through jnr-ffi. */
final class JnrPosixFs implements PosixFs {
    // Linux constants; identical for x86_64 and aarch64 (asm-generic).
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int FALLOC_FL_ZERO_RANGE = 0x10;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;

    private final LibC libc;
    private final Runtime runtime;

    private JnrPosixFs(LibC libc) {
        this.libc = libc;
        this.runtime = Runtime.getRuntime(libc);
    }

    /** Lazily loaded so merely referencing {@link PosixFs} never touches native code. */
    private static final class Holder {
        static final JnrPosixFs INSTANCE = load();

        private static JnrPosixFs load() {
            Platform platform = Platform.getNativePlatform();
            if (platform.getOS() != Platform.OS.LINUX) {
                throw new UnsupportedOperationException(
                        "hablock native I/O needs Linux, not " + platform.getOS());
            }
            return new JnrPosixFs(
                    LibraryLoader.create(LibC.class).load(platform.getStandardCLibraryName()));
        }
    }

    static JnrPosixFs instance() {
        return Holder.INSTANCE;
    }

    @Override
    public int open(Path path, boolean readWrite) throws NativeIOException {
        int flags = (readWrite ? O_RDWR : O_RDONLY) | O_CLOEXEC;
        String file = path.toString();
        while (true) {
            int fd = libc.open(file, flags, 0);
            if (fd >= 0) {
                return fd;
            }
            int err = runtime.getLastError();
            if (err != Errno.EINTR.code()) {
                throw NativeIOException.of("open(" + file + ")", err);
            }
        }
    }

    @Override
    public void close(int fd) throws NativeIOException {
        if (libc.close(fd) != 0) {
            throw NativeIOException.of("close", runtime.getLastError());
        }
    }

    @Override
    public void punchHole(int fd, long offset, long length) throws NativeIOException {
        fallocate(
                fd,
                FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                offset,
                length,
                "fallocate(PUNCH_HOLE)");
    }

    @Override
    public void zeroRange(int fd, long offset, long length) throws NativeIOException {
        fallocate(
                fd,
                FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                offset,
                length,
                "fallocate(ZERO_RANGE)");
    }

    private void fallocate(int fd, int mode, long offset, long length, String operation)
            throws NativeIOException {
        while (libc.fallocate(fd, mode, offset, length) != 0) {
            int err = runtime.getLastError();
            if (err != Errno.EINTR.code()) {
                throw NativeIOException.of(operation, err);
            }
        }
    }

    @Override
    public void fdatasync(int fd) throws NativeIOException {
        while (libc.fdatasync(fd) != 0) {
            int err = runtime.getLastError();
            if (err != Errno.EINTR.code()) {
                throw NativeIOException.of("fdatasync", err);
            }
        }
    }

    @Override
    public long seekData(int fd, long offset) throws NativeIOException {
        return seek(fd, offset, SEEK_DATA, "lseek(SEEK_DATA)");
    }

    @Override
    public long seekHole(int fd, long offset) throws NativeIOException {
        return seek(fd, offset, SEEK_HOLE, "lseek(SEEK_HOLE)");
    }

    private long seek(int fd, long offset, int whence, String operation) throws NativeIOException {
        long result = libc.lseek(fd, offset, whence);
        if (result >= 0) {
            return result;
        }
        int err = runtime.getLastError();
        if (err == Errno.ENXIO.code()) {
            return -1; // no data (or hole) at or after offset: an answer, not a failure
        }
        throw NativeIOException.of(operation, err);
    }
}
