package io.hablock.blockstore;

import static io.hablock.blockstore.StoreFixture.KIB;
import static io.hablock.blockstore.StoreFixture.MIB;
import static io.hablock.blockstore.StoreFixture.filled;
import static io.hablock.blockstore.StoreFixture.write;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.PosixFs;

import net.jpountz.xxhash.XXHashFactory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

/** Per-chunk content checksums, equal across copies that differ only in allocation. */
class ExtentChecksumsTest {
    @TempDir Path dataDir;
    private BlockStore store;

    @BeforeEach
    void open() throws IOException {
        store = BlockStore.open(dataDir, PosixFs.system());
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void holeHashesLikeWrittenZeros() throws IOException {
        store.create("sparse", 4 * MIB);
        store.create("dense", 4 * MIB);
        try (LocalVolume sparse = store.open("sparse");
                LocalVolume dense = store.open("dense")) {
            write(dense, 0, (int) (4 * MIB), 0);
            write(sparse, MIB + 100, 5000, 0xab);
            write(dense, MIB + 100, 5000, 0xab);
            // a punched hole inside a chunk with data, and a whole punched chunk
            write(sparse, 2 * MIB, (int) MIB, 0x11);
            sparse.trim(2 * MIB, 64 * KIB);
            write(dense, 2 * MIB, (int) MIB, 0x11);
            dense.write(filled((int) (64 * KIB), 0), 2 * MIB);
            sparse.write(filled((int) MIB, 0x22), 3 * MIB);
            sparse.writeZeroes(3 * MIB, MIB, true);

            long[] a = sparse.checksums(MIB);
            long[] b = dense.checksums(MIB);
            assertThat(a).hasSize(4).containsExactly(b);
            assertThat(a[0]).isEqualTo(a[3]).isNotEqualTo(a[1]);
            assertThat(sparse.extents(3 * MIB, MIB)).allMatch(Extent::hole);
        }
    }

    @Test
    void hashesAreXxHash64OfTheContentAndTheLastChunkMayBeShort() throws IOException {
        store.create("v", 10 * KIB);
        byte[] content = new byte[(int) (10 * KIB)];
        new Random(42).nextBytes(content);
        try (LocalVolume v = store.open("v")) {
            v.write(java.nio.ByteBuffer.wrap(content), 0);
            long[] sums = v.checksums(4 * KIB);
            var xx = XXHashFactory.safeInstance().hash64();
            assertThat(sums)
                    .containsExactly(
                            xx.hash(content, 0, 4096, 0),
                            xx.hash(content, 4096, 4096, 0),
                            xx.hash(content, 8192, 2048, 0));
            assertThat(v.checksums(10 * KIB)).containsExactly(xx.hash(content, 0, 10240, 0));
            assertThat(v.checksums(MIB)).containsExactly(xx.hash(content, 0, 10240, 0));
        }
    }

    @Test
    void emptyVolumeOfManyChunksIsCheap() throws IOException {
        store.create("big", 64L * 1024 * MIB); // 64 GiB, all hole
        try (LocalVolume v = store.open("big")) {
            long started = System.nanoTime();
            long[] sums = v.checksums(MIB);
            assertThat(sums).hasSize(64 * 1024);
            assertThat(sums).containsOnly(sums[0]);
            assertThat(System.nanoTime() - started).as("no reads of holes").isLessThan(10_000_000_000L);
        }
    }

    @Test
    void badChunkSizes() throws IOException {
        store.create("v", MIB);
        try (LocalVolume v = store.open("v")) {
            assertThatThrownBy(() -> v.checksums(0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> v.checksums(65 * MIB))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }
}
