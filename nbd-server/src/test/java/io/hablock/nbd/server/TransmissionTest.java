package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.testing.FaultInjectingPosixFs.Op;
import io.hablock.nbd.testing.Chunk;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.Reply;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerMessage;
import io.hablock.nbd.testing.SimpleReply;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The transmission phase against doc/proto.md: replies, holes, block status, ordering, durability. */
class TransmissionTest {
    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;

    @TempDir
    Path dir;
    private ServerFixture fixture;

    @BeforeEach
    void start() throws IOException {
        fixture = ServerFixture.start(dir);
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

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

    // ---- structured READ ---------------------------------------------------------------------

    @Test
    void structuredReadOfDataAndHoleIsTiledByDataAndHoleChunks() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            byte[] expected = writeDataHoleData(client, 4 * MIB);

            Reply reply = client.read(4 * MIB, expected.length); // checks the chunks tile the range

            assertThat(reply.error()).isZero();
            assertThat(reply.chunks()).extracting(Chunk::type).containsExactly(
                    Wire.REPLY_TYPE_OFFSET_DATA, Wire.REPLY_TYPE_OFFSET_HOLE, Wire.REPLY_TYPE_OFFSET_DATA);
            assertThat(reply.data()).isEqualTo(expected);
        }
    }

    @Test
    void dontFragmentReadOfDataAndHoleIsOneDataChunk() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            byte[] expected = writeDataHoleData(client, 4 * MIB);

            Reply reply = client.command(Wire.CMD_READ, Wire.CMD_FLAG_DF, 4 * MIB, expected.length);

            assertThat(reply.chunks()).filteredOn(c -> c.type() != Wire.REPLY_TYPE_NONE).singleElement()
                    .satisfies(c -> {
                        assertThat(c.type()).isEqualTo(Wire.REPLY_TYPE_OFFSET_DATA);
                        assertThat(c.offset()).isEqualTo(4 * MIB);
                        assertThat(c.data()).isEqualTo(expected);
                    });
        }
    }

    /** With structured replies, a READ is never answered with a simple reply, errors included. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"beyond the end", "flag not valid for READ", "longer than the maximum payload",
        "device error"})
    void readErrorsAreStructured(String failure) throws IOException {
        long size = ServerFixture.VOLUME_SIZE;
        long[] request = switch (failure) {
            case "beyond the end" -> new long[] {0, size - 4096, 8192};
            case "flag not valid for READ" -> new long[] {Wire.CMD_FLAG_REQ_ONE, 0, 4096};
            case "longer than the maximum payload" -> new long[] {0, 0, 33 * MIB};
            default -> new long[] {0, 0, 4096};
        };
        int expected = failure.equals("device error") ? Wire.EIO : Wire.EINVAL;
        try (RawNbdClient client = fixture.transmission(true, false)) {
            if (failure.equals("device error")) {
                fixture.fs().failNext(Op.SEEK_DATA, Errno.EIO);
            }
            long cookie = client.nextCookie();
            client.sendRequest((int) request[0], Wire.CMD_READ, cookie, request[1], request[2], null);
            ServerMessage first = client.readMessage(c -> (int) request[2]);

            assertThat(first).isInstanceOf(Chunk.class);
            Chunk error = (Chunk) first;
            assertThat(error.type()).isEqualTo(Wire.REPLY_TYPE_ERROR);
            assertThat(error.isDone()).isTrue();
            assertThat(error.cookie()).isEqualTo(cookie);
            assertThat(error.error()).isEqualTo(expected);
            assertThat(error.errorMessage()).isNotBlank();
            assertThat(client.read(0, 4096).error()).as("connection still usable").isZero();
        }
    }

    // ---- zero lengths, pipelining, disconnect ------------------------------------------------

    @ParameterizedTest(name = "structured replies: {0}")
    @ValueSource(booleans = {false, true})
    void zeroLengthReadAndWriteAreAnswered(boolean structured) throws IOException {
        try (RawNbdClient client = fixture.transmission(structured, false)) {
            assertThat(client.read(0, 0).error()).isZero();
            assertThat(client.read(ServerFixture.VOLUME_SIZE, 0).error()).isZero();
            assertThat(client.write(4096, new byte[0]).error()).isZero();
            byte[] data = pattern(4096, 4);
            assertThat(client.write(0, data).error()).as("still in step").isZero();
            assertThat(client.read(0, 4096).data()).isEqualTo(data);
        }
    }

    /** 64 as the checklist asks; 300 is more than a connection may have in flight, so reading pauses. */
    @ParameterizedTest(name = "{1} requests, structured replies: {0}")
    @CsvSource({"false, 64", "true, 64", "true, 300"})
    void pipelinedRequestsAreAllAnsweredWithTheirCookies(boolean structured, int count) throws IOException {
        int block = 16 * KIB;
        long readArea = 0;
        long writeArea = 16 * MIB;
        byte[] old = pattern(count / 2 * block, 5);
        byte[] fresh = pattern(count / 2 * block, 6);
        try (RawNbdClient client = fixture.transmission(structured, false)) {
            assertThat(client.write(readArea, old).error()).isZero();

            Map<Long, Integer> readIndex = new HashMap<>();
            Map<Long, Integer> writeIndex = new HashMap<>();
            Random random = new Random(42);
            for (int i = 0; i < count / 2; i++) {
                long write = random.nextLong();
                client.sendRequest(0, Wire.CMD_WRITE, write, writeArea + (long) i * block, block,
                        Arrays.copyOfRange(fresh, i * block, (i + 1) * block));
                writeIndex.put(write, i);
                long read = random.nextLong();
                client.sendRequest(0, Wire.CMD_READ, read, readArea + (long) i * block, block, null);
                readIndex.put(read, i);
            }

            Map<Long, List<ServerMessage>> replies = new HashMap<>();
            int complete = 0;
            while (complete < count) {
                ServerMessage m = client.readMessage(c -> readIndex.containsKey(c) ? block : 0);
                assertThat(readIndex.containsKey(m.cookie()) || writeIndex.containsKey(m.cookie()))
                        .as("reply for cookie %d that was never sent", m.cookie()).isTrue();
                List<ServerMessage> messages = replies.computeIfAbsent(m.cookie(), c -> new ArrayList<>());
                assertThat(messages).as("message after the end of reply %d", m.cookie())
                        .noneMatch(TransmissionTest::endsReply);
                messages.add(m);
                if (endsReply(m)) {
                    complete++;
                }
            }

            assertThat(replies).hasSize(count);
            for (Map.Entry<Long, Integer> e : readIndex.entrySet()) {
                int i = e.getValue();
                assertThat(readData(replies.get(e.getKey()), readArea + (long) i * block, block))
                        .as("read %d", i).isEqualTo(Arrays.copyOfRange(old, i * block, (i + 1) * block));
            }
            for (long cookie : writeIndex.keySet()) {
                assertThat(replies.get(cookie)).as("write reply").allSatisfy(m -> assertThat(
                        m instanceof SimpleReply s ? s.error() : ((Chunk) m).isError() ? 1 : 0).isZero());
            }
            assertThat(client.read(writeArea, fresh.length).data()).isEqualTo(fresh);
        }
    }

    @Test
    void disconnectFinishesOutstandingRequestsThenCloses() throws IOException {
        byte[] data = pattern(16 * 64 * KIB, 7);
        try (RawNbdClient client = fixture.transmission(false, false)) {
            for (int i = 0; i < 16; i++) {
                client.sendRequest(Wire.CMD_FLAG_FUA, Wire.CMD_WRITE, i, (long) i * 64 * KIB, 64 * KIB,
                        Arrays.copyOfRange(data, i * 64 * KIB, (i + 1) * 64 * KIB));
            }
            client.sendRequestHeader(0, Wire.CMD_DISC, 99, 0, 0);
            List<Long> cookies = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                SimpleReply reply = (SimpleReply) client.readMessage(c -> 0);
                assertThat(reply.error()).isZero();
                cookies.add(reply.cookie());
            }
            assertThat(cookies).containsExactlyInAnyOrder(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L,
                    13L, 14L, 15L);
            client.assertClosedByServer();
        }
        try (RawNbdClient client = fixture.transmission(false, false)) {
            assertThat(client.read(0, data.length).data()).isEqualTo(data);
        }
    }

    // ---- read-only, FUA, FLUSH, multi-conn ---------------------------------------------------

    @Test
    void readOnlyExportAdvertisesItAndRefusesWritesWithEperm() throws IOException {
        try (ServerFixture readOnly = ServerFixture.start(dir.resolve("ro"), true);
             RawNbdClient client = readOnly.transmission(true, false)) {
            int flags = client.transmissionFlags();
            assertThat(flags & Wire.TFLAG_READ_ONLY).isNotZero();
            assertThat(flags & (Wire.TFLAG_SEND_TRIM | Wire.TFLAG_SEND_WRITE_ZEROES | Wire.TFLAG_SEND_FAST_ZERO))
                    .isZero();

            assertThat(client.write(0, pattern(64 * KIB, 8)).error()).isEqualTo(Wire.EPERM);
            assertThat(client.command(Wire.CMD_TRIM, 0, 0, 4096).error()).isEqualTo(Wire.EPERM);
            assertThat(client.command(Wire.CMD_WRITE_ZEROES, 0, 0, 4096).error()).isEqualTo(Wire.EPERM);
            assertThat(client.read(0, 64 * KIB).data()).as("nothing written, payload drained").containsOnly(0);
        }
    }

    @Test
    void fuaWriteIsDurableBeforeItsReply() throws IOException {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            byte[] data = pattern(64 * KIB, 9);
            fixture.fs().resetCounts();
            assertThat(client.request(Wire.CMD_FLAG_FUA, Wire.CMD_WRITE, 0, data.length, data).error()).isZero();
            assertThat(fixture.fs().calls(Op.FDATASYNC)).as("fdatasync before the FUA reply").isPositive();
            assertThat(client.read(0, data.length).data()).isEqualTo(data);
        }
    }

    @Test
    void flushSyncsAndReportsAFailedSyncAsEio() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            assertThat(client.write(0, pattern(4096, 10)).error()).isZero();
            fixture.fs().resetCounts();
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
            assertThat(fixture.fs().calls(Op.FDATASYNC)).isPositive();

            fixture.fs().failNext(Op.FDATASYNC, Errno.EIO);
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isEqualTo(Wire.EIO);
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
        }
    }

    @Test
    void flushOnOneConnectionCoversWritesAcknowledgedOnAnother() throws IOException {
        byte[] data = pattern(256 * KIB, 11);
        try (RawNbdClient a = fixture.transmission(false, false);
             RawNbdClient b = fixture.transmission(true, false)) {
            assertThat(a.transmissionFlags() & Wire.TFLAG_CAN_MULTI_CONN).isNotZero();
            assertThat(b.transmissionFlags() & Wire.TFLAG_CAN_MULTI_CONN).isNotZero();

            assertThat(a.write(8 * MIB, data).error()).isZero();
            fixture.fs().resetCounts();
            assertThat(b.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
            assertThat(fixture.fs().calls(Op.FDATASYNC)).as("B's flush synced the shared file").isPositive();

            assertThat(a.read(8 * MIB, data.length).data()).isEqualTo(data);
            assertThat(b.read(8 * MIB, data.length).data()).isEqualTo(data);
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    /** Writes data, hole, data (64 KiB, 128 KiB, 64 KiB) at {@code base}; returns the expected content. */
    private static byte[] writeDataHoleData(RawNbdClient client, long base) throws IOException {
        byte[] expected = new byte[256 * KIB];
        byte[] first = pattern(64 * KIB, 12);
        byte[] last = pattern(64 * KIB, 13);
        assertThat(client.write(base, first).error()).isZero();
        assertThat(client.write(base + 192 * KIB, last).error()).isZero();
        System.arraycopy(first, 0, expected, 0, first.length);
        System.arraycopy(last, 0, expected, 192 * KIB, last.length);
        return expected;
    }

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

    private static boolean endsReply(ServerMessage m) {
        return m instanceof SimpleReply || ((Chunk) m).isDone();
    }

    private static byte[] readData(List<ServerMessage> messages, long offset, int length) {
        if (messages.get(0) instanceof SimpleReply simple) {
            assertThat(simple.error()).isZero();
            return simple.data();
        }
        List<Chunk> chunks = messages.stream().map(Chunk.class::cast).toList();
        return Reply.structured(chunks.get(0).cookie(), chunks, offset, length).data();
    }

    static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }
}
