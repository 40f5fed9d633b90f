package io.hablock.nbd.server;

import static io.hablock.nbd.testing.RawNbdClient.last;
import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nativeio.testing.FaultInjectingPosixFs;
import io.hablock.nbd.testing.Chunk;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.Reply;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.ServerMessage;
import io.hablock.nbd.testing.SimpleReply;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Transmission-phase replies against doc/proto.md: structured READ, errors, zero lengths, pipelining, DISC. */
class TransmissionTest extends ServerTest {
    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;


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

            // Unaligned at both ends, from inside the first data extent to inside the second.
            int from = 60 * KIB + 7;
            int to = 200 * KIB - 3;
            Reply unaligned = client.read(4 * MIB + from, to - from);
            assertThat(unaligned.chunks()).extracting(Chunk::type).contains(Wire.REPLY_TYPE_OFFSET_HOLE);
            assertThat(unaligned.data()).isEqualTo(Arrays.copyOfRange(expected, from, to));
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
    @ValueSource(strings = {"beyond the end", "flag not valid for READ", "longer than the hard limit",
        "DF longer than the maximum payload", "device error"})
    void readErrorsAreStructured(String failure) throws IOException {
        long size = ServerFixture.VOLUME_SIZE;
        long[] request = switch (failure) {
            case "beyond the end" -> new long[] {0, size - 4096, 8192};
            case "flag not valid for READ" -> new long[] {Wire.CMD_FLAG_REQ_ONE, 0, 4096};
            case "longer than the hard limit" -> new long[] {0, 0, 128 * MIB + 4096};
            case "DF longer than the maximum payload" -> new long[] {Wire.CMD_FLAG_DF, 0, 32 * MIB + 4096};
            default -> new long[] {0, 0, 4096};
        };
        int expected = switch (failure) {
            case "device error" -> Wire.EIO;
            case "DF longer than the maximum payload" -> Wire.EOVERFLOW;
            default -> Wire.EINVAL;
        };
        try (RawNbdClient client = fixture.transmission(true, false)) {
            if (failure.equals("device error")) {
                fixture.exports().failNextRead(new IOException("injected disk error"));
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

    // ---- requests longer than the maximum payload: served in pieces ------------------------------

    /**
     * A 48 MiB READ (what clients that never saw the maximum send) with small requests sent once
     * its reply has begun: with structured replies no chunk exceeds the 32 MiB maximum payload;
     * with simple replies the data follows its header with no other reply in between. Sent from
     * the file (sendfile), or read from a slow device piece by piece, as a cluster volume is.
     */
    @ParameterizedTest(name = "structured replies: {0}, from the file: {1}")
    @CsvSource({"true, true", "true, false", "false, true", "false, false"})
    void readLongerThanTheMaximumPayloadIsServedWithSmallRequestsAround(boolean structured, boolean zeroCopy)
            throws IOException {
        int length = 48 * MIB;
        byte[] expected = pattern(length, 20);
        byte[] small = pattern(4096, 21);
        try (RawNbdClient client = fixture.transmission(structured, false)) {
            assertThat(client.write(0, expected).error()).isZero();
            if (!zeroCopy) {
                fixture.exports().delayReads(Duration.ofMillis(10)); // 24 pieces: the reply takes a while
            }
            client.sendRequest(0, Wire.CMD_READ, 2, 0, length, null);
            Map<Long, List<ServerMessage>> replies = new HashMap<>();
            byte[] simpleHeader = structured ? null : client.readBytes(16);
            if (structured) {
                replies.computeIfAbsent(2L, c -> new ArrayList<>()).add(client.readMessage(c -> 0));
            }
            client.sendRequest(0, Wire.CMD_WRITE, 3, 60 * MIB, 4096, small);
            client.sendRequest(0, Wire.CMD_READ, 4, 8 * MIB, 4096, null);
            int complete = 0;
            if (!structured) {
                assertThat(Arrays.copyOfRange(simpleHeader, 4, 8)).as("error field").containsOnly(0);
                assertThat(client.readBytes(length)).as("data right after its header").isEqualTo(expected);
                complete++;
            }
            while (complete < 3) {
                ServerMessage m = client.readMessage(c -> c == 4 ? 4096 : 0);
                replies.computeIfAbsent(m.cookie(), c -> new ArrayList<>()).add(m);
                complete += endsReply(m) ? 1 : 0;
            }

            if (structured) {
                assertThat(readData(replies.get(2L), 0, length)).isEqualTo(expected);
                assertThat(replies.get(2L)).as("chunks of the long read").hasSizeGreaterThan(1)
                        .allSatisfy(m -> assertThat(((Chunk) m).payload().length).isLessThanOrEqualTo(32 * MIB + 8));
            }
            assertThat(readData(replies.get(4L), 8 * MIB, 4096)).isEqualTo(Arrays.copyOfRange(expected, 8 * MIB, 8 * MIB + 4096));
            assertThat(client.read(60 * MIB, 4096).data()).isEqualTo(small);
        }
    }

    /**
     * A 48 MiB FUA WRITE is written as it arrives and acknowledged once durable; the connection
     * goes on after it.
     */
    @Test
    void writeLongerThanTheMaximumPayloadIsWrittenAndDurableBeforeItsReply() throws IOException {
        byte[] data = pattern(48 * MIB, 22);
        try (RawNbdClient client = fixture.transmission(true, false)) {
            fixture.fs().resetCounts();
            assertThat(client.request(Wire.CMD_FLAG_FUA, Wire.CMD_WRITE, 4 * MIB, data.length, data).error()).isZero();
            assertThat(fixture.fs().calls(FaultInjectingPosixFs.Op.FDATASYNC)).as("fdatasync before the FUA reply")
                    .isPositive();
            for (int at = 0; at < data.length; at += 16 * MIB) {
                assertThat(client.read(4 * MIB + at, 16 * MIB).data()).as("at %d MiB", at / MIB)
                        .isEqualTo(Arrays.copyOfRange(data, at, at + 16 * MIB));
            }
        }
    }

    /**
     * A long WRITE that is refused or fails part way still has its whole payload consumed: the
     * reply is the error and the connection stays in step. After a failed piece nothing more is
     * written.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"beyond the end", "device error"})
    void longWriteRefusedOrFailedKeepsTheConnectionInStep(String failure) throws IOException {
        long offset = failure.equals("beyond the end") ? 32 * MIB : 0;
        byte[] data = pattern(48 * MIB, 23);
        if (failure.equals("device error")) {
            fixture.exports().failWriteAt(20 * MIB, new IOException("injected disk error"));
        }
        try (RawNbdClient client = fixture.transmission(true, false)) {
            assertThat(client.request(0, Wire.CMD_WRITE, offset, data.length, data).error())
                    .isEqualTo(failure.equals("beyond the end") ? Wire.ENOSPC : Wire.EIO);

            byte[] small = pattern(4096, 24);
            assertThat(client.write(60 * MIB, small).error()).as("same connection").isZero();
            assertThat(client.read(60 * MIB, 4096).data()).isEqualTo(small);
            if (failure.equals("device error")) {
                assertThat(client.read(24 * MIB, 16 * MIB).data()).as("nothing written after the failed piece")
                        .containsOnly(0);
            }
        }
    }

    /**
     * A long READ failing part way: with structured replies the data sent is followed by an
     * ERROR chunk and the connection goes on; with simple replies the header is out and the error
     * cannot be told, so the server closes the connection before the data ends.
     */
    @ParameterizedTest(name = "structured replies: {0}")
    @ValueSource(booleans = {true, false})
    void longReadFailingPartWay(boolean structured) throws IOException {
        int length = 48 * MIB;
        try (RawNbdClient client = fixture.transmission(structured, false)) {
            fixture.exports().disableZeroCopy();
            fixture.exports().failReadAt(20 * MIB, new IOException("injected disk error"));
            client.sendRequest(0, Wire.CMD_READ, 7, 0, length, null);
            if (structured) {
                Reply reply = client.readReply(7, 0, length);
                assertThat(reply.error()).isEqualTo(Wire.EIO);
                assertThat(reply.chunks()).filteredOn(c -> c.type() == Wire.REPLY_TYPE_OFFSET_DATA).isNotEmpty();
                assertThat(client.read(0, 4096).error()).as("connection still usable").isZero();
            } else {
                byte[] header = client.readBytes(16);
                assertThat(Arrays.copyOfRange(header, 4, 8)).as("error field of the header").containsOnly(0);
                long received = 0;
                try {
                    while (received < length) {
                        received += client.readBytes(64 * KIB).length;
                    }
                } catch (java.io.EOFException | java.net.SocketException e) {
                    // closed by the server
                }
                assertThat(received).as("data before the server closed").isLessThan(length);
                assertThat(client.closedByServer()).isTrue();
            }
        }
        fixture.assertServesNewClient();
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
}
