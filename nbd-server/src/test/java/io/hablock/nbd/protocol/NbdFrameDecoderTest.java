package io.hablock.nbd.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The frame decoder on its own, fed through an {@link EmbeddedChannel} the way TCP delivers
 * bytes: in arbitrary pieces. Whatever the split, the same records must come out, WRITE
 * payloads must be slices of the inbound buffer, and every buffer must end released.
 */
class NbdFrameDecoderTest {
    private static final int MAX_OPTION = 1024;
    /** WRITE payloads up to this come whole. */
    private static final int MAX_WHOLE = 8192;
    /** WRITEs up to this come in pieces; longer ones close the connection. */
    private static final int MAX_WRITE = 64 * 1024;
    private static final int PIECE = 3000;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final int REQUEST_MAGIC = 0x25609513;

    /** What a decoded frame says, without its buffers, so that two decodings compare with equals. */
    private record View(String kind, long a, long b, long c, long d, long e, String payload) {
    }

    // ---- whatever the split, the same records --------------------------------------------------

    @Test
    void optionsSplitAtEveryByteBoundaryDecodeToTheSameRecords() {
        byte[] stream = handshakeStream();
        List<View> whole = decodeOptions(List.of(stream));
        assertThat(whole).hasSize(6); // client flags + 5 options
        for (int split = 1; split < stream.length; split++) {
            List<byte[]> pieces = List.of(Arrays.copyOfRange(stream, 0, split),
                    Arrays.copyOfRange(stream, split, stream.length));
            assertThat(decodeOptions(pieces)).as("split at byte %d", split).isEqualTo(whole);
        }
    }

    @Test
    void requestsSplitAtEveryByteBoundaryDecodeToTheSameRecords() {
        byte[] stream = requestStream();
        List<View> whole = decodeRequests(List.of(stream));
        assertThat(whole).hasSize(8);
        for (int split = 1; split < stream.length; split++) {
            List<byte[]> pieces = List.of(Arrays.copyOfRange(stream, 0, split),
                    Arrays.copyOfRange(stream, split, stream.length));
            assertThat(decodeRequests(pieces)).as("split at byte %d", split).isEqualTo(whole);
        }
    }

    /** As Netty's BinaryMemcacheDecoderTest.shouldHandleNonUniformNetworkBatches: pieces of growing size. */
    @Test
    void nonUniformNetworkBatchesDecodeToTheSameRecords() {
        byte[] options = handshakeStream();
        byte[] requests = requestStream();
        for (int step = 1; step <= 13; step++) {
            assertThat(decodeOptions(batches(options, step))).as("option batches from %d bytes", step)
                    .isEqualTo(decodeOptions(List.of(options)));
            assertThat(decodeRequests(batches(requests, step))).as("request batches from %d bytes", step)
                    .isEqualTo(decodeRequests(List.of(requests)));
        }
    }

    @Test
    void decodedRequestsCarryTheirFieldsAsSent() {
        List<View> views = decodeRequests(List.of(requestStream()));
        // flags and type are two 16-bit fields: FUA on a WRITE must not turn into another command.
        assertThat(views.get(1)).isEqualTo(new View("request", 1, 1, 2, 1L << 40, 700, hex(payload(700))));
        // An unsigned 32-bit length stays positive.
        assertThat(views.get(4)).isEqualTo(new View("request", 0, 4, 5, 0, 0xFFFFFFFFL, null));
        assertThat(views.get(7)).isEqualTo(new View("request", 0x8000, 0xFFFF, -1L, -1L, 1000, null));
    }

    // ---- no copies, no leaks --------------------------------------------------------------------

    @Test
    void writePayloadIsASliceOfTheInboundBufferAndIsReleasedWithTheRequest() {
        NbdFrameDecoder decoder = decoder();
        decoder.enterTransmission();
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        ByteBuf in = Unpooled.wrappedBuffer(request(0, 1, 9, 0, payload(4096)));

        channel.writeInbound(in);
        NbdRequest request = channel.readInbound();

        assertThat(request.payload().hasArray()).isTrue();
        assertThat(request.payload().array()).as("payload shares the inbound buffer's memory").isSameAs(in.array());
        assertThat(ByteBufUtil.getBytes(request.payload())).isEqualTo(payload(4096));
        assertThat(in.refCnt()).as("inbound buffer kept alive by the payload only").isEqualTo(1);
        request.release();
        assertThat(in.refCnt()).as("inbound buffer released with the request").isZero();
        assertThat(channel.finish()).isFalse();
    }

    @Test
    void everyInboundBufferIsReleasedOnceTheRecordsAre() {
        byte[] stream = requestStream();
        for (int step : new int[] {1, 5, 29, stream.length}) {
            NbdFrameDecoder decoder = decoder();
            decoder.enterTransmission();
            EmbeddedChannel channel = new EmbeddedChannel(decoder);
            List<ByteBuf> inbound = new ArrayList<>();
            for (byte[] piece : batches(stream, step)) {
                ByteBuf buf = Unpooled.directBuffer(piece.length).writeBytes(piece);
                inbound.add(buf);
                channel.writeInbound(buf);
            }
            List<NbdRequest> requests = new ArrayList<>();
            for (Object o; (o = channel.readInbound()) != null; ) {
                requests.add((NbdRequest) o);
            }
            assertThat(requests).hasSize(8);
            requests.forEach(NbdRequest::release);
            assertThat(requests).filteredOn(r -> r.payload() != null)
                    .allSatisfy(r -> assertThat(r.payload().refCnt()).isZero());
            assertThat(inbound).as("inbound buffers in pieces of %d", step)
                    .allSatisfy(b -> assertThat(b.refCnt()).isZero());
            assertThat(channel.finish()).isFalse();
        }
    }

    @Test
    void optionDataIsReleasedWithTheOption() {
        EmbeddedChannel channel = new EmbeddedChannel(decoder());
        ByteBuf in = Unpooled.wrappedBuffer(concat(clientFlags(3), option(7, payload(100))));
        channel.writeInbound(in);
        NbdFrameDecoder.ClientFlags flags = channel.readInbound();
        assertThat(flags).isEqualTo(new NbdFrameDecoder.ClientFlags(3));
        NbdOption option = channel.readInbound();
        assertThat(option.code()).isEqualTo(7);
        assertThat(ByteBufUtil.getBytes(option.data())).isEqualTo(payload(100));
        option.release();
        assertThat(in.refCnt()).isZero();
        assertThat(channel.finish()).isFalse();
    }

    // ---- hard caps --------------------------------------------------------------------------

    @Test
    void optionAtTheCapIsAccepted() {
        assertThat(decodeOptions(List.of(concat(clientFlags(1), option(99, payload(MAX_OPTION))))))
                .hasSize(2);
    }

    @Test
    void optionLongerThanTheCapFailsOnItsHeaderAlone() {
        NbdFrameDecoder decoder = decoder();
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        channel.writeInbound(Unpooled.wrappedBuffer(clientFlags(1)));
        ByteBuf header = Unpooled.wrappedBuffer(optionHeader(99, 0xFFFFFFFFL));

        assertThatThrownBy(() -> channel.writeInbound(header))
                .isInstanceOf(DecoderException.class).hasCauseInstanceOf(NbdProtocolException.class);

        assertThat(decoder.state()).isEqualTo(NbdFrameDecoder.State.BAD_MESSAGE);
        assertThat(header.refCnt()).as("nothing kept for the claimed data").isZero();
        assertDiscardsEverythingAfter(channel);
    }

    @Test
    void optionOneByteOverTheCapIsRefused() {
        EmbeddedChannel channel = new EmbeddedChannel(decoder());
        channel.writeInbound(Unpooled.wrappedBuffer(clientFlags(1)));
        assertThatThrownBy(() -> channel.writeInbound(Unpooled.wrappedBuffer(optionHeader(99, MAX_OPTION + 1))))
                .hasCauseInstanceOf(NbdProtocolException.class);
    }

    @Test
    void writeAtTheWholePayloadLimitWaitsForItsPayload() {
        NbdFrameDecoder decoder = decoder();
        decoder.enterTransmission();
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        byte[] whole = request(0, 1, 1, 0, payload(MAX_WHOLE));

        assertThat(channel.writeInbound(Unpooled.wrappedBuffer(whole, 0, whole.length - 1))).isFalse();
        assertThat(channel.writeInbound(Unpooled.wrappedBuffer(whole, whole.length - 1, 1))).isTrue();

        NbdRequest request = channel.readInbound();
        assertThat(request.payload().readableBytes()).isEqualTo(MAX_WHOLE);
        request.release();
        assertThat(channel.finish()).isFalse();
    }

    @Test
    void writeClaimingFourGibibytesFailsOnItsHeaderAlone() {
        NbdFrameDecoder decoder = decoder();
        decoder.enterTransmission();
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        ByteBuf header = Unpooled.wrappedBuffer(requestHeader(0, 1, 1, 0, 0xFFFFFFFFL));

        assertThatThrownBy(() -> channel.writeInbound(header))
                .isInstanceOf(DecoderException.class).hasCauseInstanceOf(NbdProtocolException.class)
                .hasMessageContaining("4294967295");

        assertThat(decoder.state()).isEqualTo(NbdFrameDecoder.State.BAD_MESSAGE);
        assertThat(header.refCnt()).isZero();
        assertDiscardsEverythingAfter(channel);
    }

    @Test
    void writeOneByteOverTheHardLimitFailsOnItsHeaderAlone() {
        NbdFrameDecoder decoder = decoder();
        decoder.enterTransmission();
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        assertThatThrownBy(() -> channel.writeInbound(Unpooled.wrappedBuffer(requestHeader(0, 1, 1, 0, MAX_WRITE + 1))))
                .hasCauseInstanceOf(NbdProtocolException.class);
        assertThat(decoder.state()).isEqualTo(NbdFrameDecoder.State.BAD_MESSAGE);
        assertDiscardsEverythingAfter(channel);
    }

    // ---- WRITEs longer than the whole-payload limit: in pieces ------------------------------------

    /**
     * The request comes first, without payload, then whole pieces in order as their bytes arrive
     * (the last one shorter), then the next request: whatever the split.
     */
    @Test
    void longWriteComesAsItsRequestThenPiecesInOrder() {
        int length = 3 * PIECE + 1234;
        byte[] payload = payload(length);
        byte[] stream = concat(request(1, 1, 5, 4096, payload), requestHeader(0, 0, 6, 0, 512));

        List<View> whole = decodeRequests(List.of(stream));

        assertThat(whole).extracting(View::kind)
                .containsExactly("request", "piece", "piece", "piece", "piece", "request");
        assertThat(whole.get(0)).isEqualTo(new View("request", 1, 1, 5, 4096, length, null));
        assertThat(whole.subList(1, 5)).extracting(View::a).containsExactly(
                (long) PIECE, (long) PIECE, (long) PIECE, 1234L);
        assertThat(whole.subList(1, 5)).extracting(View::b).containsExactly(0L, 0L, 0L, 1L);
        assertThat(whole.subList(1, 5).stream().map(View::payload).reduce("", String::concat)).isEqualTo(hex(payload));
        for (int step : new int[] {1, 7, 100, PIECE - 1, PIECE + 1}) {
            assertThat(decodeRequests(batches(stream, step))).as("batches from %d bytes", step).isEqualTo(whole);
        }
    }

    /**
     * A piece holds the received buffers it covers, not the cumulation of everything received: once
     * it is released they are free, although the bytes after them are still being gathered. (A
     * slice of the cumulation would keep the whole payload alive until its very end.)
     */
    @Test
    void aReleasedPieceFreesTheBuffersItCovered() {
        NbdFrameDecoder decoder = decoder();
        decoder.enterTransmission();
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        byte[] payload = payload(4 * PIECE);
        channel.writeInbound(Unpooled.wrappedBuffer(requestHeader(0, 1, 1, 0, payload.length)));
        NbdRequest request = channel.readInbound();
        assertThat(request.payloadFollows()).isTrue();

        List<ByteBuf> inbound = new ArrayList<>();
        List<NbdWritePiece> pieces = new ArrayList<>();
        int socketRead = 700; // does not divide the piece size: the cumulation is never used up
        for (int at = 0; at < payload.length; at += socketRead) {
            ByteBuf buf = Unpooled.directBuffer(socketRead).writeBytes(payload, at, Math.min(socketRead, payload.length - at));
            inbound.add(buf);
            channel.writeInbound(buf);
            for (Object o; (o = channel.readInbound()) != null; ) {
                pieces.add((NbdWritePiece) o);
            }
            if (pieces.size() == 1 && inbound.size() == 5) {
                pieces.get(0).release();
                assertThat(inbound.subList(0, 4)).as("buffers wholly inside the first piece")
                        .allSatisfy(b -> assertThat(b.refCnt()).isZero());
                assertThat(inbound.get(4).refCnt()).as("buffer that holds bytes of the second piece").isPositive();
            }
        }

        assertThat(pieces).hasSize(4);
        assertThat(pieces.get(0).data().refCnt()).isZero();
        assertThat(pieces).extracting(NbdWritePiece::last).containsExactly(false, false, false, true);
        assertThat(ByteBufUtil.getBytes(pieces.get(3).data())).isEqualTo(Arrays.copyOfRange(payload, 3 * PIECE, 4 * PIECE));
        pieces.subList(1, 4).forEach(NbdWritePiece::release);
        assertThat(inbound).allSatisfy(b -> assertThat(b.refCnt()).isZero());
        assertThat(channel.finish()).isFalse();
    }

    @Test
    void commandsWithoutPayloadMayClaimAnyLength() {
        byte[] stream = concat(requestHeader(0, 4, 1, 0, 0xFFFFFFFFL), requestHeader(0, 6, 2, 0, 0x80000000L),
                requestHeader(0, 0, 3, 0, 512));
        assertThat(decodeRequests(List.of(stream))).extracting(View::e)
                .containsExactly(0xFFFFFFFFL, 0x80000000L, 512L);
    }

    @Test
    void badOptionMagicFails() {
        NbdFrameDecoder decoder = decoder();
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        byte[] bad = option(1, payload(3));
        bad[0] ^= 0x01;
        assertThatThrownBy(() -> channel.writeInbound(Unpooled.wrappedBuffer(concat(clientFlags(1), bad))))
                .hasCauseInstanceOf(NbdProtocolException.class);
        assertThat(decoder.state()).isEqualTo(NbdFrameDecoder.State.BAD_MESSAGE);
        assertDiscardsEverythingAfter(channel);
    }

    @Test
    void badRequestMagicFails() {
        NbdFrameDecoder decoder = decoder();
        decoder.enterTransmission();
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        byte[] bad = requestHeader(0, 0, 1, 0, 512);
        bad[3] ^= 0x01;
        assertThatThrownBy(() -> channel.writeInbound(Unpooled.wrappedBuffer(bad)))
                .hasCauseInstanceOf(NbdProtocolException.class);
        assertThat(decoder.state()).isEqualTo(NbdFrameDecoder.State.BAD_MESSAGE);
        assertDiscardsEverythingAfter(channel);
    }

    // ---- the switch to transmission --------------------------------------------------------------

    /**
     * A client may send NBD_OPT_GO and its first requests in one packet. The decoder hands each
     * frame on before it decodes the next, so the handshake handler switches it to requests in time.
     */
    @Test
    void goAndTheFirstRequestsInOnePacketAreSplitAtTheSwitch() {
        NbdFrameDecoder decoder = decoder();
        EmbeddedChannel channel = new EmbeddedChannel(decoder, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof NbdOption option && option.code() == 7) {
                    decoder.enterTransmission();
                }
                ctx.fireChannelRead(msg);
            }
        });
        byte[] packet = concat(clientFlags(3), option(8, new byte[0]), option(7, payload(10)),
                request(0, 1, 1, 0, payload(512)), requestHeader(0, 0, 2, 0, 512));

        channel.writeInbound(Unpooled.wrappedBuffer(packet));

        List<View> views = drain(channel);
        assertThat(views).extracting(View::kind)
                .containsExactly("flags", "option", "option", "request", "request");
        assertThat(channel.finish()).isFalse();
    }

    // ---- helpers ------------------------------------------------------------------------------

    private static NbdFrameDecoder decoder() {
        return new NbdFrameDecoder(MAX_OPTION, MAX_WHOLE, MAX_WRITE, PIECE);
    }

    private static void assertDiscardsEverythingAfter(EmbeddedChannel channel) {
        drain(channel); // what was decoded before the violation (the client flags)
        ByteBuf more = Unpooled.wrappedBuffer(requestHeader(0, 0, 1, 0, 512));
        assertThat(channel.writeInbound(more)).as("nothing decoded after a protocol violation").isFalse();
        assertThat(more.refCnt()).isZero();
        channel.finishAndReleaseAll();
    }

    private static List<View> decodeOptions(List<byte[]> pieces) {
        return decode(decoder(), pieces);
    }

    private static List<View> decodeRequests(List<byte[]> pieces) {
        NbdFrameDecoder decoder = decoder();
        decoder.enterTransmission();
        return decode(decoder, pieces);
    }

    private static List<View> decode(NbdFrameDecoder decoder, List<byte[]> pieces) {
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        for (byte[] piece : pieces) {
            channel.writeInbound(Unpooled.wrappedBuffer(piece));
        }
        List<View> views = drain(channel);
        assertThat(channel.finish()).as("nothing left over").isFalse();
        return views;
    }

    /** Reads every decoded frame, turns it into a {@link View} and releases it. */
    private static List<View> drain(EmbeddedChannel channel) {
        List<View> views = new ArrayList<>();
        for (Object o; (o = channel.readInbound()) != null; ) {
            if (o instanceof NbdFrameDecoder.ClientFlags f) {
                views.add(new View("flags", f.flags(), 0, 0, 0, 0, null));
            } else if (o instanceof NbdWritePiece piece) {
                views.add(new View("piece", piece.data().readableBytes(), piece.last() ? 1 : 0, 0, 0, 0,
                        ByteBufUtil.hexDump(piece.data())));
                piece.release();
            } else if (o instanceof NbdOption opt) {
                views.add(new View("option", opt.code(), 0, 0, 0, 0, ByteBufUtil.hexDump(opt.data())));
                opt.release();
            } else {
                NbdRequest r = (NbdRequest) o;
                String payload = r.payload() == null ? null : ByteBufUtil.hexDump(r.payload());
                views.add(new View("request", r.flags(), r.type(), r.cookie(), r.offset(), r.length(), payload));
                r.release();
            }
        }
        return views;
    }

    /** Client flags, then options: empty, with data, unknown, at the cap of a sane size. */
    private static byte[] handshakeStream() {
        return concat(clientFlags(3), option(8, new byte[0]),
                option(6, "\0\0\0\3vol\0\1\0\3".getBytes(StandardCharsets.ISO_8859_1)),
                option(0xdeadbeef, payload(100)), option(10, payload(300)), option(2, new byte[0]));
    }

    /** Requests of every shape: with and without payload, zero-length, huge lengths, odd values. */
    private static byte[] requestStream() {
        return concat(requestHeader(0, 0, 1, 4096, 512),
                request(1, 1, 2, 1L << 40, payload(700)),
                requestHeader(0, 3, 3, 0, 0),
                request(0, 1, 4, 0, new byte[0]),
                requestHeader(0, 4, 5, 0, 0xFFFFFFFFL),
                requestHeader(8, 7, 6, 512, 4096),
                requestHeader(0, 2, 7, 0, 0),
                requestHeader(0x8000, 0xFFFF, -1L, -1L, 1000));
    }

    private static List<byte[]> batches(byte[] stream, int firstSize) {
        List<byte[]> out = new ArrayList<>();
        int size = firstSize;
        for (int pos = 0; pos < stream.length; pos += size, size++) {
            out.add(Arrays.copyOfRange(stream, pos, Math.min(stream.length, pos + size)));
        }
        return out;
    }

    private static byte[] clientFlags(int flags) {
        return Unpooled.buffer(4).writeInt(flags).array();
    }

    private static byte[] optionHeader(int code, long length) {
        return Unpooled.buffer(16).writeLong(IHAVEOPT).writeInt(code).writeInt((int) length).array();
    }

    private static byte[] option(int code, byte[] data) {
        return concat(optionHeader(code, data.length), data);
    }

    private static byte[] requestHeader(int flags, int type, long cookie, long offset, long length) {
        return Unpooled.buffer(28).writeInt(REQUEST_MAGIC).writeShort(flags).writeShort(type).writeLong(cookie)
                .writeLong(offset).writeInt((int) length).array();
    }

    private static byte[] request(int flags, int type, long cookie, long offset, byte[] payload) {
        return concat(requestHeader(flags, type, cookie, offset, payload.length), payload);
    }

    private static byte[] payload(int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + 7);
        }
        return b;
    }

    private static String hex(byte[] b) {
        return ByteBufUtil.hexDump(b);
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuf all = Unpooled.buffer();
        for (byte[] p : parts) {
            all.writeBytes(p);
        }
        return ByteBufUtil.getBytes(all);
    }
}
