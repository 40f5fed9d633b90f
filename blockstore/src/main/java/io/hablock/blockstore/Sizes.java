package io.hablock.blockstore;

import java.math.BigInteger;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Human byte sizes with binary (1024-based) units K, M, G, T, P: {@code parse("10G")}, {@code
 * format(1610612736) = "1.5G"}. Only whole numbers are parsed: "1.5G" is refused so a volume size
 * is never silently rounded.
 */
public final class Sizes {
    private static final String UNITS = "KMGTP";
    // A number, then optionally a unit letter with an optional "i", "iB" or "B", or a bare "B".
    private static final Pattern SIZE =
            Pattern.compile("(\\d+)\\s*(?:([KMGTP])(?:I|IB|B)?|B)?", Pattern.CASE_INSENSITIVE);

    private Sizes() {}

    /**
     * Parses "4096", "512M", "10G", "1T", "10GiB", "10gb" (case-insensitive) into bytes.
     *
     * @throws IllegalArgumentException with a one-line message for garbage, zero, negative or
     *     values above {@link Long#MAX_VALUE}
     */
    public static long parse(String text) {
        Objects.requireNonNull(text, "text");
        Matcher m = SIZE.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "invalid size '"
                            + text
                            + "': expected a number with an optional unit K, M, G, T or P, e.g."
                            + " 10G");
        }
        int exponent =
                m.group(2) == null ? 0 : UNITS.indexOf(m.group(2).toUpperCase(Locale.ROOT)) + 1;
        BigInteger bytes = new BigInteger(m.group(1)).shiftLeft(10 * exponent);
        if (bytes.signum() == 0) {
            throw new IllegalArgumentException(
                    "invalid size '" + text + "': must be greater than zero");
        }
        if (bytes.bitLength() > 63) {
            throw new IllegalArgumentException(
                    "invalid size '" + text + "': too large (at most 8191P)");
        }
        return bytes.longValueExact();
    }

    /**
     * Formats bytes for people: "512B", "4K", "10G", and one decimal when not a whole number of the
     * largest fitting unit ("1.5G"). Whole multiples round-trip through {@link #parse}.
     */
    public static String format(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative size: " + bytes);
        }
        int exponent = 0;
        while (exponent < UNITS.length() && bytes >= 1L << (10 * (exponent + 1))) {
            exponent++;
        }
        if (exponent == 0) {
            return bytes + "B";
        }
        long unit = 1L << (10 * exponent);
        if (bytes % unit == 0) {
            return (bytes / unit) + unitName(exponent);
        }
        long tenths = Math.round(bytes * 10.0 / unit);
        if (tenths >= 10240 && exponent < UNITS.length()) {
            // e.g. 1023.96M rounds to 1024.0M: say 1.0G instead
            exponent++;
            tenths = Math.round(bytes * 10.0 / (1L << (10 * exponent)));
        }
        return (tenths / 10) + "." + (tenths % 10) + unitName(exponent);
    }

    private static String unitName(int exponent) {
        return String.valueOf(UNITS.charAt(exponent - 1));
    }
}
