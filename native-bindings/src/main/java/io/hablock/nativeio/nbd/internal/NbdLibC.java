package io.hablock.nativeio.nbd.internal;

import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

/**
 * jnr-ffi binding of the libc functions {@code NbdSyscalls} uses. Public only because jnr-ffi
 * generates its implementation in another class loader; not part of hablock's API.
 *
 * <p>Socket addresses are passed as byte arrays laid out as the C structs. {@code ioctl} is
 * variadic in C; declared with one {@code unsigned long} argument, which has the same calling
 * convention on Linux x86_64 and aarch64. {@code ssize_t} and {@code size_t} are {@code long} (LP64).
 */
public interface NbdLibC {
    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    int bind(int fd, @In byte[] address, int addressLength);

    @SaveError
    int connect(int fd, @In byte[] address, int addressLength);

    @SaveError
    int setsockopt(int fd, int level, int name, @In byte[] value, int valueLength);

    @SaveError
    long sendto(int fd, @In byte[] buffer, long length, int flags, @In byte[] address, int addressLength);

    @SaveError
    long recv(int fd, @Out byte[] buffer, long length, int flags);

    @SaveError
    long read(int fd, @Out byte[] buffer, long length);

    @SaveError
    long write(int fd, @In byte[] buffer, long length);

    @SaveError
    int open(String path, int flags, int mode);

    @SaveError
    int ioctl(int fd, long request, long arg);

    @SaveError
    int close(int fd);
}
