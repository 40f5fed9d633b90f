package io.hablock.blockstore;

import static io.hablock.blockstore.StoreFixture.GIB;
import static io.hablock.blockstore.StoreFixture.MIB;
import static io.hablock.blockstore.StoreFixture.read;
import static io.hablock.blockstore.StoreFixture.write;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.PosixFs;
import io.hablock.nativeio.testing.FaultInjectingPosixFs;
import io.hablock.nativeio.testing.FaultInjectingPosixFs.Op;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

class BlockStoreTest {
    @TempDir Path dir;
    private final FaultInjectingPosixFs fs = new FaultInjectingPosixFs(PosixFs.system());
    private BlockStore store;

    @BeforeEach
    void open() throws IOException {
        store = BlockStore.open(dir.resolve("data"), fs);
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void createsSparseVolumeWithMetadata() throws IOException {
        Instant before = Instant.now().minusSeconds(1);
        VolumeMetadata m = store.create("db1", 8 * GIB);

        assertThat(m.name()).isEqualTo("db1");
        assertThat(m.sizeBytes()).isEqualTo(8 * GIB);
        assertThat(m.formatVersion()).isEqualTo(1);
        assertThat(m.created()).isBetween(before, Instant.now().plusSeconds(1));
        Path volumeDir = dir.resolve("data/volumes/db1");
        assertThat(Files.size(volumeDir.resolve("data.img"))).isEqualTo(8 * GIB);
        assertThat(store.usedBytes()).as("sparse").isZero();
        assertThat(Files.readString(volumeDir.resolve("volume.json")))
                .contains(
                        "\"name\" : \"db1\"",
                        "\"uuid\" : \"" + m.uuid() + "\"",
                        "\"sizeBytes\" : 8589934592",
                        "\"created\" : \"" + m.created() + "\"",
                        "\"formatVersion\" : 1");
        assertThat(Files.list(dir.resolve("data/volumes"))).containsExactly(volumeDir);
    }

    @Test
    void createsDataDirectoryIfMissing() throws IOException {
        try (BlockStore other = BlockStore.open(dir.resolve("a/b/c"), fs)) {
            assertThat(other.dataDir()).isEqualTo(dir.resolve("a/b/c").toAbsolutePath());
            assertThat(other.list()).isEmpty();
        }
    }

    @Test
    void listsSortedAndFinds() throws IOException {
        VolumeMetadata b = store.create("b", MIB);
        VolumeMetadata a = store.create("a", MIB);
        VolumeMetadata c = store.create("C-1.x_y", 2 * MIB);

        assertThat(store.list()).containsExactly(c, a, b); // String order: upper case first
        assertThat(store.find("a")).contains(a);
        assertThat(store.find("zz")).isEmpty();
    }

    @Test
    void metadataSurvivesReopen() throws IOException {
        VolumeMetadata m = store.create("db1", 10 * MIB);
        store.close();
        store = BlockStore.open(dir.resolve("data"), fs);
        assertThat(store.list()).containsExactly(m);
    }

    @Test
    void duplicateIsRefused() throws IOException {
        store.create("db1", MIB);
        assertThatThrownBy(() -> store.create("db1", 2 * MIB))
                .isInstanceOf(VolumeExistsException.class)
                .hasMessage("volume 'db1' already exists");
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "",
                ".hidden",
                "-x",
                "_x",
                "a/b",
                "a b",
                "é",
                "..",
                "x\ny",
                "a12345678901234567890123456789012345678901234567890123456789012345"
            })
    void badNamesAreRefused(String name) {
        assertThatThrownBy(() -> store.create(name, MIB))
                .isInstanceOf(InvalidVolumeException.class)
                .hasMessageStartingWith("invalid volume name '");
    }

    @Test
    void longestNameIsAccepted() throws IOException {
        String name = "a".repeat(64);
        store.create(name, MIB);
        assertThat(store.find(name)).isPresent();
    }

    @Test
    void badSizesAreRefused() {
        assertThatThrownBy(() -> store.create("v", 0))
                .isInstanceOf(InvalidVolumeException.class)
                .hasMessage("invalid size for volume 'v': 0 bytes is not positive");
        assertThatThrownBy(() -> store.create("v", -512))
                .isInstanceOf(InvalidVolumeException.class);
        assertThatThrownBy(() -> store.create("v", 1000))
                .isInstanceOf(InvalidVolumeException.class)
                .hasMessage("invalid size for volume 'v': 1000 bytes is not a multiple of 512");
        assertThatThrownBy(() -> store.create("v", (1L << 62) + 512))
                .isInstanceOf(InvalidVolumeException.class)
                .hasMessageContaining("maximum");
        assertThat(store.list()).isEmpty();
    }

    @Test
    void unknownVolumeIsReported() {
        assertThatThrownBy(() -> store.open("nope"))
                .isInstanceOf(NoSuchVolumeException.class)
                .hasMessage("volume 'nope' does not exist");
        assertThatThrownBy(() -> store.delete("nope")).isInstanceOf(NoSuchVolumeException.class);
    }

    @Test
    void deleteRemovesEverything() throws IOException {
        store.create("db1", MIB);
        store.create("db2", MIB);
        store.delete("db1");

        assertThat(store.find("db1")).isEmpty();
        assertThat(Files.list(dir.resolve("data/volumes")))
                .containsExactly(dir.resolve("data/volumes/db2"));
        VolumeMetadata again = store.create("db1", 2 * MIB);
        assertThat(again.sizeBytes()).isEqualTo(2 * MIB);
    }

    @Test
    void deleteWhileOpenIsRefused() throws IOException {
        store.create("db1", MIB);
        LocalVolume v = store.open("db1");
        LocalVolume w = store.open("db1");
        assertThatThrownBy(() -> store.delete("db1"))
                .isInstanceOf(VolumeInUseException.class)
                .hasMessage("volume 'db1' is in use");
        v.close();
        assertThatThrownBy(() -> store.delete("db1")).isInstanceOf(VolumeInUseException.class);
        w.close();
        store.delete("db1");
    }

    @Test
    void handlesShareOneReferenceCountedFile() throws IOException {
        store.create("db1", MIB);
        LocalVolume a = store.open("db1");
        LocalVolume b = store.open("db1");
        assertThat(fs.calls(Op.OPEN)).as("one native fd for both handles").isEqualTo(1);

        write(a, 4096, 512, 7);
        assertThat(read(b, 4096, 512)).containsOnly(7);

        a.close();
        a.close(); // idempotent: must not release b's reference
        assertThat(fs.calls(Op.CLOSE)).isZero();
        assertThat(read(b, 4096, 512)).containsOnly(7);
        assertThatThrownBy(() -> read(a, 0, 1))
                .isInstanceOf(java.nio.channels.ClosedChannelException.class);

        b.close();
        assertThat(fs.calls(Op.CLOSE)).as("file closed with the last handle").isEqualTo(1);

        try (LocalVolume c = store.open("db1")) {
            assertThat(fs.calls(Op.OPEN)).as("reopened after reaching zero").isEqualTo(2);
            assertThat(read(c, 4096, 512)).containsOnly(7);
        }
    }

    @Test
    void failedNativeOpenLeavesNothingOpen() throws IOException {
        store.create("db1", MIB);
        fs.failNext(Op.OPEN, io.hablock.nativeio.Errno.EMFILE);
        assertThatThrownBy(() -> store.open("db1")).hasMessageContaining("EMFILE");
        store.delete("db1"); // not "in use"
    }

    @Test
    void usedBytesCountsDataOfOpenAndClosedVolumes() throws IOException {
        store.create("a", 64 * MIB);
        store.create("b", 64 * MIB);
        try (LocalVolume a = store.open("a")) {
            write(a, 0, (int) MIB, 1);
            write(a, 32 * MIB, (int) MIB, 1);
        }
        try (LocalVolume b = store.open("b")) {
            write(b, 8 * MIB, (int) MIB, 1);
            assertThat(store.usedBytes()).isEqualTo(3 * MIB);
            b.trim(8 * MIB, MIB);
            assertThat(store.usedBytes()).isEqualTo(2 * MIB);
        }
    }

    @Test
    void secondStoreOnSameDirectoryIsRefused() {
        assertThatThrownBy(() -> BlockStore.open(dir.resolve("data"), fs))
                .isInstanceOf(BlockStoreException.class)
                .hasMessageEndingWith("is in use by another block store");
    }

    @Test
    void closedStoreRefusesWorkAndClosesVolumes() throws IOException {
        store.create("db1", MIB);
        LocalVolume v = store.open("db1");
        store.close();

        assertThatThrownBy(() -> store.create("x", MIB))
                .isInstanceOf(BlockStoreException.class)
                .hasMessageEndingWith("is closed");
        assertThatThrownBy(() -> store.list()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> read(v, 0, 1))
                .isInstanceOf(java.nio.channels.ClosedChannelException.class);
        v.close();
        assertThat(fs.calls(Op.CLOSE)).isEqualTo(1);
        try (BlockStore reopened = BlockStore.open(dir.resolve("data"), fs)) {
            assertThat(reopened.find("db1")).isPresent();
        }
    }

    @Test
    void createsLargeVolumesCheaply() throws IOException {
        long size = 1L << 40; // 1 TiB, sparse (ext4 allows up to 16 TiB per file)
        long start = System.nanoTime();
        store.create("huge", size);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        try (LocalVolume v = store.open("huge")) {
            write(v, size - 512, 512, 3);
            assertThat(read(v, size - 512, 512)).containsOnly(3);
        }
        assertThat(store.usedBytes()).isLessThan(MIB);
    }
}
