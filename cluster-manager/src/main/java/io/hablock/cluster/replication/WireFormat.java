package io.hablock.cluster.replication;

/**
 * The replication wire format, version 2. Every frame is a big-endian {@code u32} length (of what
 * follows it) and then:
 *
 * <pre>
 * request (64-byte header):
 *   u32 magic 0x48425251 "HBRQ" | u8 version | u8 type | u16 flags | u64 request id
 *   | u64 volume uuid msb | u64 volume uuid lsb | u64 epoch | u64 generation sequence
 *   | u64 offset | u64 length | payload
 *   WRITE: payload = length bytes of data; TRIM/WRITE_ZEROES: length = range length;
 *   CHECKSUMS: length = chunk size; other types: offset = length = 0, no payload.
 *   flags: bit 0 FUA (durable before the reply), bit 1 MAY_PUNCH (WRITE_ZEROES).
 * reply (16-byte header):
 *   u32 magic 0x48425250 "HBRP" | u8 version | u8 type (of the request) | u8 status | u8 0
 *   | u64 request id | payload
 *   status 0 (OK): CHECKSUMS payload = u64 per chunk; FENCE payload = u64 epoch, u64 sequence
 *   of the generation the copy held before; else empty.
 *   other status: payload = a one-line UTF-8 message of at most 1 KiB.
 * </pre>
 *
 * A payload is at most {@link #MAX_PAYLOAD} bytes; a frame announcing more, or a bad magic,
 * version, type or field, closes the connection without buffering it.
 */
final class WireFormat {
    static final int REQUEST_MAGIC = 0x48425251;
    static final int REPLY_MAGIC = 0x48425250;
    static final byte VERSION = 2;

    static final int LENGTH_PREFIX = 4;
    static final int REQUEST_HEADER = 64;
    static final int REPLY_HEADER = 16;

    /** Largest payload of any frame: a WRITE's data, a CHECKSUMS reply. */
    static final int MAX_PAYLOAD = 32 << 20;

    /** Longest error message in a reply, in bytes. */
    static final int MAX_MESSAGE = 1024;

    static final int FLAG_FUA = 1;
    static final int FLAG_MAY_PUNCH = 1 << 1;
    static final int KNOWN_FLAGS = FLAG_FUA | FLAG_MAY_PUNCH;

    private WireFormat() {}
}
