package io.hablock.nativeio.nbd;

import java.nio.ByteBuffer;
import java.util.HexFormat;

/** Hex helpers for byte-for-byte assertions. */
final class Bytes {
    private Bytes() {
    }

    /** "1c 00 | 10 00" -> bytes; spaces, '|' and newlines are ignored. */
    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replaceAll("[\\s|]", ""));
    }

    static String hex(ByteBuffer b) {
        byte[] bytes = new byte[b.remaining()];
        b.duplicate().get(bytes);
        return HexFormat.ofDelimiter(" ").formatHex(bytes);
    }

    static String hexOf(String spaced) {
        return HexFormat.ofDelimiter(" ").formatHex(hex(spaced));
    }
}
