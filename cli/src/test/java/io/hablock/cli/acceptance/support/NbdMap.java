package io.hablock.cli.acceptance.support;

import java.util.ArrayList;
import java.util.List;

/**
 * The allocation map printed by {@code nbdinfo --map}: one line per extent,
 * {@code OFFSET LENGTH TYPE DESCRIPTION} (for example {@code 0 1048576 0 data} or
 * {@code 1048576 4096 3 hole,zero}).
 */
public final class NbdMap {
    private NbdMap() {
    }

    /** One extent of the map. */
    public record Extent(long offset, long length, String description) {
        public long end() {
            return offset + length;
        }
    }

    /** Parses the map; adjacent extents of the same description are merged. */
    public static List<Extent> parse(String output) {
        List<Extent> out = new ArrayList<>();
        for (String line : output.lines().map(String::strip).filter(l -> !l.isEmpty()).toList()) {
            String[] f = line.split("\\s+", 4);
            if (f.length != 4) {
                throw new IllegalArgumentException("unexpected nbdinfo --map line: '" + line + "'");
            }
            Extent e = new Extent(Long.parseLong(f[0]), Long.parseLong(f[1]), f[3]);
            int last = out.size() - 1;
            if (last >= 0 && out.get(last).description().equals(e.description()) && out.get(last).end() == e.offset()) {
                out.set(last, new Extent(out.get(last).offset(), e.end() - out.get(last).offset(), e.description()));
            } else {
                out.add(e);
            }
        }
        return out;
    }
}
