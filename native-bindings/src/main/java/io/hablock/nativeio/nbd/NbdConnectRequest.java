package io.hablock.nativeio.nbd;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What the kernel needs to run {@code /dev/nbdN} over already negotiated sockets: the export's size
 * and transmission flags as the server announced them, a block size, and timeouts.
 *
 * @param sizeBytes export size, a positive multiple of {@code blockSize}
 * @param blockSize a power of two from 512 to 4096 (the kernel accepts 512 to the page size)
 * @param serverFlags the 16-bit NBD transmission flags of the handshake (NBD_FLAG_*)
 * @param timeout per-request timeout, whole seconds (0 leaves the kernel default)
 * @param deadConnTimeout how long the kernel waits for a reconnect when every socket is dead,
 *     whole seconds (0: fail I/O at once)
 * @param index the device number {@code N} of {@code /dev/nbdN}, or empty for the first free one
 * @param socketFds connected sockets in transmission phase (one per connection; at least one)
 * @param backendIdentifier shown by the kernel in {@code /sys/block/nbdN/backend} (netlink only)
 */
public record NbdConnectRequest(long sizeBytes, int blockSize, long serverFlags, Duration timeout,
        Duration deadConnTimeout, OptionalInt index, List<Integer> socketFds, Optional<String> backendIdentifier) {

    public static final int MIN_BLOCK_SIZE = 512;
    public static final int MAX_BLOCK_SIZE = 4096;

    public NbdConnectRequest {
        if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two from 512 to 4096, not " + blockSize);
        }
        if (sizeBytes <= 0 || sizeBytes % blockSize != 0) {
            throw new IllegalArgumentException(
                    "size must be a positive multiple of the block size " + blockSize + ", not " + sizeBytes);
        }
        if (serverFlags < 0 || serverFlags > 0xffff) {
            throw new IllegalArgumentException("NBD transmission flags are 16 bits, not 0x" + Long.toHexString(serverFlags));
        }
        checkSeconds(timeout, "timeout");
        checkSeconds(deadConnTimeout, "dead connection timeout");
        Objects.requireNonNull(index, "index");
        if (index.isPresent() && index.getAsInt() < 0) {
            throw new IllegalArgumentException("device index must be >= 0, not " + index.getAsInt());
        }
        socketFds = List.copyOf(socketFds);
        if (socketFds.isEmpty() || socketFds.stream().anyMatch(fd -> fd < 0)) {
            throw new IllegalArgumentException("at least one open socket is needed, not " + socketFds);
        }
        Objects.requireNonNull(backendIdentifier, "backendIdentifier");
    }

    /** One socket, no backend identifier. */
    public static NbdConnectRequest of(int socketFd, long sizeBytes, int blockSize, long serverFlags, Duration timeout,
            Duration deadConnTimeout, OptionalInt index) {
        return new NbdConnectRequest(sizeBytes, blockSize, serverFlags, timeout, deadConnTimeout, index,
                List.of(socketFd), Optional.empty());
    }

    /** The same request with a backend identifier. */
    public NbdConnectRequest withBackendIdentifier(String identifier) {
        return new NbdConnectRequest(sizeBytes, blockSize, serverFlags, timeout, deadConnTimeout, index, socketFds,
                Optional.of(identifier));
    }

    private static void checkSeconds(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.getNano() != 0) {
            throw new IllegalArgumentException("the " + what + " must be whole seconds >= 0, not " + d);
        }
    }
}
