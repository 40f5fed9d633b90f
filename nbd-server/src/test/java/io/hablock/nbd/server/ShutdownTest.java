package io.hablock.nbd.server;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.blockstore.BlockStore;
import io.hablock.blockstore.LocalVolume;
import io.hablock.nativeio.testing.FaultInjectingPosixFs.Op;
import io.hablock.nbd.testing.OptionReply;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerMessage;
import io.hablock.nbd.testing.SimpleReply;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link NbdServer#close()} with clients connected: requests already inside the server finish
 * and are answered, their data is synced, and clients still haggling are told or closed.
 */
class ShutdownTest {
    private static final int WRITES = 8;
    private static final int BLOCK = 64 << 10;
    private static final long READ_COOKIE = 100;

    @TempDir
    Path dir;

    @Test
    void inFlightRequestsFinishAndAreSyncedBeforeTheConnectionCloses() throws Exception {
        byte[] data = pattern(WRITES * BLOCK, 1);
        try (ServerFixture fixture = ServerFixture.start(dir)) {
            try (RawNbdClient client = fixture.transmission(false, false);
                 RawNbdClient haggling = fixture.handshake()) {
                fixture.exports().closeWriteGate();
                for (int i = 0; i < WRITES; i++) {
                    client.sendRequest(0, Wire.CMD_WRITE, i, (long) i * BLOCK, BLOCK, slice(data, i));
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> fixture.exports().writesAtGate() == WRITES);
                fixture.fs().resetCounts();

                CompletableFuture<Void> closing = CompletableFuture.runAsync(fixture.server()::close);
                await().atMost(Duration.ofSeconds(10)).until(() -> refusesConnections(fixture));

                // A new option while the server shuts down: ERR_SHUTDOWN, or simply a close.
                assertToldOrClosed(haggling);

                // A request sent now is never served: at most answered with ESHUTDOWN.
                client.sendRequestHeader(0, Wire.CMD_READ, READ_COOKIE, 0, 4096);
                fixture.exports().openWriteGate();
                List<ServerMessage> replies = client.readMessagesUntilClosed(c -> c == READ_COOKIE ? 4096 : 0);

                assertThat(replies).allMatch(m -> m instanceof SimpleReply);
                assertThat(replies).filteredOn(m -> m.cookie() != READ_COOKIE)
                        .as("every in-flight write answered").hasSize(WRITES)
                        .allSatisfy(m -> assertThat(((SimpleReply) m).error()).isZero())
                        .extracting(ServerMessage::cookie).containsExactlyInAnyOrder(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L);
                assertThat(replies).filteredOn(m -> m.cookie() == READ_COOKIE)
                        .allSatisfy(m -> assertThat(((SimpleReply) m).error()).isEqualTo(Wire.ESHUTDOWN));

                closing.get(10, TimeUnit.SECONDS);
                assertThat(fixture.fs().calls(Op.FDATASYNC)).as("export synced at shutdown").isPositive();
                assertThat(fixture.exports().openHandles()).isZero();
            }
        }
        try (BlockStore store = BlockStore.open(dir); LocalVolume volume = store.open(ServerFixture.VOLUME)) {
            ByteBuffer back = ByteBuffer.allocate(data.length);
            volume.read(back, 0);
            assertThat(back.array()).as("acknowledged writes are on disk").isEqualTo(data);
        }
    }

    @Test
    void optionsDuringShutdownAreToldOrClosed() throws Exception {
        try (ServerFixture fixture = ServerFixture.start(dir);
             RawNbdClient haggling = fixture.handshake()) {
            fixture.server().close();
            assertToldOrClosed(haggling);
            fixture.server().close(); // idempotent
        }
    }

    private static void assertToldOrClosed(RawNbdClient haggling) throws IOException {
        try {
            haggling.sendOption(Wire.OPT_LIST, new byte[0]);
        } catch (IOException e) {
            return; // already closed under us
        }
        Optional<OptionReply> reply = haggling.readOptionReplyUnlessClosed();
        if (reply.isPresent()) {
            assertThat(reply.get().type()).isEqualTo(Wire.REP_ERR_SHUTDOWN);
            haggling.assertClosedByServer();
        }
    }

    private static boolean refusesConnections(ServerFixture fixture) {
        try (Socket s = new Socket()) {
            s.connect(fixture.address(), 1000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static byte[] slice(byte[] data, int i) {
        return Arrays.copyOfRange(data, i * BLOCK, (i + 1) * BLOCK);
    }
}
