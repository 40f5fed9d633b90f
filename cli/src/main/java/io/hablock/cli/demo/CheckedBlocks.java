package io.hablock.cli.demo;

import io.hablock.nbd.client.NbdClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;

/**
 * Versioned, checksummed blocks written to one volume, and the record of every write the
 * server acknowledged. Each 64 KiB block carries a header (magic, run seed, block index,
 * generation, CRC32C of the rest) and incompressible bytes derived from those, so a read-back
 * tells a lost write (zeros), a stale one (an older generation), a misplaced one (another
 * index) and corruption (a bad checksum) apart.
 */
public final class CheckedBlocks {
    public static final int BLOCK = 64 << 10;
    /** Blocks per NBD request. */
    private static final int BATCH = 16;
    private static final long MAGIC = 0x4841424c4f434b31L; // "HABLOCK1"
    private static final int HEADER = 32;

    private final String volume;
    private final long seed;
    /** Generation of each block the server acknowledged; 0 = never written (reads as zeros). */
    private final int[] acknowledged;

    /**
     * @param seed differs per run, so blocks left by an earlier run never pass as this run's
     */
    public CheckedBlocks(String volume, long bytes, long seed) {
        if (bytes % (BLOCK * BATCH) != 0) {
            throw new IllegalArgumentException("the demo writes whole MiB");
        }
        this.volume = volume;
        this.seed = seed;
        this.acknowledged = new int[(int) (bytes / BLOCK)];
    }

    public String volume() {
        return volume;
    }

    public int blocks() {
        return acknowledged.length;
    }

    public long bytes() {
        return (long) acknowledged.length * BLOCK;
    }

    /** Blocks written at {@code generation} or later. */
    public int blocksAt(int generation) {
        return (int) Arrays.stream(acknowledged).filter(g -> g >= generation).count();
    }

    /**
     * Writes blocks {@code first .. first+count-1} at {@code generation}, {@value #BATCH} per
     * request; each is recorded once the server acknowledged it.
     */
    public void write(NbdClient client, int first, int count, int generation) throws IOException {
        byte[] batch = new byte[BATCH * BLOCK];
        for (int b = first; b < first + count; b += BATCH) {
            int n = Math.min(BATCH, first + count - b);
            for (int i = 0; i < n; i++) {
                fill(batch, i * BLOCK, b + i, generation);
            }
            client.write((long) b * BLOCK, batch, 0, n * BLOCK);
            Arrays.fill(acknowledged, b, b + n, generation);
        }
    }

    /** What a read-back found. */
    public record Verification(int blocks, long bytes, int bad, List<String> problems) {
        public boolean ok() {
            return bad == 0;
        }
    }

    /** Reads blocks {@code first .. first+count-1} and checks each against the acknowledged writes. */
    public Verification verify(NbdClient client, int first, int count) throws IOException {
        byte[] batch = new byte[BATCH * BLOCK];
        byte[] expected = new byte[BLOCK];
        int bad = 0;
        List<String> problems = new ArrayList<>();
        for (int b = first; b < first + count; b += BATCH) {
            int n = Math.min(BATCH, first + count - b);
            client.read((long) b * BLOCK, batch, 0, n * BLOCK);
            for (int i = 0; i < n; i++) {
                int index = b + i;
                if (acknowledged[index] == 0) {
                    Arrays.fill(expected, (byte) 0);
                } else {
                    fill(expected, 0, index, acknowledged[index]);
                }
                if (!Arrays.equals(batch, i * BLOCK, (i + 1) * BLOCK, expected, 0, BLOCK)) {
                    bad++;
                    if (problems.size() < 10) {
                        problems.add("block " + index + " (offset " + (long) index * BLOCK + "): "
                                + diagnose(ByteBuffer.wrap(batch, i * BLOCK, BLOCK).slice(), index));
                    }
                }
            }
        }
        return new Verification(count, (long) count * BLOCK, bad, problems);
    }

    public Verification verifyAll(NbdClient client) throws IOException {
        return verify(client, 0, blocks());
    }

    private void fill(byte[] dst, int at, int index, int generation) {
        ByteBuffer b = ByteBuffer.wrap(dst, at, BLOCK).slice();
        b.putLong(MAGIC).putLong(seed).putLong(index).putInt(generation).putInt(0);
        byte[] body = new byte[BLOCK - HEADER];
        new SplittableRandom(seed ^ ((long) index << 20) ^ generation).nextBytes(body);
        b.put(body);
        CRC32C crc = new CRC32C();
        crc.update(dst, at + HEADER, BLOCK - HEADER);
        ByteBuffer.wrap(dst, at + 28, 4).putInt((int) crc.getValue());
    }

    private String diagnose(ByteBuffer actual, int index) {
        int expected = acknowledged[index];
        long magic = actual.getLong(0);
        if (magic == 0 && isZero(actual)) {
            return "zeros, but generation " + expected + " was acknowledged: a LOST write";
        }
        if (magic != MAGIC || actual.getLong(8) != seed) {
            return "not a block of this run: CORRUPT";
        }
        CRC32C crc = new CRC32C();
        crc.update(actual.duplicate().position(HEADER));
        if ((int) crc.getValue() != actual.getInt(28)) {
            return "checksum mismatch: CORRUPT";
        }
        long at = actual.getLong(16);
        int generation = actual.getInt(24);
        if (at != index) {
            return "holds block " + at + ": MISPLACED";
        }
        return generation < expected ? "generation " + generation + " but " + expected + " was acknowledged: a STALE read"
                : "generation " + generation + ", newer than the acknowledged " + expected;
    }

    private static boolean isZero(ByteBuffer b) {
        for (int i = 0; i < b.limit(); i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }
}
