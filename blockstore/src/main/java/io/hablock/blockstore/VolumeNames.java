package io.hablock.blockstore;

import java.util.regex.Pattern;

/** The rules for volume names and sizes, in one place. */
public final class VolumeNames {
    /** Never starts with '.', so names cannot collide with staging entries or "." / "..". */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    static final long SECTOR = 512;
    static final long MAX_SIZE = 1L << 62;

    private VolumeNames() {}

    /** True for a name a volume may have (what {@link #checkName} accepts). */
    public static boolean isValid(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    public static void checkName(String name) throws InvalidVolumeException {
        if (!isValid(name)) {
            throw new InvalidVolumeException(
                    "invalid volume name '"
                            + name
                            + "': use 1 to 64 letters, digits, '_', '.' or '-', starting with a"
                            + " letter or digit");
        }
    }

    public static void checkSize(String name, long sizeBytes) throws InvalidVolumeException {
        String problem = sizeProblem(sizeBytes);
        if (problem != null) {
            throw new InvalidVolumeException("invalid size for volume '" + name + "': " + problem);
        }
    }

    /** Why the size is unacceptable, or null when it is fine. */
    static String sizeProblem(long sizeBytes) {
        if (sizeBytes <= 0) {
            return sizeBytes + " bytes is not positive";
        }
        if (sizeBytes % SECTOR != 0) {
            return sizeBytes + " bytes is not a multiple of " + SECTOR;
        }
        if (sizeBytes > MAX_SIZE) {
            return sizeBytes + " bytes is more than the maximum " + MAX_SIZE + " (2^62)";
        }
        return null;
    }
}
