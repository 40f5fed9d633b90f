package io.hablock.nbd.client;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.testing.FaultInjectingPosixFs;
import io.hablock.nbd.DeviceError;
import io.hablock.nbd.protocol.Nbd;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against hablock's own NBD server, over TCP, in this JVM. */
class NbdClientTest extends ServerTest {
    private static final int MIB = 1 << 20;

    private NbdClient connect() throws IOException {
        return NbdClient.connect(fixture.address(), ServerFixture.VOLUME);
    }

    @Test
    void negotiatesTheExportWithGo() throws IOException {
        try (NbdClient client = connect()) {
            assertThat(client.size()).isEqualTo(ServerFixture.VOLUME_SIZE);
            assertThat(client.isReadOnly()).isFalse();
            assertThat(client.transmissionFlags() & Nbd.TFLAG_SEND_FLUSH).isNotZero();
            assertThat(client.maxPayload()).as("NBD_INFO_BLOCK_SIZE maximum").isEqualTo(32 * MIB);
        }
    }

    @Test
    void writesAndReadsLongerThanOnePayloadAreSplit() throws IOException {
        byte[] data = pattern(40 * MIB, 1);
        byte[] back = new byte[data.length];
        try (NbdClient client = connect()) {
            client.write(MIB, data);
            client.read(MIB, back);
        }
        assertThat(Arrays.equals(back, data)).as("40 MiB read back").isTrue();
        // An independent reader sees the same bytes on both sides of the 32 MiB split.
        try (RawNbdClient raw = fixture.transmission(false, false)) {
            int split = 32 * MIB;
            assertThat(raw.read(MIB + split - 4096, 8192).data())
                    .isEqualTo(Arrays.copyOfRange(data, split - 4096, split + 4096));
            raw.disconnect();
        }
    }

    @Test
    void byteBuffersOfEitherKind() throws IOException {
        byte[] data = pattern(3 * MIB + 512, 2);
        ByteBuffer direct = ByteBuffer.allocateDirect(data.length);
        direct.put(data).flip();
        ByteBuffer heap = ByteBuffer.allocate(data.length + 100).position(50).limit(50 + data.length);
        try (NbdClient client = connect()) {
            client.write(4096, direct);
            assertThat(direct.hasRemaining()).isFalse();
            client.read(4096, heap);
            assertThat(heap.position()).isEqualTo(50 + data.length);
            ByteBuffer backDirect = ByteBuffer.allocateDirect(data.length);
            client.read(4096, backDirect);
            assertThat(backDirect.flip()).isEqualTo(ByteBuffer.wrap(data));
        }
        assertThat(Arrays.copyOfRange(heap.array(), 50, 50 + data.length)).isEqualTo(data);
    }

    @Test
    void aWriteInPartsIsSentFromThePartsAndSplitAtTheMaximumPayload() throws IOException {
        // direct parts whose boundaries do not meet the 32 MiB split: one part straddles it
        byte[] data = pattern(40 * MIB + 4096, 3);
        int[] cuts = {0, 7, MIB, 31 * MIB + 5, 33 * MIB, data.length};
        ByteBuffer[] parts = new ByteBuffer[cuts.length - 1];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = ByteBuffer.allocateDirect(cuts[i + 1] - cuts[i]).put(data, cuts[i], cuts[i + 1] - cuts[i]).flip();
        }
        ByteBuffer back = ByteBuffer.allocateDirect(data.length);
        try (NbdClient client = connect()) {
            client.write(2 * MIB, parts, true);
            assertThat(parts).allSatisfy(p -> assertThat(p.hasRemaining()).as("part sent").isFalse());
            client.read(2 * MIB, back);
        }
        byte[] got = new byte[data.length];
        back.flip().get(got);
        assertThat(Arrays.equals(got, data)).as("40 MiB written in parts read back").isTrue();
    }

    @Test
    void anUnknownExportIsRefusedWithTheServersMessage() {
        assertThatThrownBy(() -> NbdClient.connect(fixture.address(), "no-such-volume"))
                .isInstanceOfSatisfying(NbdOptionException.class, e -> {
                    assertThat(e.replyType()).isEqualTo(Nbd.REP_ERR_UNKNOWN);
                    assertThat(e.replyName()).isEqualTo("NBD_REP_ERR_UNKNOWN");
                    assertThat(e.serverMessage()).isEqualTo("no volume named 'no-such-volume' on this node");
                })
                .hasMessage("export 'no-such-volume' refused: NBD_REP_ERR_UNKNOWN: "
                        + "no volume named 'no-such-volume' on this node");
        await().atMost(Duration.ofSeconds(5)).until(() -> fixture.exports().openHandles() == 0);
    }

    @Test
    void anErrorReplyNamesTheErrorAndKeepsTheConnection() throws IOException {
        try (NbdClient client = connect()) {
            assertThatThrownBy(() -> client.read(ServerFixture.VOLUME_SIZE - 512, new byte[4096]))
                    .isInstanceOfSatisfying(NbdCommandException.class, e -> {
                        assertThat(e.errorName()).isEqualTo("EINVAL");
                        assertThat(e.deviceError()).isEqualTo(DeviceError.INVALID);
                    })
                    .hasMessage("NBD_CMD_READ of 4096 bytes at offset 67108352 failed: EINVAL (22)");
            assertThatThrownBy(() -> client.write(ServerFixture.VOLUME_SIZE, new byte[512]))
                    .isInstanceOfSatisfying(NbdCommandException.class, e -> {
                        assertThat(e.code()).isEqualTo(28);
                        assertThat(e.deviceError()).isEqualTo(DeviceError.NO_SPACE);
                    })
                    .hasMessageContaining("ENOSPC");

            byte[] data = pattern(4096, 3);
            client.write(0, data);
            byte[] back = new byte[4096];
            client.read(0, back);
            assertThat(back).isEqualTo(data);
        }
    }

    @Test
    void aDiskErrorOnFlushIsEio() throws IOException {
        try (NbdClient client = connect()) {
            client.write(0, pattern(4096, 4));
            fixture.fs().resetCounts();
            client.flush();
            assertThat(fixture.fs().calls(FaultInjectingPosixFs.Op.FDATASYNC)).as("fdatasync on FLUSH").isPositive();

            fixture.fs().failNext(FaultInjectingPosixFs.Op.FDATASYNC, Errno.EIO);
            assertThatThrownBy(client::flush).isInstanceOfSatisfying(NbdCommandException.class,
                    e -> assertThat(e.deviceError()).isEqualTo(DeviceError.IO)).hasMessage("NBD_CMD_FLUSH failed: EIO (5)");
        }
    }

    @Test
    void closeDisconnectsAndLaterCallsFail() throws IOException {
        NbdClient client = connect();
        await().atMost(Duration.ofSeconds(5)).until(() -> fixture.exports().openHandles() == 1);
        client.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> fixture.exports().openHandles() == 0);
        assertThatThrownBy(() -> client.read(0, new byte[512])).hasMessage("the connection to export 'vol' is closed");
        client.close(); // twice is harmless
    }

    @Test
    void aReadOnlyExportRefusesWritesWithoutAsking(@TempDir Path other) throws IOException {
        try (ServerFixture readOnly = ServerFixture.start(other, true);
                NbdClient client = NbdClient.connect(readOnly.address(), ServerFixture.VOLUME)) {
            assertThat(client.isReadOnly()).isTrue();
            assertThatThrownBy(() -> client.write(0, new byte[512])).hasMessage("export 'vol' is read-only");
            client.read(0, new byte[512]);
        }
    }
}
