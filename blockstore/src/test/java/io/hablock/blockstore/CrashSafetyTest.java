package io.hablock.blockstore;

import static io.hablock.blockstore.StoreFixture.MIB;
import static io.hablock.blockstore.StoreFixture.read;
import static io.hablock.blockstore.StoreFixture.write;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.PosixFs;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;

/**
 * Stops create and delete at each step, as a crash would (nothing after the step runs, no cleanup),
 * then reopens the store: every volume must be exactly in its old or its new state, with nothing
 * left over.
 */
class CrashSafetyTest {
    /** An Error, so the store's failure handling (which a real crash would not run) is skipped. */
    private static final class SimulatedCrash extends Error {
        SimulatedCrash(Step step) {
            super("crash at " + step);
        }
    }

    private static final EnumSet<Step> CREATE_STEPS =
            EnumSet.range(Step.CREATE_STAGING_DIR_MADE, Step.CREATE_DONE);
    private static final EnumSet<Step> DELETE_STEPS =
            EnumSet.range(Step.DELETE_RENAMED, Step.DELETE_DONE);

    @TempDir Path dataDir;
    private final PosixFs fs = PosixFs.system();
    private VolumeMetadata bystander;

    @BeforeEach
    void existingVolume() throws IOException {
        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            bystander = store.create("keep", MIB);
            try (LocalVolume v = store.open("keep")) {
                write(v, 0, 4096, 9);
                v.flush();
            }
        }
    }

    @AfterEach
    void bystanderIsUntouched() throws IOException {
        try (BlockStore store = BlockStore.open(dataDir, fs);
                LocalVolume v = store.open("keep")) {
            assertThat(v.metadata()).isEqualTo(bystander);
            assertThat(read(v, 0, 4096)).containsOnly(9);
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Step.class,
            names = "CREATE_.*|METADATA_TMP_WRITTEN",
            mode = EnumSource.Mode.MATCH_ANY)
    void crashDuringCreateLeavesOldOrNewState(Step crashAt) throws IOException {
        BlockStore crashing = BlockStore.open(dataDir, fs, crashAt(crashAt));
        assertThatThrownBy(() -> crashing.create("db1", 4 * MIB))
                .isInstanceOf(SimulatedCrash.class);
        crashing.close(); // only releases the directory lock, as the dying process would

        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            boolean renamed = crashAt.compareTo(Step.CREATE_RENAMED) >= 0;
            if (renamed) {
                VolumeMetadata m = store.find("db1").orElseThrow();
                assertThat(m.sizeBytes()).isEqualTo(4 * MIB);
                try (LocalVolume v = store.open("db1")) {
                    assertThat(read(v, 0, 4096)).containsOnly(0);
                }
            } else {
                assertThat(store.find("db1")).isEmpty();
                store.create("db1", 2 * MIB); // the name is free again
            }
            assertThat(store.list())
                    .extracting(VolumeMetadata::name)
                    .containsExactly("db1", "keep");
            assertNoLeftovers();
        }
    }

    @ParameterizedTest
    @EnumSource(value = Step.class, names = "DELETE_.*", mode = EnumSource.Mode.MATCH_ANY)
    void crashDuringDeleteLeavesNewState(Step crashAt) throws IOException {
        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            store.create("db1", 4 * MIB);
        }
        BlockStore crashing = BlockStore.open(dataDir, fs, crashAt(crashAt));
        assertThatThrownBy(() -> crashing.delete("db1")).isInstanceOf(SimulatedCrash.class);
        crashing.close();

        // The first step is the rename aside, so any crash after it means "deleted".
        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            assertThat(store.list()).extracting(VolumeMetadata::name).containsExactly("keep");
            assertNoLeftovers();
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Step.class,
            names = "CREATE_.*|METADATA_TMP_WRITTEN",
            mode = EnumSource.Mode.MATCH_ANY)
    void failedCreateUndoesItself(Step failAt) throws IOException {
        try (BlockStore store =
                BlockStore.open(
                        dataDir,
                        fs,
                        step -> {
                            if (step == failAt) {
                                throw new UncheckedIOException(
                                        new IOException("disk trouble at " + step));
                            }
                        })) {
            assertThatThrownBy(() -> store.create("db1", 4 * MIB))
                    .hasMessageContaining("disk trouble");
            assertThat(store.find("db1")).isEmpty();
            assertNoLeftovers();
            assertThat(Files.exists(dataDir.resolve("volumes/db1"))).isFalse();
        }
    }

    @Test
    void leftoverTempFilesAreRemovedAndOldMetadataKept() throws IOException {
        Path volumeDir = dataDir.resolve("volumes/keep");
        String before = Files.readString(volumeDir.resolve("volume.json"));
        // A metadata rewrite that crashed before its rename, and stray temp files.
        Files.writeString(volumeDir.resolve("volume.json.tmp"), "{\"name\": \"keep\", \"trunc");
        Files.writeString(dataDir.resolve("volumes/other.tmp"), "x");
        Files.createDirectories(dataDir.resolve("volumes/.creating-1234/sub"));
        Files.writeString(dataDir.resolve("volumes/.deleting-5678"), "half gone");

        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            assertThat(store.list()).containsExactly(bystander);
            assertNoLeftovers();
            assertThat(Files.readString(volumeDir.resolve("volume.json"))).isEqualTo(before);
        }
    }

    @Test
    void halfRemovedDeletionIsFinished() throws IOException {
        Path doomed = dataDir.resolve("volumes/.deleting-0000");
        Files.createDirectories(doomed);
        Files.writeString(doomed.resolve("volume.json"), "{}"); // data.img already gone
        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            assertThat(store.list()).containsExactly(bystander);
            assertNoLeftovers();
        }
    }

    private void assertNoLeftovers() throws IOException {
        try (Stream<Path> all = Files.walk(dataDir.resolve("volumes"))) {
            List<String> names = all.map(p -> dataDir.relativize(p).toString()).toList();
            assertThat(names)
                    .noneMatch(
                            n ->
                                    n.contains(".creating-")
                                            || n.contains(".deleting-")
                                            || n.endsWith(".tmp"));
            assertThat(names)
                    .allMatch(
                            n ->
                                    n.equals("volumes")
                                            || n.matches(
                                                    "volumes/[^/.][^/]*(/(data\\.img|volume\\.json))?"));
        }
    }

    private static Step.Listener crashAt(Step step) {
        return reached -> {
            if (reached == step) {
                throw new SimulatedCrash(step);
            }
        };
    }

    @Test
    void everyStepIsCovered() {
        EnumSet<Step> covered = EnumSet.copyOf(CREATE_STEPS);
        covered.addAll(DELETE_STEPS);
        covered.add(Step.METADATA_TMP_WRITTEN);
        assertThat(covered).containsExactlyInAnyOrder(Step.values());
    }
}
