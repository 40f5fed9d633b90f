package io.hablock.nbd.testing;

import java.util.Random;

/** Reproducible test data. */
public final class TestData {
    private TestData() {
    }

    /** {@code length} pseudo-random bytes; the same seed gives the same bytes. */
    public static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }
}
