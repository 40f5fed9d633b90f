package io.hablock.nbd.server;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.testing.FaultInjectingPosixFs.Op;
import io.hablock.nbd.testing.Chunk;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.Reply;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** BLOCK_STATUS with base:allocation, and how TRIM and WRITE_ZEROES show in it and in reads. */
class BlockStatusTest extends ServerTest {
    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;


    // ---- BLOCK_STATUS -------------------------------------------------------------------------

    @Test
    void blockStatusWithoutASelectedContextIsEinval() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            assertThat(client.command(Wire.CMD_BLOCK_STATUS, 0, 0, 4096).error()).isEqualTo(Wire.EINVAL);
            assertThat(client.read(0, 4096).error()).as("connection still usable").isZero();
        }
    }

    @Test
    void blockStatusWithReqOneGivesExactlyOneExtentNoLongerThanTheRequest() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, true)) {
            assertThat(client.write(0, pattern(64 * KIB, 1)).error()).isZero();
            for (long[] range : new long[][] {{0, MIB}, {0, 4096}, {MIB, 8 * MIB}, {60 * KIB, 8 * KIB}}) {
                Reply reply = client.command(Wire.CMD_BLOCK_STATUS, Wire.CMD_FLAG_REQ_ONE, range[0], range[1]);
                assertThat(reply.error()).isZero();
                List<Chunk.Extent> extents = statusChunk(reply).extents();
                assertThat(extents).as("extents for %s", Arrays.toString(range)).hasSize(1);
                assertThat(extents.get(0).length()).isPositive().isLessThanOrEqualTo(range[1]);
            }
            List<Chunk.Extent> data = statusChunk(client.command(Wire.CMD_BLOCK_STATUS, Wire.CMD_FLAG_REQ_ONE, 0, MIB))
                    .extents();
            assertThat(data.get(0)).isEqualTo(new Chunk.Extent(64 * KIB, 0));
            List<Chunk.Extent> hole = statusChunk(
                    client.command(Wire.CMD_BLOCK_STATUS, Wire.CMD_FLAG_REQ_ONE, MIB, 8 * MIB)).extents();
            assertThat(hole.get(0)).isEqualTo(new Chunk.Extent(8 * MIB, Wire.STATE_HOLE | Wire.STATE_ZERO));
        }
    }

    @Test
    void trimmedRangeIsReportedAsHoleAndZeroAndReadsAsZeros() throws IOException {
        long base = 2 * MIB;
        byte[] data = pattern(MIB, 2);
        try (RawNbdClient client = fixture.transmission(true, true)) {
            assertThat(client.write(base, data).error()).isZero();
            assertThat(extents(client, base, MIB)).containsExactly(new Chunk.Extent(MIB, 0));

            assertThat(client.command(Wire.CMD_TRIM, 0, base + 256 * KIB, 512 * KIB).error()).isZero();

            assertThat(extents(client, base, MIB)).containsExactly(
                    new Chunk.Extent(256 * KIB, 0),
                    new Chunk.Extent(512 * KIB, Wire.STATE_HOLE | Wire.STATE_ZERO),
                    new Chunk.Extent(256 * KIB, 0));
            byte[] expected = data.clone();
            Arrays.fill(expected, 256 * KIB, 768 * KIB, (byte) 0);
            assertThat(client.read(base, MIB).data()).isEqualTo(expected);
        }
    }

    @ParameterizedTest(name = "flags {0}")
    @ValueSource(ints = {0, Wire.CMD_FLAG_NO_HOLE, Wire.CMD_FLAG_FUA})
    void writeZeroesReadsBackAsZeros(int flags) throws IOException {
        try (RawNbdClient client = fixture.transmission(true, true)) {
            byte[] data = pattern(256 * KIB, 3);
            assertThat(client.write(MIB, data).error()).isZero();
            assertThat(client.command(Wire.CMD_WRITE_ZEROES, flags, MIB + 64 * KIB, 64 * KIB).error()).isZero();
            Arrays.fill(data, 64 * KIB, 128 * KIB, (byte) 0);
            assertThat(client.read(MIB, data.length).data()).isEqualTo(data);
        }
    }

    /**
     * FAST_ZERO: "the server MUST fail quickly with NBD_ENOTSUP unless the request can be serviced
     * in less time than a corresponding NBD_CMD_WRITE, and SHOULD NOT alter the contents".
     * Here the file system can neither punch nor zero a range, so only writing zeros is left.
     */
    @ParameterizedTest(name = "flags {0}")
    @ValueSource(ints = {Wire.CMD_FLAG_FAST_ZERO, Wire.CMD_FLAG_FAST_ZERO | Wire.CMD_FLAG_NO_HOLE})
    void fastZeroFailsWithEnotsupWhenOnlySlowZeroingIsPossible(int flags) throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            byte[] data = pattern(64 * KIB, 14);
            assertThat(client.write(0, data).error()).isZero();
            fixture.fs().failAlways(Op.PUNCH_HOLE, Errno.EOPNOTSUPP).failAlways(Op.ZERO_RANGE, Errno.EOPNOTSUPP);

            assertThat(client.command(Wire.CMD_WRITE_ZEROES, flags, 0, data.length).error()).isEqualTo(Wire.ENOTSUP);
            assertThat(client.read(0, data.length).data()).as("contents untouched").isEqualTo(data);

            int slow = flags & ~Wire.CMD_FLAG_FAST_ZERO;
            assertThat(client.command(Wire.CMD_WRITE_ZEROES, slow, 0, data.length).error()).isZero();
            assertThat(client.read(0, data.length).data()).as("zeroed the slow way").containsOnly(0);
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    private static List<Chunk.Extent> extents(RawNbdClient client, long offset, long length) throws IOException {
        Reply reply = client.command(Wire.CMD_BLOCK_STATUS, 0, offset, length);
        assertThat(reply.error()).isZero();
        List<Chunk.Extent> extents = statusChunk(reply).extents();
        assertThat(extents).allSatisfy(e -> assertThat(e.length()).isPositive());
        assertThat(extents.stream().mapToLong(Chunk.Extent::length).sum()).isLessThanOrEqualTo(length);
        return extents;
    }

    private static Chunk statusChunk(Reply reply) {
        assertThat(reply.structured()).isTrue();
        return reply.chunks().stream().filter(c -> c.type() == Wire.REPLY_TYPE_BLOCK_STATUS)
                .reduce((x, y) -> {
                    throw new AssertionError("more than one BLOCK_STATUS chunk for one context");
                }).orElseThrow(() -> new AssertionError("no BLOCK_STATUS chunk in " + reply.chunks()));
    }
}
