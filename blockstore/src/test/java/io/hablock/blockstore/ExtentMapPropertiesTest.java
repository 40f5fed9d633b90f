package io.hablock.blockstore;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nativeio.PosixFs;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.lifecycle.BeforeTry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Random writes, trims and zeroings on a small real volume; the extent map must always be a
 * well-formed cover that agrees with the data, and sub-range maps must be clips of the full map.
 */
class ExtentMapPropertiesTest {
    private static final int SIZE = 1 << 20;

    private static Path dir;
    private static BlockStore store;
    private static LocalVolume volume;

    /** One change to the volume; {@code kind} 0 = write, 1 = trim, 2 = zero range. */
    record Change(int kind, int offset, int length) {}

    @BeforeContainer
    static void open() throws IOException {
        dir = Files.createTempDirectory("extent-props");
        store = BlockStore.open(dir, PosixFs.system());
        store.create("p", SIZE);
        volume = store.open("p");
    }

    @AfterContainer
    static void close() throws IOException {
        volume.close();
        store.close();
        DurableFiles.deleteRecursively(dir);
    }

    @BeforeTry
    void reset() throws IOException {
        volume.trim(0, SIZE);
    }

    @Property(tries = 150)
    void extentMapMatchesContent(
            @ForAll("changes") List<Change> changes, @ForAll("ranges") int[] window)
            throws IOException {
        byte[] model = new byte[SIZE];
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            switch (c.kind()) {
                case 0 -> {
                    byte value = (byte) (i + 1 == 0 ? 1 : i + 1);
                    byte[] data = new byte[c.length()];
                    Arrays.fill(data, value);
                    volume.write(ByteBuffer.wrap(data), c.offset());
                    Arrays.fill(model, c.offset(), c.offset() + c.length(), value);
                }
                case 1 -> {
                    volume.trim(c.offset(), c.length());
                    Arrays.fill(model, c.offset(), c.offset() + c.length(), (byte) 0);
                }
                default -> {
                    volume.writeZeroes(c.offset(), c.length(), false);
                    Arrays.fill(model, c.offset(), c.offset() + c.length(), (byte) 0);
                }
            }
        }

        ByteBuffer content = ByteBuffer.allocate(SIZE);
        volume.read(content, 0);
        assertThat(content.array()).isEqualTo(model);

        List<Extent> full = volume.extents(0, SIZE);
        assertWellFormed(full, 0, SIZE);
        for (Extent e : full) {
            if (e.hole()) {
                for (int b = (int) e.offset(); b < e.end(); b++) {
                    if (model[b] != 0) {
                        throw new AssertionError("byte " + b + " holds data but lies in hole " + e);
                    }
                }
            }
        }

        long from = window[0];
        long length = window[1];
        List<Extent> part = volume.extents(from, length);
        long end = Math.min(SIZE, from + length);
        assertWellFormed(part, from, end);
        assertThat(part).isEqualTo(clip(full, from, end));
    }

    private static void assertWellFormed(List<Extent> extents, long from, long end) {
        long pos = from;
        Extent previous = null;
        for (Extent e : extents) {
            assertThat(e.offset()).isEqualTo(pos);
            assertThat(e.length()).isPositive();
            if (previous != null) {
                assertThat(e.hole())
                        .as("adjacent extents of one kind are merged")
                        .isNotEqualTo(previous.hole());
            }
            pos = e.end();
            previous = e;
        }
        assertThat(pos).isEqualTo(Math.max(from, end));
    }

    private static List<Extent> clip(List<Extent> full, long from, long end) {
        List<Extent> out = new ArrayList<>();
        for (Extent e : full) {
            long s = Math.max(e.offset(), from);
            long t = Math.min(e.end(), end);
            if (s < t) {
                out.add(new Extent(s, t - s, e.hole()));
            }
        }
        return out;
    }

    @Provide
    Arbitrary<List<Change>> changes() {
        Arbitrary<Change> change =
                Combinators.combine(
                                Arbitraries.integers().between(0, 2),
                                Arbitraries.integers().between(0, SIZE - 1),
                                Arbitraries.integers().between(1, SIZE / 4))
                        .as(
                                (kind, offset, length) ->
                                        new Change(kind, offset, Math.min(length, SIZE - offset)));
        return change.list().ofMaxSize(12);
    }

    @Provide
    Arbitrary<int[]> ranges() {
        return Combinators.combine(
                        Arbitraries.integers().between(0, SIZE + 4096),
                        Arbitraries.integers().between(0, SIZE + 4096))
                .as((a, b) -> new int[] {a, b});
    }
}
