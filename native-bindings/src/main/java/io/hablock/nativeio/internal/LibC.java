package io.hablock.nativeio.internal;

import jnr.ffi.annotations.SaveError;

/**
 * jnr-ffi binding of the libc functions used by {@code PosixFs}. Public only because jnr-ffi
 * generates its implementation in another class loader; not part of hablock's API.
 *
 * <p>{@code off_t} is {@code long} (LP64). {@code open} is variadic in C; it is declared here with
 * its optional {@code mode} as a fixed argument, which has the same calling convention on Linux
 * x86_64 and aarch64.
 */
public interface LibC {
    @SaveError
    int open(String path, int flags, int mode);

    @SaveError
    int close(int fd);

    @SaveError
    int fallocate(int fd, int mode, long offset, long length);

    @SaveError
    int fdatasync(int fd);

    @SaveError
    long lseek(int fd, long offset, int whence);
}
