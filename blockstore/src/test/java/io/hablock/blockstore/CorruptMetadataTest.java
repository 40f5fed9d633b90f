package io.hablock.blockstore;

import static io.hablock.blockstore.StoreFixture.MIB;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import io.hablock.nativeio.PosixFs;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/** A volume with unusable metadata is skipped (and logged); the rest of the store opens. */
class CorruptMetadataTest {
    private static final String UUID = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";

    @TempDir Path dataDir;
    private final PosixFs fs = PosixFs.system();
    private VolumeMetadata good;

    @BeforeEach
    void stores() throws IOException {
        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            good = store.create("good", MIB);
            store.create("bad", MIB);
        }
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "",
                "{not json",
                "[]",
                "null",
                "{}",
                "{\"name\":\"bad\",\"sizeBytes\":1048576,\"created\":\"2024-01-01T00:00:00Z\",\"formatVersion\":1}",
                "{\"name\":\"bad\",\"uuid\":\"nope\",\"sizeBytes\":1048576,\"created\":\"2024-01-01T00:00:00Z\",\"formatVersion\":1}",
                "{\"name\":\"bad\",\"uuid\":\""
                        + UUID
                        + "\",\"sizeBytes\":1048576,\"created\":\"yesterday\",\"formatVersion\":1}",
                "{\"name\":\"bad\",\"uuid\":\""
                        + UUID
                        + "\",\"sizeBytes\":1000,\"created\":\"2024-01-01T00:00:00Z\",\"formatVersion\":1}",
                "{\"name\":\"bad\",\"uuid\":\""
                        + UUID
                        + "\",\"sizeBytes\":\"1M\",\"created\":\"2024-01-01T00:00:00Z\",\"formatVersion\":1}",
                "{\"name\":\"bad\",\"uuid\":\""
                        + UUID
                        + "\",\"sizeBytes\":1048576,\"created\":\"2024-01-01T00:00:00Z\",\"formatVersion\":2}",
                "{\"name\":\"other\",\"uuid\":\""
                        + UUID
                        + "\",\"sizeBytes\":1048576,\"created\":\"2024-01-01T00:00:00Z\",\"formatVersion\":1}",
                "{\"name\":\"bad\",\"uuid\":\""
                        + UUID
                        + "\",\"sizeBytes\":2097152,\"created\":\"2024-01-01T00:00:00Z\",\"formatVersion\":1}",
            })
    void unusableMetadataSkipsOnlyThatVolume(String content) throws IOException {
        Files.writeString(dataDir.resolve("volumes/bad/volume.json"), content);
        assertOnlyGoodVolumeLoads();
    }

    @Test
    void validHandWrittenMetadataLoads() throws IOException {
        Files.writeString(
                dataDir.resolve("volumes/bad/volume.json"),
                "{\"name\":\"bad\",\"uuid\":\""
                        + UUID
                        + "\",\"sizeBytes\":1048576,\"created\":\"2024-01-01T00:00:00Z\",\"formatVersion\":1,\"extra\":true}");
        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            assertThat(store.find("bad").orElseThrow().uuid()).hasToString(UUID);
        }
    }

    @Test
    void missingMetadataFile() throws IOException {
        Files.delete(dataDir.resolve("volumes/bad/volume.json"));
        assertOnlyGoodVolumeLoads();
    }

    @Test
    void missingDataFile() throws IOException {
        Files.delete(dataDir.resolve("volumes/bad/data.img"));
        assertOnlyGoodVolumeLoads();
    }

    @Test
    void dataFileOfWrongSize() throws IOException {
        try (RandomAccessFile f =
                new RandomAccessFile(dataDir.resolve("volumes/bad/data.img").toFile(), "rw")) {
            f.setLength(MIB / 2);
        }
        assertOnlyGoodVolumeLoads();
    }

    @Test
    void unexpectedEntriesAreIgnored() throws IOException {
        Files.writeString(dataDir.resolve("volumes/README"), "hi");
        Files.createDirectories(dataDir.resolve("volumes/.snapshot"));
        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            assertThat(store.list()).hasSize(2);
        }
    }

    @Test
    void metadataRoundTrips() throws IOException {
        assertThat(MetadataCodec.fromJson(MetadataCodec.toJson(good))).isEqualTo(good);
    }

    private void assertOnlyGoodVolumeLoads() throws IOException {
        Logger logger = (Logger) LoggerFactory.getLogger(VolumeScanner.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        logger.addAppender(logged);
        try (BlockStore store = BlockStore.open(dataDir, fs)) {
            assertThat(logged.list)
                    .filteredOn(e -> e.getLevel() == Level.WARN)
                    .singleElement()
                    .extracting(ILoggingEvent::getFormattedMessage)
                    .asString()
                    .startsWith("skipping volume 'bad': cannot use ")
                    .doesNotContain("\n", "\r");
            assertThat(store.list()).containsExactly(good);
            // The unreadable directory still holds the name: it is never overwritten.
            assertThatThrownBy(() -> store.create("bad", MIB))
                    .isInstanceOf(VolumeExistsException.class);
            assertThatThrownBy(() -> store.open("bad")).isInstanceOf(NoSuchVolumeException.class);
        } finally {
            logger.detachAppender(logged);
        }
    }
}
