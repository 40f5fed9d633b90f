package io.hablock.blockstore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/** Small helpers shared by the tests. */
final class StoreFixture {
    static final long KIB = 1024;
    static final long MIB = 1024 * KIB;
    static final long GIB = 1024 * MIB;

    private StoreFixture() {}

    static ByteBuffer filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    static byte[] read(LocalVolume v, long offset, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        v.read(buf, offset);
        return buf.array();
    }

    static void write(LocalVolume v, long offset, int length, int value) throws IOException {
        v.write(filled(length, value), offset);
    }
}
