package io.hablock.nbd.server;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.nbd.testing.OptionReply;
import io.hablock.nbd.testing.Options;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What a broken or hostile client can send. Each case ends with proof that the server still
 * serves: the same connection where it should survive, and always a new client doing a write
 * and read round trip.
 */
class BadInputTest extends ServerTest {
    private static final long SIZE = ServerFixture.VOLUME_SIZE;
    private static final long WRAPS = 0xFFFFFFFFFFFFF000L; // + 0x2000 overflows 64 bits

    /** After every bad input the server still serves, and nothing of the bad client is left. */
    @AfterEach
    void serverStillServes() throws IOException {
        fixture.assertServesNewClient();
        await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> {
                    assertThat(fixture.server().connectionCount()).as("connections").isZero();
                    assertThat(fixture.exports().openHandles()).as("device handles").isZero();
                });
    }

    // ---- handshake ---------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"GET / HTTP/1.1\r\nHost: nbd\r\n\r\n", "\0\0\0\1SSH-2.0-OpenSSH_9.2\r\n"})
    void garbageInsteadOfTheHandshakeIsClosed(String garbage) throws IOException {
        try (RawNbdClient client = RawNbdClient.connect(fixture.address())) {
            client.readGreeting();
            client.sendBytes(garbage.getBytes(StandardCharsets.ISO_8859_1));
            client.assertClosedByServer();
        }
    }

    @ParameterizedTest(name = "client flags 0x{0}")
    @ValueSource(ints = {1 << 2, 0x80000000, 0xFFFFFFFF})
    void clientFlagThatWasNotOfferedIsClosed(int flags) throws IOException {
        try (RawNbdClient client = RawNbdClient.connect(fixture.address())) {
            client.readGreeting();
            client.sendClientFlags(flags);
            client.assertClosedByServer();
        }
    }

    @Test
    void unknownOptionWithPayloadIsUnsupportedAndTheConnectionGoesOn() throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            OptionReply reply = RawNbdClient.last(client.option(0x12345, pattern(1000, 1)));
            assertThat(reply.option()).isEqualTo(0x12345);
            assertThat(reply.type()).isEqualTo(Wire.REP_ERR_UNSUP);

            assertThat(RawNbdClient.last(client.go(ServerFixture.VOLUME)).type()).isEqualTo(Wire.REP_ACK);
            assertRoundTrip(client);
        }
    }

    @ParameterizedTest(name = "claims {0} bytes")
    @ValueSource(longs = {0xFFFFFFFFL, (64 << 10) + 1})
    void optionLongerThanAnySaneSizeIsClosedBeforeItsData(long length) throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            client.sendOptionHeader(Wire.OPT_GO, length); // and not one byte of the data
            client.assertClosedByServer();
        }
    }

    // ---- transmission: protocol violations -----------------------------------------------------

    @Test
    void requestWithBadMagicIsClosed() throws IOException {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            byte[] request = Options.build(out -> {
                out.writeInt(Wire.REQUEST_MAGIC + 1);
                out.writeShort(0);
                out.writeShort(Wire.CMD_READ);
                out.writeLong(1);
                out.writeLong(0);
                out.writeInt(4096);
            });
            client.sendBytes(request);
            client.assertClosedByServer();
        }
    }

    @Test
    void writeClaimingFourGibibytesIsClosedWithoutWaitingForThePayload() throws IOException {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            client.sendRequestHeader(0, Wire.CMD_WRITE, 1, 0, 0xFFFFFFFFL);
            client.assertClosedByServer();
        }
    }

    @ParameterizedTest(name = "reset: {0}")
    @ValueSource(booleans = {false, true})
    void clientGoneInTheMiddleOfAWritePayloadWritesNothing(boolean reset) throws IOException {
        long offset = 10 << 20;
        try (RawNbdClient client = fixture.transmission(false, false)) {
            client.sendRequestHeader(0, Wire.CMD_WRITE, 1, offset, 1 << 20);
            client.sendBytes(pattern(300 << 10, 2));
            if (reset) {
                client.abort();
            }
        }
        await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(10))
                .until(() -> fixture.exports().openHandles() == 0);
        try (RawNbdClient client = fixture.transmission(false, false)) {
            assertThat(client.read(offset, 1 << 20).data()).as("no partial write").containsOnly(0);
        }
    }

    // ---- transmission: requests refused with an error ------------------------------------------

    static Stream<Arguments> outOfRange() {
        return Stream.of(
                Arguments.of("READ past the end", Wire.CMD_READ, 0, SIZE - 4096, 8192, Wire.EINVAL),
                Arguments.of("WRITE past the end", Wire.CMD_WRITE, 0, SIZE - 4096, 8192, Wire.ENOSPC),
                Arguments.of("TRIM past the end", Wire.CMD_TRIM, 0, SIZE, 4096, Wire.EINVAL),
                Arguments.of("BLOCK_STATUS past the end", Wire.CMD_BLOCK_STATUS, 0, SIZE, 4096, Wire.EINVAL),
                Arguments.of("WRITE_ZEROES past the end", Wire.CMD_WRITE_ZEROES, 0, SIZE - 4096, 8192, Wire.ENOSPC),
                Arguments.of("CACHE past the end", Wire.CMD_CACHE, 0, SIZE + 4096, 4096, Wire.EINVAL),
                Arguments.of("READ wrapping 2^64", Wire.CMD_READ, 0, WRAPS, 0x2000, Wire.EINVAL),
                Arguments.of("WRITE wrapping 2^64", Wire.CMD_WRITE, 0, WRAPS, 0x2000, Wire.ENOSPC),
                Arguments.of("TRIM wrapping 2^64", Wire.CMD_TRIM, 0, WRAPS, 0x2000, Wire.EINVAL),
                Arguments.of("BLOCK_STATUS wrapping 2^64", Wire.CMD_BLOCK_STATUS, 0, WRAPS, 0x2000, Wire.EINVAL),
                Arguments.of("WRITE_ZEROES wrapping 2^64", Wire.CMD_WRITE_ZEROES, 0, WRAPS, 0x2000, Wire.ENOSPC),
                Arguments.of("CACHE wrapping 2^64", Wire.CMD_CACHE, 0, WRAPS, 0x2000, Wire.EINVAL),
                Arguments.of("unknown command", 42, 0, 0, 0, Wire.EINVAL),
                Arguments.of("unknown flag on READ", Wire.CMD_READ, 1 << 7, 0, 4096, Wire.EINVAL),
                Arguments.of("NO_HOLE on WRITE", Wire.CMD_WRITE, Wire.CMD_FLAG_NO_HOLE, 0, 4096, Wire.EINVAL),
                Arguments.of("REQ_ONE on TRIM", Wire.CMD_TRIM, Wire.CMD_FLAG_REQ_ONE, 0, 4096, Wire.EINVAL),
                Arguments.of("FLUSH with an offset", Wire.CMD_FLUSH, 0, 4096, 0, Wire.EINVAL),
                Arguments.of("FLUSH with a length", Wire.CMD_FLUSH, 0, 0, 4096, Wire.EINVAL));
    }

    /**
     * Each refused request gets its error, and the connection stays usable: a refused WRITE's
     * payload was read and dropped, not taken for the next request.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("outOfRange")
    void refusedRequestGetsItsErrorAndTheConnectionGoesOn(String name, int type, int flags, long offset, long length,
                                                          int error) throws IOException {
        try (RawNbdClient client = fixture.transmission(true, true)) {
            byte[] payload = type == Wire.CMD_WRITE ? pattern((int) length, 3) : null;
            assertThat(client.request(flags, type, offset, length, payload).error()).isEqualTo(error);
            assertRoundTrip(client);
        }
    }

    @Test
    void refusedReadWithSimpleRepliesSendsNoPayload() throws IOException {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            assertThat(client.read(SIZE - 4096, 8192).error()).isEqualTo(Wire.EINVAL);
            assertRoundTrip(client); // a payload after the error would show up as a bad reply magic here
        }
    }

    private static void assertRoundTrip(RawNbdClient client) throws IOException {
        byte[] data = pattern(8192, 4);
        assertThat(client.write(1 << 20, data).error()).as("write on the same connection").isZero();
        assertThat(client.read(1 << 20, data.length).data()).as("read on the same connection").isEqualTo(data);
    }
}
