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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** The persisted fencing epoch of a volume. */
class VolumeEpochTest {
    @TempDir Path dataDir;
    private BlockStore store;

    @BeforeEach
    void open() throws IOException {
        store = BlockStore.open(dataDir, PosixFs.system());
        store.create("v", MIB);
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void newVolumeHasEpochZero() throws IOException {
        try (LocalVolume v = store.open("v")) {
            assertThat(v.epoch()).isZero();
        }
    }

    @Test
    void raisedEpochSurvivesReopenOfTheStore() throws IOException {
        try (LocalVolume v = store.open("v")) {
            v.raise(Generation.of(7));
            assertThat(v.epoch()).isEqualTo(7);
        }
        store.close();
        store = BlockStore.open(dataDir, PosixFs.system());
        try (LocalVolume v = store.open("v")) {
            assertThat(v.epoch()).isEqualTo(7);
        }
        assertThat(Files.readString(dataDir.resolve("volumes/v/volume.json")))
                .contains("\"epoch\" : 7");
    }

    @Test
    void neverLowers() throws IOException {
        try (LocalVolume v = store.open("v")) {
            v.raise(Generation.of(5));
            v.raise(Generation.of(3));
            v.raise(Generation.of(5));
            assertThat(v.epoch()).isEqualTo(5);
        }
        assertThat(Files.readString(dataDir.resolve("volumes/v/volume.json")))
                .contains("\"epoch\" : 5");
    }

    @Test
    void negativeGenerationIsRejected() {
        assertThatThrownBy(() -> Generation.of(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Generation(1, -1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void withinAnEpochTheSequenceFencesOlderMembership() throws IOException {
        try (LocalVolume v = store.open("v")) {
            assertThat(v.raise(new Generation(4, 2))).isEqualTo(Generation.ZERO);
            assertThat(v.raise(new Generation(4, 1))).as("never lowers").isEqualTo(new Generation(4, 2));
            assertThatThrownBy(() -> v.fenced(new Generation(4, 1), () -> {
                        write(v, 0, 512, 0x41);
                        return null;
                    }))
                    .isInstanceOf(StaleEpochException.class)
                    .hasMessage("volume 'v': generation 4.1 is below the volume's generation 4.2")
                    .matches(e -> !((StaleEpochException) e).olderEpoch());
            assertThat(read(v, 0, 512)).containsOnly(0);
            v.fenced(new Generation(5, 0), () -> null);
            assertThat(v.generation()).isEqualTo(new Generation(5, 0));
        }
        store.close();
        store = BlockStore.open(dataDir, PosixFs.system());
        try (LocalVolume v = store.open("v")) {
            assertThat(v.generation()).isEqualTo(new Generation(5, 0));
        }
        assertThat(Files.readString(dataDir.resolve("volumes/v/volume.json")))
                .contains("\"epoch\" : 5").contains("\"generation\" : 0");
    }

    @Test
    void allHandlesAndLaterOpensShareTheEpoch() throws IOException {
        try (LocalVolume a = store.open("v")) {
            a.raise(Generation.of(2));
        }
        try (LocalVolume b = store.open("v");
                LocalVolume c = store.open("v")) {
            assertThat(b.epoch()).isEqualTo(2);
            c.raise(Generation.of(4));
            assertThat(b.epoch()).isEqualTo(4);
        }
    }

    @Test
    void metadataWithoutEpochReadsAsZero() throws IOException {
        VolumeMetadata m = store.find("v").orElseThrow();
        store.close();
        Path json = dataDir.resolve("volumes/v/volume.json");
        Files.writeString(
                json,
                "{\"name\":\"v\",\"uuid\":\""
                        + m.uuid()
                        + "\",\"sizeBytes\":1048576,\"created\":\"2024-01-01T00:00:00Z\","
                        + "\"formatVersion\":1}");
        store = BlockStore.open(dataDir, PosixFs.system());
        try (LocalVolume v = store.open("v")) {
            assertThat(v.epoch()).isZero();
            v.raise(Generation.of(1));
        }
        assertThat(MetadataCodec.fromJson(Files.readAllBytes(json)).uuid()).isEqualTo(m.uuid());
    }

    @Test
    void badEpochMakesTheVolumeUnusable() throws IOException {
        VolumeMetadata m = store.find("v").orElseThrow();
        store.close();
        Files.writeString(
                dataDir.resolve("volumes/v/volume.json"),
                "{\"name\":\"v\",\"uuid\":\""
                        + m.uuid()
                        + "\",\"sizeBytes\":1048576,\"created\":\"2024-01-01T00:00:00Z\","
                        + "\"formatVersion\":1,\"epoch\":-3}");
        store = BlockStore.open(dataDir, PosixFs.system());
        assertThat(store.find("v")).isEmpty();
    }

    @Test
    void fencedRunsAtOrAboveTheEpochAndRefusesBelow() throws IOException {
        try (LocalVolume v = store.open("v")) {
            v.fenced(Generation.of(3), () -> {
                write(v, 0, 512, 0x33);
                return null;
            });
            assertThat(v.epoch()).as("raised by the fenced op").isEqualTo(3);
            assertThatThrownBy(() -> v.fenced(Generation.of(2), () -> {
                        write(v, 0, 512, 0x22);
                        return null;
                    }))
                    .isInstanceOf(StaleEpochException.class)
                    .hasMessage("volume 'v': epoch 2 is below the volume's epoch 3");
            assertThat(read(v, 0, 512)).containsOnly(0x33);
            assertThat(v.fenced(Generation.of(3), () -> "ran")).isEqualTo("ran");
        }
    }

    @Test
    void raiseWaitsForFencedOperationsOfTheOldEpoch() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(1);
        try (LocalVolume v = store.open("v")) {
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Future<?> op =
                    pool.submit(
                            () ->
                                    v.fenced(
                                            Generation.ZERO,
                                            () -> {
                                                inside.countDown();
                                                awaitUninterruptibly(release);
                                                return null;
                                            }));
            assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
            Thread raiser = new Thread(() -> {
                try {
                    v.raise(Generation.of(1));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            raiser.start();
            // The raiser parks on the lock while the old-epoch operation runs.
            org.awaitility.Awaitility.await()
                    .until(() -> raiser.getState() == Thread.State.WAITING);
            assertThat(v.epoch()).isZero();
            release.countDown();
            op.get(10, TimeUnit.SECONDS);
            raiser.join(10_000);
            assertThat(raiser.isAlive()).isFalse();
            assertThat(v.epoch()).isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void concurrentRaisesKeepTheHighest() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (LocalVolume v = store.open("v")) {
            List<Future<?>> all = new ArrayList<>();
            for (int i = 1; i <= 40; i++) {
                long e = i;
                all.add(pool.submit(() -> {
                    v.raise(Generation.of(e));
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get(30, TimeUnit.SECONDS);
            }
            assertThat(v.epoch()).isEqualTo(40);
        } finally {
            pool.shutdownNow();
        }
        store.close();
        store = BlockStore.open(dataDir, PosixFs.system());
        try (LocalVolume v = store.open("v")) {
            assertThat(v.epoch()).isEqualTo(40);
        }
    }

    @Test
    void deletedVolumeEpochIsNotRewritten() throws IOException {
        LocalVolume v = store.open("v");
        v.close();
        store.delete("v");
        assertThatThrownBy(() -> v.raise(Generation.of(9))).isInstanceOf(IOException.class);
        assertThat(dataDir.resolve("volumes/v")).doesNotExist();
    }
}
