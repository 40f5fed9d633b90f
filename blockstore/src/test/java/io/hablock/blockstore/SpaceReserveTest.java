package io.hablock.blockstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NoSpaceException;
import io.hablock.nativeio.PosixFs;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writes that need new blocks stop at the reserve with ENOSPC; overwrites, trims and punches go on. */
class SpaceReserveTest {
    private static final long MIB = 1 << 20;
    private static final long RESERVE = 100 * MIB;

    @TempDir
    Path dir;

    private final AtomicLong free = new AtomicLong(10_000 * MIB);
    private final AtomicInteger looks = new AtomicInteger();
    private final AtomicLong clock = new AtomicLong();
    private VolumeFile file;

    private VolumeFile open() throws Exception {
        Path data = dir.resolve("data");
        try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
            f.setLength(64 * MIB);
        }
        VolumeMetadata m = new VolumeMetadata("v", UUID.randomUUID(), 64 * MIB, Instant.now(), VolumeMetadata.CURRENT_FORMAT);
        file = VolumeFile.open(m, data, PosixFs.system(), new SpaceReserve(RESERVE, () -> {
            looks.incrementAndGet();
            return free.get();
        }, clock::get));
        return file;
    }

    @AfterEach
    void close() {
        if (file != null) {
            file.close();
        }
    }

    private static ByteBuffer block(int size) {
        return ByteBuffer.allocate(size).put(0, (byte) 1);
    }

    @Test
    void withRoomAWriteCostsNoLookAtTheFileSystem() throws Exception {
        VolumeFile f = open();
        for (int i = 0; i < 1000; i++) {
            f.write(block(4096), i * 4096L);
        }
        clock.addAndGet(99_000_000);
        for (int i = 0; i < 1000; i++) {
            f.write(block(4096), i * 4096L);
        }
        assertThat(looks.get()).isEqualTo(1);
        clock.addAndGet(1_000_000);
        f.write(block(4096), 0);
        assertThat(looks.get()).as("looks again after 100 ms").isEqualTo(2);
    }

    @Test
    void theRoomLeftIsDrawnDownByHalvesAndNoWriteEatsIntoTheReserve() throws Exception {
        VolumeFile f = open();
        free.set(RESERVE + 8 * MIB);
        long written = 0;
        try {
            for (long off = 0; off < 64 * MIB; off += 4096) { // time stands still: only the writes take space
                f.write(block(4096), off);
                written += 4096;
                free.addAndGet(-4096);
            }
        } catch (NoSpaceException e) {
            // the room is used up
        }
        assertThat(free.get()).isGreaterThanOrEqualTo(RESERVE);
        assertThat(written).isEqualTo(8 * MIB);
        assertThat(looks.get()).as("looks at the file system for 2048 writes").isBetween(10, 40);
    }

    @Test
    void belowTheReserveNewBlocksAreRefusedAndHeldOnesOverwritten() throws Exception {
        VolumeFile f = open();
        f.write(block((int) MIB), 0);
        free.set(RESERVE - 1);
        clock.addAndGet(100_000_000); // something else filled the file system meanwhile

        assertThatThrownBy(() -> f.write(block(4096), 8 * MIB))
                .isInstanceOfSatisfying(NoSpaceException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOSPC));
        assertThatThrownBy(() -> f.write(block(8192), MIB - 4096)) // half held, half new
                .isInstanceOf(NoSpaceException.class);
        assertThatThrownBy(() -> f.writeZeroes(16 * MIB, MIB, false)) // zeroing allocates
                .isInstanceOf(NoSpaceException.class);
        f.write(block(4096), 4096); // held already
        f.trim(0, 4096);
        f.writeZeroes(8192, 4096, true);

        free.set(RESERVE + 2 * MIB); // room again
        f.write(block(4096), 8 * MIB);
    }

    @Test
    void aWriteBiggerThanTheRoomLeftIsRefused() throws Exception {
        VolumeFile f = open();
        free.set(RESERVE + MIB);

        assertThatThrownBy(() -> f.write(block((int) (2 * MIB)), 0)).isInstanceOf(NoSpaceException.class);
        f.write(block((int) (MIB / 2)), 0);
    }

    @Test
    void theDefaultReserveIsFivePercentAtMostOneGib() {
        assertThat(SpaceReserve.defaultFor(64 * MIB)).isEqualTo(64 * MIB / 20);
        assertThat(SpaceReserve.defaultFor(200L << 30)).isEqualTo(1L << 30);
    }
}
