package io.hablock.nbd.client;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nbd.Extent;
import io.hablock.nativeio.Errno;
import io.hablock.nativeio.testing.FaultInjectingPosixFs;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The pipelined client against hablock's own NBD server, over TCP: structured replies (reads in
 * data and hole chunks, errors with the server's message) and BLOCK_STATUS.
 */
class NbdPipelinedClientTest extends ServerTest {
    private final EventLoopGroup group = NbdPipelinedClient.group(1, "test-pipelined");

    @AfterEach
    void stopGroup() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private NbdPipelinedClient connect() throws IOException {
        return NbdPipelinedClient.connect(fixture.address(), ServerFixture.VOLUME, Duration.ofSeconds(5), null, group.next(),
                io.netty.channel.socket.nio.NioSocketChannel.class).join();
    }

    @Test
    void manyRequestsInFlightOnOneConnectionEachGetTheirOwnAnswer() throws Exception {
        NbdPipelinedClient client = connect();
        assertThat(client.size()).isEqualTo(ServerFixture.VOLUME_SIZE);
        int blocks = 256;
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            ByteBuffer data = ByteBuffer.wrap(pattern(4096, i));
            // split in two parts: one request all the same
            ByteBuffer head = data.duplicate().limit(1000);
            ByteBuffer tail = data.duplicate().position(1000);
            writes.add(client.write(i * 65536L, new ByteBuffer[] {head, tail}, i % 7 == 0));
        }
        CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        List<CompletableFuture<Void>> reads = new ArrayList<>();
        List<ByteBuffer> back = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            ByteBuffer dst = ByteBuffer.allocateDirect(4096);
            back.add(dst);
            reads.add(client.read(i * 65536L, dst));
        }
        reads.add(client.flush());
        CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        for (int i = 0; i < blocks; i++) {
            byte[] got = new byte[4096];
            back.get(i).get(got);
            assertThat(got).as("block %d", i).isEqualTo(pattern(4096, i));
        }
        assertThat(client.inFlight()).isZero();
        client.close();
    }

    @Test
    void anErrorAnswersOneRequestAndTheConnectionGoesOn() throws Exception {
        NbdPipelinedClient client = connect();
        CompletableFuture<Void> bad = client.read(ServerFixture.VOLUME_SIZE - 512, ByteBuffer.allocate(4096));
        assertThatThrownBy(() -> bad.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(NbdCommandException.class)
                .hasMessageContaining("EINVAL");
        client.write(0, new ByteBuffer[] {ByteBuffer.wrap(pattern(512, 9))}, false).get(5, TimeUnit.SECONDS);
        ByteBuffer back = ByteBuffer.allocate(512);
        client.read(0, back).get(5, TimeUnit.SECONDS);
        assertThat(back.array()).isEqualTo(pattern(512, 9));
        assertThat(client.isOpen()).isTrue();
        client.close();
    }

    @Test
    void anUnknownExportIsRefusedWithTheServersMessage() {
        CompletableFuture<NbdPipelinedClient> refused = NbdPipelinedClient.connect(fixture.address(), "no-such-volume",
                Duration.ofSeconds(5), null, group.next(), io.netty.channel.socket.nio.NioSocketChannel.class);
        assertThatThrownBy(() -> refused.get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(NbdOptionException.class, e -> assertThat(e.replyName()).isEqualTo("NBD_REP_ERR_UNKNOWN"))
                .hasMessageContaining("no volume named 'no-such-volume' on this node");
    }

    private static final int KIB = 1024;

    /**
     * hablock's server sends the zero runs of a READ below 512 KiB as OFFSET_HOLE chunks: the
     * client fills them with zeros (over whatever the buffer held) and puts each data chunk in
     * its place, in heap and direct buffers, at the buffer's position.
     */
    @Test
    void aStructuredReadPutsDataChunksInPlaceAndFillsHolesWithZeros() throws Exception {
        NbdPipelinedClient client = connect();
        assertThat(client.hasBlockStatus()).as("structured replies and base:allocation negotiated").isTrue();
        long base = 1 << 20;
        byte[] expected = new byte[256 * KIB];
        // data, zeros, data, zeros at the end; a run that starts inside a 4 KiB granule too
        for (int[] run : new int[][] {{0, 8 * KIB}, {20 * KIB, 3 * KIB}, {100 * KIB, 60 * KIB}}) {
            byte[] data = pattern(run[1], run[0]);
            System.arraycopy(data, 0, expected, run[0], run[1]);
            client.write(base + run[0], new ByteBuffer[] {ByteBuffer.wrap(data)}, false).get(5, TimeUnit.SECONDS);
        }
        for (ByteBuffer dst : List.of(ByteBuffer.allocate(expected.length + 100), ByteBuffer.allocateDirect(expected.length + 100))) {
            while (dst.hasRemaining()) {
                dst.put((byte) 0xee); // what a hole must overwrite
            }
            dst.position(100);
            client.read(base, dst).get(5, TimeUnit.SECONDS);
            byte[] got = new byte[expected.length];
            dst.get(got);
            assertThat(Arrays.equals(got, expected)).as("read back into a %s buffer", dst.isDirect() ? "direct" : "heap").isTrue();
        }
        // all zeros: one hole chunk; large: one data chunk (zeros as data), sent from the file
        ByteBuffer zeros = ByteBuffer.allocate(64 * KIB);
        Arrays.fill(zeros.array(), (byte) 1);
        client.read(8L << 20, zeros).get(5, TimeUnit.SECONDS);
        assertThat(zeros.array()).containsOnly(0);
        ByteBuffer large = ByteBuffer.allocateDirect(2 << 20);
        client.read(base - (512 * KIB), large).get(5, TimeUnit.SECONDS);
        byte[] got = new byte[expected.length];
        large.position(512 * KIB).get(got);
        assertThat(Arrays.equals(got, expected)).as("a large read").isTrue();
        client.close();
    }

    @Test
    void aFailedReadIsAnErrorChunkWithTheServersMessageAndTheConnectionGoesOn() throws Exception {
        NbdPipelinedClient client = connect();
        fixture.exports().failNextRead(new IOException("the disk is on fire"));
        CompletableFuture<Void> failed = client.read(0, ByteBuffer.allocate(4096));
        assertThatThrownBy(() -> failed.get(5, TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("EIO"))
                .hasMessageContaining("NBD_CMD_READ of 4096 bytes at offset 0").hasMessageContaining("the disk is on fire");
        ByteBuffer back = ByteBuffer.allocate(4096);
        client.read(0, back).get(5, TimeUnit.SECONDS);
        assertThat(client.isOpen()).isTrue();
        client.close();
    }

    @Test
    void blockStatusGivesTheServersAllocationMap() throws Exception {
        NbdPipelinedClient client = connect();
        client.write(0, new ByteBuffer[] {ByteBuffer.wrap(pattern(256 * KIB, 5))}, false).get(5, TimeUnit.SECONDS);
        client.trim(64 * KIB, 64 * KIB, false).get(5, TimeUnit.SECONDS);

        assertThat(client.blockStatus(0, 1 << 20).get(5, TimeUnit.SECONDS)).containsExactly(
                new Extent(0, 64 * KIB, false),
                new Extent(64 * KIB, 64 * KIB, true),
                new Extent(128 * KIB, 128 * KIB, false),
                new Extent(256 * KIB, 768 * KIB, true));
        assertThat(client.blockStatus(60 * KIB, 8 * KIB).get(5, TimeUnit.SECONDS)).containsExactly(
                new Extent(60 * KIB, 4 * KIB, false), new Extent(64 * KIB, 4 * KIB, true));
        // a whole volume in one request
        List<Extent> all = client.blockStatus(0, ServerFixture.VOLUME_SIZE).get(5, TimeUnit.SECONDS);
        assertThat(all.get(all.size() - 1)).isEqualTo(new Extent(256 * KIB, ServerFixture.VOLUME_SIZE - 256 * KIB, true));

        fixture.fs().failAlways(FaultInjectingPosixFs.Op.SEEK_DATA, Errno.EIO);
        CompletableFuture<List<Extent>> failed = client.blockStatus(0, 1 << 20);
        assertThatThrownBy(() -> failed.get(5, TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("EIO"));
        fixture.fs().clear();
        assertThatThrownBy(() -> client.blockStatus(ServerFixture.VOLUME_SIZE, 4096).get(5, TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("EINVAL"));
        assertThat(client.blockStatus(0, 4096).get(5, TimeUnit.SECONDS)).containsExactly(new Extent(0, 4096, false));
        client.close();
    }
}
