package io.hablock.cli.acceptance.fault;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.CRC32C;

/**
 * What the checker wrote: for each block the last acknowledged version, the versions whose fate
 * is unknown (sent, no answer), and the newest version any read has returned. Versions grow
 * across the whole run, so "older" is a plain comparison.
 *
 * <p>A block is {@value #BLOCK} bytes: block number (8), version (8), CRC32C (4) of everything
 * else, random payload. A block never written reads as zeros (version 0).
 */
final class Ledger {
    static final int BLOCK = 4096;
    private static final int CRC_AT = 16;

    /** What a read of one block found, judged against the ledger. */
    enum Verdict {
        OK,
        /** Older than the last acknowledged write: an acknowledged write was lost. */
        LOST,
        /** Older than a version already read back: the cluster went back in time. */
        STALE,
        /** Bad checksum, another block's header, or a version never sent to this block. */
        CORRUPT
    }

    /** One problem found by a read-back, for the report. */
    record Finding(Verdict verdict, int block, long found, long acked, long seen) {
        @Override
        public String toString() {
            return verdict + " block " + block + ": read version " + found + ", acknowledged " + acked + ", seen " + seen;
        }
    }

    private final int blocks;
    private final long[] acked;
    private final long[] seen;
    private final List<Set<Long>> unknown;
    private long nextVersion = 1;

    Ledger(int blocks) {
        this.blocks = blocks;
        this.acked = new long[blocks];
        this.seen = new long[blocks];
        this.unknown = new ArrayList<>(blocks);
        for (int i = 0; i < blocks; i++) {
            unknown.add(new HashSet<>());
        }
    }

    int blocks() {
        return blocks;
    }

    synchronized long nextVersion() {
        return nextVersion++;
    }

    /** A write is about to be sent: until it is answered its version may or may not land. */
    synchronized void sending(int block, long version) {
        unknown.get(block).add(version);
    }

    synchronized void acknowledged(int block, long version) {
        unknown.get(block).remove(version);
        acked[block] = Math.max(acked[block], version);
        seen[block] = Math.max(seen[block], version);
        unknown.get(block).removeIf(v -> v < version);
    }

    synchronized long acked(int block) {
        return acked[block];
    }

    /** The last acknowledged version of every block, now. */
    synchronized long[] ackedVersions() {
        return acked.clone();
    }

    /** Blocks acknowledged at a newer version than in {@code before} ({@link #ackedVersions}). */
    synchronized List<Integer> rewrittenSince(long[] before) {
        List<Integer> out = new ArrayList<>();
        for (int b = 0; b < blocks; b++) {
            if (acked[b] > before[b]) {
                out.add(b);
            }
        }
        return out;
    }

    /** Judges the block as read back and remembers its version as seen. */
    synchronized Verdict check(int block, ByteBuffer data, List<Finding> findings) {
        long version = versionOf(block, data);
        if (version < 0) {
            findings.add(new Finding(Verdict.CORRUPT, block, data.getLong(data.position() + 8), acked[block], seen[block]));
            return Verdict.CORRUPT;
        }
        Verdict v;
        if (version < acked[block]) {
            v = Verdict.LOST;
        } else if (version < seen[block]) {
            v = Verdict.STALE;
        } else if (version > acked[block] && !unknown.get(block).contains(version)) {
            v = Verdict.CORRUPT;
        } else {
            v = Verdict.OK;
        }
        if (v != Verdict.OK) {
            findings.add(new Finding(v, block, version, acked[block], seen[block]));
        }
        seen[block] = Math.max(seen[block], version);
        return v;
    }

    /**
     * The version a block read back carries: 0 for zeros (never written), -1 when its checksum is
     * bad or it carries another block's header.
     */
    static long versionOf(int block, ByteBuffer data) {
        if (isZero(data)) {
            return 0;
        }
        long number = data.getLong(data.position());
        return number == block && data.getInt(data.position() + CRC_AT) == crc(data) ? data.getLong(data.position() + 8) : -1;
    }

    /** The block's content for {@code version}: header, checksum, random payload. */
    static byte[] encode(int block, long version) {
        byte[] b = new byte[BLOCK];
        ThreadLocalRandom.current().nextBytes(b);
        ByteBuffer buf = ByteBuffer.wrap(b);
        buf.putLong(0, block).putLong(8, version);
        buf.putInt(CRC_AT, crc(buf));
        return b;
    }

    private static int crc(ByteBuffer block) {
        CRC32C c = new CRC32C();
        ByteBuffer b = block.duplicate();
        int start = b.position();
        b.limit(start + CRC_AT);
        c.update(b);
        b.limit(start + BLOCK).position(start + CRC_AT + 4);
        c.update(b);
        return (int) c.getValue();
    }

    private static boolean isZero(ByteBuffer data) {
        for (int i = data.position(); i < data.position() + BLOCK; i++) {
            if (data.get(i) != 0) {
                return false;
            }
        }
        return true;
    }
}
