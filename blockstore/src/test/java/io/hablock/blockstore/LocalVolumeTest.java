package io.hablock.blockstore;

import static io.hablock.blockstore.StoreFixture.GIB;
import static io.hablock.blockstore.StoreFixture.KIB;
import static io.hablock.blockstore.StoreFixture.MIB;
import static io.hablock.blockstore.StoreFixture.filled;
import static io.hablock.blockstore.StoreFixture.read;
import static io.hablock.blockstore.StoreFixture.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import io.hablock.nativeio.OperationNotSupportedException;
import io.hablock.nativeio.PosixFs;
import io.hablock.nativeio.testing.FaultInjectingPosixFs;
import io.hablock.nativeio.testing.FaultInjectingPosixFs.Op;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalVolumeTest {
  private static final long SIZE = 8 * GIB;

  @TempDir
  Path dir;
  private final FaultInjectingPosixFs fs = new FaultInjectingPosixFs(PosixFs.system());
  private BlockStore store;
  private LocalVolume volume;

  @BeforeEach
  void open() throws IOException {
    store = BlockStore.open(dir, fs);
    store.create("vol", SIZE);
    volume = store.open("vol");
  }

  @AfterEach
  void close() {
    volume.close();
    store.close();
  }

  @Test
  void knowsItself() {
    assertThat(volume.size()).isEqualTo(SIZE);
    assertThat(volume.metadata()).isEqualTo(store.find("vol").orElseThrow());
  }

  @Test
  void unwrittenAreasReadAsZeros() throws IOException {
    assertThat(read(volume, 0, 64 * 1024)).containsOnly(0);
    assertThat(read(volume, SIZE - 4096, 4096)).containsOnly(0);
    assertThat(volume.extents(0, SIZE)).containsExactly(new Extent(0, SIZE, true));
  }

  @Test
  void roundTripBeyondFourGiB() throws IOException {
    long offset = 5 * GIB + 12345;
    ByteBuffer src = ByteBuffer.allocateDirect(300_000);
    for (int i = 0; src.hasRemaining(); i++) {
      src.put((byte) (i * 31));
    }
    src.flip();
    volume.write(src, offset);
    assertThat(src.hasRemaining()).isFalse();
    volume.flush();

    ByteBuffer dst = ByteBuffer.allocate(300_000);
    volume.read(dst, offset);
    assertThat(dst.hasRemaining()).isFalse();
    for (int i = 0; i < 300_000; i++) {
      assertThat(dst.get(i)).isEqualTo((byte) (i * 31));
    }
    assertThat(read(volume, offset - 512, 512)).containsOnly(0);
    assertThat(fs.calls(Op.FDATASYNC)).isEqualTo(1);
  }

  @Test
  void readAndWriteRespectBufferPositions() throws IOException {
    ByteBuffer src = filled(100, 9);
    src.position(10).limit(60);
    volume.write(src, 1000);
    assertThat(src.position()).isEqualTo(60);
    ByteBuffer dst = ByteBuffer.allocate(100);
    dst.position(20).limit(72);
    volume.read(dst, 998);
    assertThat(dst.position()).isEqualTo(72);
    byte[] got = dst.array();
    assertThat(got[20]).isZero();
    assertThat(got[21]).isZero();
    assertThat(got[22]).isEqualTo((byte) 9);
    assertThat(got[71]).isEqualTo((byte) 9);
  }

  @Test
  void rangesOutsideTheVolumeAreRefused() {
    assertThatThrownBy(() -> volume.read(ByteBuffer.allocate(2), SIZE - 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("range of 2 bytes at 8589934591 is outside volume 'vol' of 8589934592 bytes");
    assertThatThrownBy(() -> volume.write(ByteBuffer.allocate(1), -1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> volume.write(ByteBuffer.allocate(1), Long.MAX_VALUE)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> volume.trim(SIZE - 512, 1024)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> volume.writeZeroes(0, -1, true)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> volume.extents(-1, 10)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void emptyRangesAreNoOps() throws IOException {
    volume.read(ByteBuffer.allocate(0), SIZE);
    volume.write(ByteBuffer.allocate(0), SIZE);
    volume.trim(SIZE, 0);
    volume.writeZeroes(0, 0, false);
    assertThat(fs.calls(Op.PUNCH_HOLE) + fs.calls(Op.ZERO_RANGE)).isZero();
  }

  @Test
  void trimMakesAHoleVisibleInExtents() throws IOException {
    write(volume, 6 * GIB, (int) MIB, 0x11);
    assertThat(volume.extents(6 * GIB, MIB)).containsExactly(new Extent(6 * GIB, MIB, false));

    volume.trim(6 * GIB + 256 * KIB, 512 * KIB);

    assertThat(volume.extents(6 * GIB - MIB, 3 * MIB)).containsExactly(
        new Extent(6 * GIB - MIB, MIB, true),
        new Extent(6 * GIB, 256 * KIB, false),
        new Extent(6 * GIB + 256 * KIB, 512 * KIB, true),
        new Extent(6 * GIB + 768 * KIB, 256 * KIB, false),
        new Extent(6 * GIB + MIB, MIB, true));
    assertThat(read(volume, 6 * GIB + 256 * KIB, (int) (512 * KIB))).containsOnly(0);
    assertThat(read(volume, 6 * GIB, (int) (256 * KIB))).containsOnly(0x11);
  }

  @Test
  void writeZeroesMayPunch() throws IOException {
    write(volume, 0, (int) MIB, 0x22);
    volume.writeZeroes(0, 512 * KIB, true);

    assertThat(fs.calls(Op.PUNCH_HOLE)).isEqualTo(1);
    assertThat(read(volume, 0, (int) (512 * KIB))).containsOnly(0);
    assertThat(read(volume, 512 * KIB, (int) (512 * KIB))).containsOnly(0x22);
    assertThat(volume.extents(0, MIB).get(0)).isEqualTo(new Extent(0, 512 * KIB, true));
  }

  @Test
  void writeZeroesWithoutPunchUsesZeroRange() throws IOException {
    write(volume, 0, (int) MIB, 0x22);
    volume.writeZeroes(100, 1000, false);

    assertThat(fs.calls(Op.ZERO_RANGE)).isEqualTo(1);
    assertThat(fs.calls(Op.PUNCH_HOLE)).isZero();
    byte[] got = read(volume, 0, 2000);
    for (int i = 0; i < 2000; i++) {
      assertThat(got[i]).as("byte %d", i).isEqualTo(i >= 100 && i < 1100 ? (byte) 0 : (byte) 0x22);
    }
  }

  @Test
  void writeZeroesFastRefusesToWriteZeros() throws IOException {
    fs.failAlways(Op.PUNCH_HOLE, Errno.EOPNOTSUPP).failAlways(Op.ZERO_RANGE, Errno.EOPNOTSUPP);
    write(volume, 0, (int) MIB, 0x44);

    assertThatThrownBy(() -> volume.writeZeroesFast(0, MIB, true))
        .isInstanceOf(OperationNotSupportedException.class);
    assertThatThrownBy(() -> volume.writeZeroesFast(0, MIB, false))
        .isInstanceOf(OperationNotSupportedException.class);
    assertThat(read(volume, 0, (int) MIB)).containsOnly(0x44);

    fs.clear();
    volume.writeZeroesFast(0, MIB, false);
    assertThat(read(volume, 0, (int) MIB)).containsOnly(0);
  }

  @Test
  void trimFallsBackToWritingZerosWhenPunchIsUnsupported() throws IOException {
    fs.failAlways(Op.PUNCH_HOLE, Errno.EOPNOTSUPP);
    long offset = 4 * GIB + 123;
    long length = 3 * MIB + 777; // several 1 MiB chunks plus a tail
    write(volume, offset - 1, (int) (length + 2), 0x33);

    volume.trim(offset, length);

    assertThat(read(volume, offset, (int) length)).containsOnly(0);
    assertThat(read(volume, offset - 1, 1)).containsOnly(0x33);
    assertThat(read(volume, offset + length, 1)).containsOnly(0x33);
  }

  @Test
  void writeZeroesFallsBackForBothModes() throws IOException {
    fs.failAlways(Op.PUNCH_HOLE, Errno.EOPNOTSUPP).failAlways(Op.ZERO_RANGE, Errno.EOPNOTSUPP);
    write(volume, 0, (int) (2 * MIB), 0x44);

    volume.writeZeroes(10, MIB, true);
    volume.writeZeroes(MIB + 10, 5000, false);

    byte[] got = read(volume, 0, (int) (2 * MIB));
    for (int i = 0; i < got.length; i++) {
      boolean zero = (i >= 10 && i < MIB + 10) || (i >= MIB + 10 && i < MIB + 5010);
      if (got[i] != (zero ? 0 : 0x44)) {
        throw new AssertionError("byte " + i + " is " + got[i]);
      }
    }
    assertThat(fs.calls(Op.PUNCH_HOLE)).isEqualTo(1);
    assertThat(fs.calls(Op.ZERO_RANGE)).isEqualTo(1);
  }

  @Test
  void otherNativeFailuresPropagate() {
    fs.failNext(Op.PUNCH_HOLE, Errno.EIO);
    assertThatThrownBy(() -> volume.trim(0, 4096)).isInstanceOf(NativeIOException.class)
        .hasMessage("fallocate(PUNCH_HOLE) failed: Input/output error (EIO)");
    fs.failNext(Op.ZERO_RANGE, Errno.ENOSPC);
    assertThatThrownBy(() -> volume.writeZeroes(0, 4096, false)).isInstanceOf(io.hablock.nativeio.NoSpaceException.class);
    fs.failNext(Op.FDATASYNC, Errno.EIO);
    assertThatThrownBy(() -> volume.flush()).hasMessage("fdatasync failed: Input/output error (EIO)");
  }

  @Test
  void extentsAreClippedToTheVolume() throws IOException {
    write(volume, SIZE - MIB, (int) MIB, 1);
    assertThat(volume.extents(SIZE - 2 * MIB, 10 * MIB)).containsExactly(
        new Extent(SIZE - 2 * MIB, MIB, true), new Extent(SIZE - MIB, MIB, false));
    assertThat(volume.extents(SIZE - 512 * KIB, Long.MAX_VALUE)).containsExactly(new Extent(SIZE - 512 * KIB, 512 * KIB, false));
    assertThat(volume.extents(SIZE, 100)).isEmpty();
    assertThat(volume.extents(SIZE + 100, 100)).isEmpty();
    assertThat(volume.extents(0, 0)).isEmpty();
  }

  @Test
  void adjacentDataIsMerged() throws IOException {
    for (int i = 0; i < 8; i++) {
      write(volume, GIB + i * 64 * KIB, (int) (64 * KIB), i + 1);
    }
    assertThat(volume.extents(GIB - 64 * KIB, MIB)).containsExactly(
        new Extent(GIB - 64 * KIB, 64 * KIB, true),
        new Extent(GIB, 512 * KIB, false),
        new Extent(GIB + 512 * KIB, 448 * KIB, true));
    // A range starting inside data begins with data.
    assertThat(volume.extents(GIB + 1000, 10).get(0)).isEqualTo(new Extent(GIB + 1000, 10, false));
  }

  @Test
  void concurrentWritersAndReaders() throws Exception {
    int threads = 8;
    int blocksPerThread = 200;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        done.add(pool.submit(() -> {
          LocalVolume own = store.open("vol"); // a handle per thread, one shared file
          try (own) {
            for (int b = 0; b < blocksPerThread; b++) {
              long offset = (long) (b * threads + id) * 4096 + 3 * GIB;
              own.write(filled(4096, id + 1), offset);
              assertThat(read(own, offset, 4096)).containsOnly(id + 1);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    for (int b = 0; b < blocksPerThread * threads; b++) {
      assertThat(read(volume, b * 4096L + 3 * GIB, 4096)).containsOnly(b % threads + 1);
    }
    assertThat(fs.calls(Op.OPEN)).isEqualTo(1);
  }

  @Test
  void anInterruptedThreadDoesNotBreakTheVolumeForOthers() throws Exception {
    write(volume, 0, 4096, 5);
    Thread t = new Thread(() -> {
      Thread.currentThread().interrupt();
      assertThatThrownBy(() -> read(volume, 0, 4096)).isInstanceOf(ClosedByInterruptException.class);
    });
    t.start();
    t.join();

    // The JDK closed the shared channel on that interrupt; the volume reopened it.
    assertThat(read(volume, 0, 4096)).containsOnly(5);
    write(volume, 4096, 4096, 6);
    assertThat(read(volume, 4096, 4096)).containsOnly(6);
  }

  @Test
  void closedHandleRefusesIo() {
    volume.close();
    assertThat(volume.isClosed()).isTrue();
    assertThatThrownBy(() -> volume.flush()).isInstanceOf(java.nio.channels.ClosedChannelException.class);
    assertThatThrownBy(() -> volume.extents(0, 1)).isInstanceOf(java.nio.channels.ClosedChannelException.class);
  }
}
