package io.hablock.cluster.replication;

import io.hablock.blockstore.Generation;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.UUID;

/** The codecs, fed a byte at a time through EmbeddedChannel. */
class WireCodecTest {
    private static final UUID VOLUME = UUID.fromString("6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f");

    @Test
    void requestsSurviveByteByByteDelivery() {
        ByteBuf wire = Unpooled.buffer();
        byte[] data = "hello, copy".getBytes(StandardCharsets.US_ASCII);
        encodeRequest(wire, new ReplicationRequest(MessageType.WRITE, 7, VOLUME, Generation.of(3), 4096,
                data.length, WireFormat.FLAG_FUA, Unpooled.wrappedBuffer(data)));
        encodeRequest(wire, ReplicationRequest.of(MessageType.WRITE_ZEROES, VOLUME, Generation.of(3), 0, 8192,
                WireFormat.FLAG_MAY_PUNCH).withId(8));
        encodeRequest(wire, ReplicationRequest.of(MessageType.FLUSH, VOLUME, Generation.of(4), 0, 0, 0).withId(9));

        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        while (wire.isReadable()) {
            ch.writeInbound(wire.readRetainedSlice(1));
        }
        wire.release();

        ReplicationRequest write = ch.readInbound();
        assertThat(write.type()).isEqualTo(MessageType.WRITE);
        assertThat(write.requestId()).isEqualTo(7);
        assertThat(write.volume()).isEqualTo(VOLUME);
        assertThat(write.generation()).isEqualTo(Generation.of(3));
        assertThat(write.offset()).isEqualTo(4096);
        assertThat(write.length()).isEqualTo(data.length);
        assertThat(write.fua()).isTrue();
        assertThat(write.payload().toString(StandardCharsets.US_ASCII)).isEqualTo("hello, copy");
        write.payload().release();

        ReplicationRequest zero = ch.readInbound();
        assertThat(zero.type()).isEqualTo(MessageType.WRITE_ZEROES);
        assertThat(zero.mayPunch()).isTrue();
        assertThat(zero.fua()).isFalse();
        assertThat(zero.length()).isEqualTo(8192);
        assertThat(zero.requestId()).isEqualTo(8);

        ReplicationRequest flush = ch.readInbound();
        assertThat(flush.type()).isEqualTo(MessageType.FLUSH);
        assertThat(flush.generation()).isEqualTo(Generation.of(4));
        assertThat(flush.payload().isReadable()).isFalse();
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(ch.isOpen()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void repliesSurviveByteByByteDelivery() {
        ReplicationRequest sums = ReplicationRequest.of(MessageType.CHECKSUMS, VOLUME, Generation.of(0), 0, 4096, 0).withId(1);
        ReplicationRequest write = ReplicationRequest.of(MessageType.TRIM, VOLUME, Generation.of(1), 0, 512, 0).withId(2);
        EmbeddedChannel out = new EmbeddedChannel(ReplyEncoder.INSTANCE);
        out.writeOutbound(ReplicationReply.checksums(sums, new long[] {1, -2, Long.MAX_VALUE}));
        out.writeOutbound(ReplicationReply.refused(write, ReplyStatus.STALE_EPOCH, "epoch 1 < 5\nsecond line"));
        out.writeOutbound(ReplicationReply.ok(write));

        EmbeddedChannel in = new EmbeddedChannel(new ReplyDecoder());
        for (ByteBuf b; (b = out.readOutbound()) != null; ) {
            while (b.isReadable()) {
                in.writeInbound(b.readRetainedSlice(1));
            }
            b.release();
        }
        ReplicationReply a = in.readInbound();
        assertThat(a.type()).isEqualTo(MessageType.CHECKSUMS);
        assertThat(a.requestId()).isEqualTo(1);
        assertThat(a.checksums()).containsExactly(1, -2, Long.MAX_VALUE);
        ReplicationReply b = in.readInbound();
        assertThat(b.status()).isEqualTo(ReplyStatus.STALE_EPOCH);
        assertThat(b.message()).isEqualTo("epoch 1 < 5 second line");
        ReplicationReply c = in.readInbound();
        assertThat(c.status()).isEqualTo(ReplyStatus.OK);
        assertThat(c.requestId()).isEqualTo(2);
        in.finishAndReleaseAll();
    }

    @Test
    void oversizeFrameClosesBeforeBuffering() {
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        ByteBuf prefix = Unpooled.buffer().writeInt(WireFormat.REQUEST_HEADER + WireFormat.MAX_PAYLOAD + 1);
        ch.writeInbound(prefix);
        assertThat(ch.isOpen()).as("closed on the length prefix alone").isFalse();
        assertThat((Object) ch.readInbound()).isNull();
    }

    @Test
    void largestFrameIsAccepted() {
        ByteBuf wire = Unpooled.buffer();
        ByteBuf data = Unpooled.buffer(WireFormat.MAX_PAYLOAD).writerIndex(WireFormat.MAX_PAYLOAD);
        encodeRequest(wire, new ReplicationRequest(MessageType.WRITE, 1, VOLUME, Generation.of(0), 0,
                WireFormat.MAX_PAYLOAD, 0, data));
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        ch.writeInbound(wire);
        ReplicationRequest r = ch.readInbound();
        assertThat(r.payload().readableBytes()).isEqualTo(WireFormat.MAX_PAYLOAD);
        r.payload().release();
        assertThat(ch.isOpen()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void badMagicVersionTypeOrFlagsClose() {
        // wire offsets: 0 length prefix, 4 magic, 8 version, 9 type, 11 low byte of the flags
        for (int corrupt : new int[] {4, 8, 9, 11}) {
            ByteBuf wire = Unpooled.buffer();
            encodeRequest(wire, ReplicationRequest.of(MessageType.FLUSH, VOLUME, Generation.of(1), 0, 0, 0));
            wire.setByte(corrupt, wire.getByte(corrupt) ^ 0x58);
            EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
            ch.writeInbound(wire);
            assertThat(ch.isOpen()).as("corrupt byte %d", corrupt).isFalse();
            assertThat((Object) ch.readInbound()).isNull();
        }
    }

    @Test
    void flushWithAPayloadCloses() {
        ByteBuf wire = Unpooled.buffer();
        encodeRequest(wire, ReplicationRequest.of(MessageType.FLUSH, VOLUME, Generation.of(1), 0, 0, 0));
        wire.setInt(0, WireFormat.REQUEST_HEADER + 1);
        wire.writeByte(0);
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        ch.writeInbound(wire);
        assertThat(ch.isOpen()).isFalse();
        assertThat((Object) ch.readInbound()).isNull();
    }

    @Test
    void writeWhosePayloadDisagreesWithItsLengthCloses() {
        ByteBuf wire = Unpooled.buffer();
        encodeRequest(wire, new ReplicationRequest(MessageType.WRITE, 1, VOLUME, Generation.of(0), 0, 10, 0,
                Unpooled.wrappedBuffer(new byte[4])));
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        ch.writeInbound(wire);
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void errorMessagesAreCutAtACharacterBoundary() {
        String longText = "é".repeat(WireFormat.MAX_MESSAGE);
        byte[] bytes = ReplyEncoder.messageBytes(longText);
        assertThat(bytes.length).isLessThanOrEqualTo(WireFormat.MAX_MESSAGE);
        assertThat(new String(bytes, StandardCharsets.UTF_8)).matches("é+");
    }

    private static void encodeRequest(ByteBuf wire, ReplicationRequest r) {
        RequestEncoder.write(wire, r);
        wire.writeBytes(r.payload());
        r.payload().release();
    }
}
