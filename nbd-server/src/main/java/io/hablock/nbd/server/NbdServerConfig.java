package io.hablock.nbd.server;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Settings of one NBD listener, validated in one place.
 *
 * @param listen address and port to bind (port 0 picks a free one)
 * @param ioThreads workers that run device I/O off the event loop
 * @param maxInFlightPerConnection requests a connection may have outstanding before the server
 *     stops reading from it (back-pressure instead of unbounded buffering)
 * @param maxPayloadBytes largest READ/WRITE payload, advertised as the maximum block size; a
 *     request up to it is served whole (one buffer, one device call, one reply chunk)
 * @param maxRequestBytes largest READ/WRITE served at all, the hard limit; one above the
 *     maximum payload is served in pieces of {@link #PIECE_BYTES}, never held whole (clients that
 *     never saw the advertised maximum, through NBD_OPT_EXPORT_NAME, send up to 48 MiB); a READ
 *     claiming more gets EINVAL, a WRITE closes the connection before anything is buffered
 * @param maxOptionBytes largest option data accepted during the handshake
 * @param preferredBlockBytes advertised preferred block size
 * @param shutdownGrace how long shutdown waits for in-flight requests to finish
 * @param inlineIoMaxBytes READs and WRITEs up to this size run on the network thread when the
 *     device {@linkplain io.hablock.nbd.BlockDevice#prefersInlineIo() prefers it} (0: never)
 * @param slowInlineIo an inline request slower than this sends the connection's I/O back to the
 *     workers for {@code inlinePause}: a slow disk must not stall the network thread
 * @param inlinePause how long I/O stays off the network thread after a slow inline request
 * @param limits what clients may hold: connections, handshake and stall timeouts
 */
public record NbdServerConfig(
        InetSocketAddress listen,
        int ioThreads,
        int maxInFlightPerConnection,
        int maxPayloadBytes,
        int maxRequestBytes,
        int maxOptionBytes,
        int preferredBlockBytes,
        Duration shutdownGrace,
        int inlineIoMaxBytes,
        Duration slowInlineIo,
        Duration inlinePause,
        ConnectionLimits limits) {

    public static final int DEFAULT_PORT = 10809;

    /**
     * Requests longer than the maximum payload are read, written and sent in pieces of this size,
     * a few held per connection at a time: little enough that four connections doing 128 MiB
     * requests stay within tens of MiB of direct memory, large enough that a piece costs one
     * device call of a few hundred microseconds, not a thread hop per socket read.
     */
    public static final int PIECE_BYTES = 2 << 20;

    public NbdServerConfig {
        if (ioThreads < 1) {
            throw new IllegalArgumentException("ioThreads must be at least 1");
        }
        if (maxInFlightPerConnection < 1) {
            throw new IllegalArgumentException("maxInFlightPerConnection must be at least 1");
        }
        if (maxPayloadBytes < (1 << 20) || Integer.bitCount(maxPayloadBytes) != 1) {
            throw new IllegalArgumentException("maxPayloadBytes must be a power of two of at least 1 MiB");
        }
        if (maxRequestBytes < maxPayloadBytes) {
            throw new IllegalArgumentException("maxRequestBytes must be at least the maximum payload");
        }
        if (maxOptionBytes < 2 * 4096 + 64) {
            throw new IllegalArgumentException("maxOptionBytes is too small for the longest export name");
        }
        if (preferredBlockBytes < 512 || Integer.bitCount(preferredBlockBytes) != 1
                || preferredBlockBytes > maxPayloadBytes) {
            throw new IllegalArgumentException("preferredBlockBytes must be a power of two between 512 and the maximum");
        }
        if (limits == null) {
            throw new IllegalArgumentException("connection limits are required");
        }
        if (limits.memoryBytes() < 2L * maxPayloadBytes) {
            throw new IllegalArgumentException("the memory budget must hold at least two requests of the maximum payload");
        }
        if (inlineIoMaxBytes < 0 || inlineIoMaxBytes > maxPayloadBytes) {
            throw new IllegalArgumentException("inlineIoMaxBytes must be between 0 and the maximum payload");
        }
    }

    /**
     * Defaults: 16 I/O workers (as nbdkit), 32 MiB payloads advertised (what every client
     * expects), requests up to 128 MiB served (4 times that: more than any known client sends
     * unasked, and one request still holds its connection for well under a second), 5 s
     * shutdown grace, requests up to 64 KiB inline while they take under 0.5 ms, and the
     * {@linkplain ConnectionLimits#defaults() default connection limits}.
     */
    public static NbdServerConfig defaults(InetSocketAddress listen) {
        return new NbdServerConfig(listen, 16, 128, 32 << 20, 128 << 20, 64 << 10, 4096, Duration.ofSeconds(5),
                64 << 10, Duration.ofNanos(500_000), Duration.ofSeconds(1), ConnectionLimits.defaults());
    }

    public NbdServerConfig withIoThreads(int threads) {
        return new NbdServerConfig(listen, threads, maxInFlightPerConnection, maxPayloadBytes, maxRequestBytes,
                maxOptionBytes, preferredBlockBytes, shutdownGrace, inlineIoMaxBytes, slowInlineIo, inlinePause, limits);
    }

    public NbdServerConfig withInlineIo(int maxBytes, Duration slow, Duration pause) {
        return new NbdServerConfig(listen, ioThreads, maxInFlightPerConnection, maxPayloadBytes, maxRequestBytes,
                maxOptionBytes, preferredBlockBytes, shutdownGrace, maxBytes, slow, pause, limits);
    }

    public NbdServerConfig withLimits(ConnectionLimits newLimits) {
        return new NbdServerConfig(listen, ioThreads, maxInFlightPerConnection, maxPayloadBytes, maxRequestBytes,
                maxOptionBytes, preferredBlockBytes, shutdownGrace, inlineIoMaxBytes, slowInlineIo, inlinePause, newLimits);
    }
}
