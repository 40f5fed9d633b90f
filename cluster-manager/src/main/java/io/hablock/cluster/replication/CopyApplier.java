package io.hablock.cluster.replication;

import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import io.hablock.blockstore.Generation;
import io.hablock.blockstore.LocalVolume;
import io.hablock.blockstore.StaleEpochException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Applies one request to the local copy under generation fencing and says how it went: a request
 * of a generation below the copy's is refused (an older owner, or a connection the owner abandoned
 * when the set of copies changed), a higher one is persisted first. Runs on a volume's lane or the
 * connection's event loop; never throws.
 */
final class CopyApplier {
    private static final Logger LOG = LoggerFactory.getLogger(CopyApplier.class);
    private static final long LOG_INTERVAL_NANOS = 1_000_000_000L;
    /**
     * The smallest chunk a copy hashes for CHECKSUMS asked by anyone but the volume's owner (who has
     * the data anyway and asks for 4 KiB chunks in a delta resync): a hash of a few bytes gives
     * them away.
     */
    static final long MIN_CHECKSUM_CHUNK = 64 << 10;

    private final CopyResolver copies;
    private final AtomicLong lastRefusalLog = new AtomicLong(System.nanoTime() - LOG_INTERVAL_NANOS);
    private final AtomicLong refusalsNotLogged = new AtomicLong();

    CopyApplier(CopyResolver copies) {
        this.copies = copies;
    }

    ReplicationReply apply(ReplicationRequest r) {
        try {
            LocalVolume copy = copies.copy(r.volume());
            if (copy == null) {
                refusal("no copy of volume {} here; refused {}", r.volume(), r);
                return ReplicationReply.refused(r, ReplyStatus.UNKNOWN_VOLUME,
                        "no copy of volume " + r.volume());
            }
            if (r.type() == MessageType.CHECKSUMS) {
                return checksums(copy, r);
            }
            Generation before = copy.generation();
            if (r.type() == MessageType.FENCE) {
                before = copy.raise(r.generation());
                if (r.generation().isBelow(before)) {
                    throw new StaleEpochException(copy.metadata().name(), r.generation(), before);
                }
            } else {
                copy.fenced(r.generation(), () -> {
                    act(copy, r);
                    return null;
                });
            }
            if (before.isBelow(r.generation())) {
                LOG.info("volume {} ('{}'): generation raised from {} to {} by {}",
                        r.volume(), copy.metadata().name(), before, r.generation(), r.type());
            }
            return r.type() == MessageType.FENCE ? ReplicationReply.fenced(r, before) : ReplicationReply.ok(r);
        } catch (StaleEpochException e) {
            refusal("refused {} for volume {}: {}", r.type(), r.volume(), e.getMessage());
            return ReplicationReply.refused(r, e.olderEpoch() ? ReplyStatus.STALE_EPOCH : ReplyStatus.STALE_GENERATION,
                    e.getMessage());
        } catch (IllegalArgumentException e) {
            return ReplicationReply.refused(r, ReplyStatus.INVALID_REQUEST, String.valueOf(e.getMessage()));
        } catch (IOException | RuntimeException e) {
            refusal("{} failed on volume {}: {}", r, r.volume(), e.toString());
            return ReplicationReply.refused(r, ReplyStatus.IO_ERROR, e.toString());
        }
    }

    private static void act(LocalVolume copy, ReplicationRequest r) throws IOException {
        switch (r.type()) {
            case WRITE -> {
                long pos = r.offset();
                for (ByteBuffer b : r.payload().nioBuffers()) {
                    int n = b.remaining();
                    copy.write(b, pos);
                    pos += n;
                }
            }
            case WRITE_LZ4 -> copy.write(decompress(r), r.offset());
            case TRIM -> copy.trim(r.offset(), r.length());
            case WRITE_ZEROES -> copy.writeZeroes(r.offset(), r.length(), r.mayPunch());
            case FLUSH -> copy.flush();
            default -> throw new IllegalArgumentException("not a fenced request: " + r.type());
        }
        if (r.fua() && r.type() != MessageType.FLUSH) {
            copy.flush();
        }
    }

    private static final LZ4SafeDecompressor LZ4 = LZ4Factory.fastestInstance().safeDecompressor();

    /** The uncompressed payload; a block that does not expand to exactly {@code length} is refused. */
    private static ByteBuffer decompress(ReplicationRequest r) {
        ByteBuffer compressed = r.payload().nioBuffer();
        ByteBuffer out = ByteBuffer.allocate((int) r.length());
        int n;
        try {
            n = LZ4.decompress(compressed, compressed.position(), compressed.remaining(), out, 0, out.capacity());
        } catch (LZ4Exception e) {
            throw new IllegalArgumentException("corrupt LZ4 payload: " + e.getMessage(), e);
        }
        if (n != r.length()) {
            throw new IllegalArgumentException("LZ4 payload expands to " + n + " bytes, not " + r.length());
        }
        return out;
    }

    private static ReplicationReply checksums(LocalVolume copy, ReplicationRequest r)
            throws IOException {
        long chunks = (copy.size() + Math.max(r.length(), 1) - 1) / Math.max(r.length(), 1);
        if (r.length() <= 0 || chunks * Long.BYTES > WireFormat.MAX_PAYLOAD) {
            return ReplicationReply.refused(r, ReplyStatus.INVALID_REQUEST,
                    "chunk size " + r.length() + " gives " + chunks + " checksums, more than a reply holds");
        }
        return ReplicationReply.checksums(r, copy.checksums(r.length()));
    }

    /** Refusals are logged one line each, at most one a second; the rest are counted. */
    void refusal(String format, Object... args) {
        long now = System.nanoTime();
        long last = lastRefusalLog.get();
        if (now - last >= LOG_INTERVAL_NANOS && lastRefusalLog.compareAndSet(last, now)) {
            long skipped = refusalsNotLogged.getAndSet(0);
            LOG.warn(format + (skipped > 0 ? " (and " + skipped + " more refusals not logged)" : ""), args);
        } else {
            refusalsNotLogged.incrementAndGet();
        }
    }
}
