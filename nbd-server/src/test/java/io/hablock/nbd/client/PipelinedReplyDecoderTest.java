package io.hablock.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nbd.Extent;
import io.hablock.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The pipelined client's reply decoding, fed bytes a few at a time: what hablock's own server
 * never sends (ERROR_OFFSET, chunks of two replies interleaved, an extent past the request, a
 * hole that does not read as zeros) and replies that break the protocol. The client's traffic
 * against real servers is tested in {@link NbdPipelinedClientTest} and {@link NbdkitInteropTest}.
 */
class PipelinedReplyDecoderTest {
    private static final int CONTEXT = 7;
    private final EmbeddedChannel channel = new EmbeddedChannel();
    private final NbdPipelinedClient client = new NbdPipelinedClient(channel, "x",
            new NbdHandshake.Export(1L << 30, Nbd.TFLAG_HAS_FLAGS, 1, 4096, 32 << 20, true, OptionalInt.of(CONTEXT)),
            "test");

    PipelinedReplyDecoderTest() {
        channel.pipeline().addLast(client.replyDecoder());
    }

    /** The cookie of the request the client just sent. */
    private long sentCookie() {
        ByteBuf header = channel.readOutbound();
        try {
            assertThat(header.getInt(0)).isEqualTo(Nbd.REQUEST_MAGIC);
            return header.getLong(8);
        } finally {
            header.release();
        }
    }

    /** Feeds {@code bytes} to the client 3 at a time, as a slow network would. */
    private void receive(ByteBuf bytes) {
        while (bytes.isReadable()) {
            channel.writeInbound(bytes.readRetainedSlice(Math.min(3, bytes.readableBytes())));
        }
        bytes.release();
        channel.runPendingTasks(); // a close's channelInactive, queued on the embedded loop
    }

    private static ByteBuf chunk(ByteBuf out, long cookie, boolean done, int type, byte[] payload) {
        return out.writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(done ? Nbd.REPLY_FLAG_DONE : 0).writeShort(type)
                .writeLong(cookie).writeInt(payload.length).writeBytes(payload);
    }

    private static byte[] data(long offset, byte[] data) {
        return ByteBuffer.allocate(8 + data.length).putLong(offset).put(data).array();
    }

    private static byte[] hole(long offset, int length) {
        return ByteBuffer.allocate(12).putLong(offset).putInt(length).array();
    }

    @Test
    void chunksOfTwoReadsInterleavedFillEachBufferDataInPlaceHolesWithZeros() throws Exception {
        ByteBuffer first = ByteBuffer.allocateDirect(8192);
        ByteBuffer second = ByteBuffer.allocate(4096);
        for (ByteBuffer b : List.of(first, second)) {
            while (b.hasRemaining()) {
                b.put((byte) 0xee);
            }
            b.clear();
        }
        CompletableFuture<Void> a = client.read(1 << 20, first);
        long ca = sentCookie();
        CompletableFuture<Void> b = client.read(0, second);
        long cb = sentCookie();
        byte[] head = new byte[100];
        Arrays.fill(head, (byte) 1);
        byte[] tail = new byte[4096];
        Arrays.fill(tail, (byte) 2);
        byte[] all = new byte[4096];
        Arrays.fill(all, (byte) 3);
        ByteBuf wire = Unpooled.buffer();
        chunk(wire, ca, false, Nbd.REPLY_TYPE_OFFSET_DATA, data((1 << 20) + 4096, tail)); // out of order
        chunk(wire, cb, false, Nbd.REPLY_TYPE_OFFSET_DATA, data(0, all));
        chunk(wire, ca, false, Nbd.REPLY_TYPE_OFFSET_HOLE, hole((1 << 20) + 100, 4096 - 100));
        chunk(wire, cb, true, Nbd.REPLY_TYPE_NONE, new byte[0]);
        chunk(wire, ca, true, Nbd.REPLY_TYPE_OFFSET_DATA, data(1 << 20, head));
        receive(wire);

        assertThat(a).isCompleted();
        assertThat(b).isCompleted();
        byte[] expected = new byte[8192];
        System.arraycopy(head, 0, expected, 0, 100);
        System.arraycopy(tail, 0, expected, 4096, 4096);
        byte[] got = new byte[8192];
        first.get(got);
        assertThat(got).isEqualTo(expected);
        assertThat(second.array()).isEqualTo(all);
        assertThat(client.inFlight()).isZero();
    }

    @Test
    void anErrorOffsetChunkFailsItsRequestWithTheMessageAndTheOffsetAndTheConnectionGoesOn() {
        CompletableFuture<Void> read = client.read(4096, ByteBuffer.allocate(8192));
        long cookie = sentCookie();
        byte[] message = "bad sector".getBytes(StandardCharsets.UTF_8);
        ByteBuf wire = Unpooled.buffer();
        chunk(wire, cookie, false, Nbd.REPLY_TYPE_OFFSET_DATA, data(4096, new byte[4096]));
        chunk(wire, cookie, false, Nbd.REPLY_TYPE_ERROR_OFFSET, ByteBuffer.allocate(14 + message.length)
                .putInt(5).putShort((short) message.length).put(message).putLong(8192).array());
        chunk(wire, cookie, true, Nbd.REPLY_TYPE_NONE, new byte[0]);
        receive(wire);

        assertThat(read).isCompletedExceptionally();
        assertThatThrownBy(() -> read.get(1, TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("EIO"))
                .hasMessageContaining("bad sector (at offset 8192)");
        assertThat(client.isOpen()).isTrue();
        assertThat(client.inFlight()).isZero();
    }

    @Test
    void blockStatusEndsAtTheRequestsEndAndAHoleThatMayNotReadAsZerosIsData() throws Exception {
        CompletableFuture<List<Extent>> status = client.blockStatus(4096, 3 * 4096);
        long cookie = sentCookie();
        ByteBuf wire = Unpooled.buffer();
        chunk(wire, cookie, true, Nbd.REPLY_TYPE_BLOCK_STATUS, ByteBuffer.allocate(4 + 3 * 8).putInt(CONTEXT)
                .putInt(4096).putInt(Nbd.STATE_HOLE)
                .putInt(4096).putInt(Nbd.STATE_HOLE | Nbd.STATE_ZERO)
                .putInt(1 << 20).putInt(0).array());
        receive(wire);

        assertThat(status.get(1, TimeUnit.SECONDS)).containsExactly(new Extent(4096, 4096, false), new Extent(8192, 4096, true),
                new Extent(12288, 4096, false));
    }

    @Test
    void aChunkOutsideItsRequestClosesTheConnectionAndFailsEveryRequestInFlight() {
        CompletableFuture<Void> read = client.read(0, ByteBuffer.allocate(4096));
        long cookie = sentCookie();
        CompletableFuture<Void> flush = client.flush();
        sentCookie();
        ByteBuf wire = Unpooled.buffer();
        chunk(wire, cookie, true, Nbd.REPLY_TYPE_OFFSET_HOLE, hole(4096, 4096));
        receive(wire);

        assertThat(client.isOpen()).isFalse();
        for (CompletableFuture<Void> f : List.of(read, flush)) {
            assertThatThrownBy(() -> f.get(1, TimeUnit.SECONDS)).hasMessageContaining("protocol error from test: a chunk for [4096, +4096)");
        }
    }

    @Test
    void aReadAnsweredDoneBeforeAllOfItCameIsAProtocolError() {
        CompletableFuture<Void> read = client.read(0, ByteBuffer.allocate(8192));
        long cookie = sentCookie();
        ByteBuf wire = Unpooled.buffer();
        chunk(wire, cookie, true, Nbd.REPLY_TYPE_OFFSET_DATA, data(0, new byte[4096]));
        receive(wire);

        assertThatThrownBy(() -> read.get(1, TimeUnit.SECONDS)).hasMessageContaining("filled 4096 bytes");
        assertThat(client.isOpen()).isFalse();
    }
}
