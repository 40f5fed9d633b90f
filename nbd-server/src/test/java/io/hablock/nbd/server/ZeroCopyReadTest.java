package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nbd.testing.Chunk;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.Reply;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.TestData;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Large READs go out with sendfile from the volume's file: same bytes, same reply framing. */
class ZeroCopyReadTest extends ServerTest {
    private static final int MIB = 1 << 20;


    @ParameterizedTest(name = "structured={0}")
    @ValueSource(booleans = {true, false})
    void largeReadsReturnTheWrittenBytes(boolean structured) throws IOException {
        byte[] data = TestData.pattern(3 * MIB, 42);
        try (RawNbdClient client = fixture.transmission(structured, false)) {
            assertThat(client.write(5 * MIB + 512, data).error()).isZero();
            // Pipelined, so several regions wait in the outbound buffer at once.
            long[] cookies = new long[4];
            for (int i = 0; i < cookies.length; i++) {
                cookies[i] = client.nextCookie();
                client.sendRequest(0, Wire.CMD_READ, cookies[i], 5 * MIB + 512 + (long) i * 256 * 1024, MIB, null);
            }
            for (int i = 0; i < cookies.length; i++) {
                long offset = 5 * MIB + 512 + (long) i * 256 * 1024;
                Reply reply = client.readReply(cookies[i], offset, MIB);
                assertThat(reply.error()).isZero();
                assertThat(reply.data()).isEqualTo(java.util.Arrays.copyOfRange(data, i * 256 * 1024, i * 256 * 1024 + MIB));
            }
            // The last byte of the volume, in a read that ends there.
            long end = ServerFixture.VOLUME_SIZE;
            assertThat(client.read(end - MIB, MIB).data()).hasSize(MIB);
        }
    }

    @ParameterizedTest(name = "DF={0}")
    @ValueSource(booleans = {true, false})
    void aLargeStructuredReadIsOneDataChunk(boolean df) throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            Reply reply = client.request(df ? Wire.CMD_FLAG_DF : 0, Wire.CMD_READ, 0, MIB, null);
            assertThat(reply.error()).isZero();
            assertThat(reply.chunks()).singleElement().satisfies(c -> {
                assertThat(c.type()).isEqualTo(Wire.REPLY_TYPE_OFFSET_DATA);
                assertThat(c.isDone()).isTrue();
            });
            assertThat(reply.data()).containsOnly(0);
        }
    }
}
