package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.ExportProvider;
import io.hablock.nbd.ExportUnavailableException;
import io.hablock.nbd.protocol.NbdFrameDecoder;
import io.hablock.nbd.protocol.NbdOption;
import io.hablock.nbd.protocol.NbdProtocolException;
import io.hablock.nbd.protocol.NbdRequest;
import io.hablock.nbd.protocol.NbdWritePiece;
import io.hablock.nbd.tls.ServerTls;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.slf4j.LoggerFactory;

/**
 * The NBD frame decoder and the handshake's option parsing fed what a hostile client may send:
 * frames that look right (options, requests) mixed with random bytes, some bytes mutated, split
 * into socket reads at random places. Nothing but a protocol error may come out, no frame may
 * exceed its cap, nothing may be allocated for a length the client claims, and every byte
 * received is released.
 */
class DecoderPropertiesTest {
    private static final int MAX_OPTION = 1024;
    private static final int MAX_WHOLE = 4096;
    private static final int MAX_WRITE = 16384;
    private static final int PIECE = 1024;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final int REQUEST_MAGIC = 0x25609513;

    /** A client's byte stream and where the socket reads end. */
    record Stream(byte[] bytes, List<Integer> reads) {
        List<byte[]> chunks() {
            List<byte[]> out = new ArrayList<>();
            int at = 0;
            for (int size : reads) {
                if (at >= bytes.length) {
                    break;
                }
                int end = Math.min(bytes.length, at + size);
                out.add(java.util.Arrays.copyOfRange(bytes, at, end));
                at = end;
            }
            if (at < bytes.length) {
                out.add(java.util.Arrays.copyOfRange(bytes, at, bytes.length));
            }
            return out;
        }

        @Override
        public String toString() {
            return bytes.length + " bytes in " + chunks().size() + " reads: " + io.netty.buffer.ByteBufUtil.hexDump(bytes) + " " + reads;
        }
    }

    @Property(tries = 300)
    void theDecoderYieldsCappedFramesOrAProtocolError(@ForAll("streams") Stream stream) {
        CountingAllocator alloc = new CountingAllocator();
        NbdFrameDecoder decoder = new NbdFrameDecoder(MAX_OPTION, MAX_WHOLE, MAX_WRITE, PIECE);
        List<Object> frames = new ArrayList<>();
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.config().setAllocator(alloc);
        channel.pipeline().addLast(decoder, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                frames.add(msg);
                if (msg instanceof NbdOption o && (o.code() == 7 || o.code() == 1)) {
                    decoder.enterTransmission(); // as the handshake does after GO or EXPORT_NAME
                }
            }
        });
        List<ByteBuf> received = new ArrayList<>();
        long fed = 0;
        for (byte[] chunk : stream.chunks()) {
            ByteBuf in = alloc.buffer(chunk.length).writeBytes(chunk);
            received.add(in);
            fed += chunk.length;
            try {
                channel.writeInbound(in);
            } catch (DecoderException e) {
                assertThat(e.getCause()).as("what the decoder throws").isInstanceOf(NbdProtocolException.class);
            }
        }
        for (Object frame : frames) {
            if (frame instanceof NbdOption o) {
                assertThat(o.data().readableBytes()).as("option data").isLessThanOrEqualTo(MAX_OPTION);
                o.release();
            } else if (frame instanceof NbdRequest r) {
                if (r.payload() != null) {
                    assertThat(r.payload().readableBytes()).as("WRITE payload held whole").isLessThanOrEqualTo(MAX_WHOLE);
                }
                r.release();
            } else if (frame instanceof NbdWritePiece p) {
                assertThat(p.data().readableBytes()).as("piece").isLessThanOrEqualTo(PIECE);
                p.release();
            } else {
                ReferenceCountUtil.release(frame);
            }
        }
        channel.finishAndReleaseAll();
        assertThat(alloc.largest).as("largest buffer asked for, of %d bytes fed", fed).isLessThanOrEqualTo(Math.max(fed, 256L));
        assertThat(received).as("received buffers released").allMatch(b -> b.refCnt() == 0);
    }

    @Property(tries = 200)
    void theHandshakeAnswersOrClosesButNeverFails(@ForAll("streams") Stream stream) {
        Logger log = (Logger) LoggerFactory.getLogger("io.hablock.nbd.connection");
        Level level = log.getLevel();
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        log.addAppender(lines);
        log.setLevel(Level.WARN);
        var io = Executors.newSingleThreadExecutor();
        EmbeddedChannel channel = new EmbeddedChannel();
        try {
            ServerContext context = new ServerContext(NbdServerConfig.defaults(new InetSocketAddress(0)),
                    ServerTls.off(), io);
            channel.pipeline().addLast(new NbdFrameDecoder(MAX_OPTION, MAX_WHOLE, MAX_WRITE, PIECE),
                    new HandshakeHandler(NO_EXPORTS, context));
            byte[] flags = {0, 0, 0, 3};
            channel.writeInbound(Unpooled.wrappedBuffer(flags));
            for (byte[] chunk : stream.chunks()) {
                if (!channel.isOpen()) {
                    break;
                }
                channel.writeInbound(Unpooled.wrappedBuffer(chunk));
            }
            channel.finishAndReleaseAll();
        } finally {
            log.detachAppender(lines);
            log.setLevel(level);
            io.shutdownNow();
        }
        assertThat(lines.list).extracting(ILoggingEvent::getFormattedMessage)
                .noneMatch(m -> m.contains("unexpected error"));
    }

    /** Every export is unknown: GO and INFO get an error, EXPORT_NAME closes, LIST names one. */
    private static final ExportProvider NO_EXPORTS = new ExportProvider() {
        @Override
        public List<ExportInfo> list() {
            return List.of(new ExportInfo("vol", "a volume"));
        }

        @Override
        public BlockDevice open(String name) throws ExportUnavailableException {
            throw new ExportUnavailableException("no such export");
        }
    };

    @Provide
    Arbitrary<Stream> streams() {
        Arbitrary<byte[]> frame = Arbitraries.oneOf(options(), requests(), randomBytes(40));
        Arbitrary<byte[]> body = frame.list().ofMaxSize(12).map(DecoderPropertiesTest::concat);
        Arbitrary<byte[]> mutated = Combinators.combine(body, Arbitraries.integers().between(0, 4).list().ofMaxSize(6),
                Arbitraries.bytes().list().ofSize(6)).as(DecoderPropertiesTest::mutate);
        Arbitrary<List<Integer>> reads = Arbitraries.integers().between(1, 64).list().ofMinSize(1).ofMaxSize(40);
        return Combinators.combine(mutated, reads).as(Stream::new);
    }

    private static Arbitrary<byte[]> options() {
        Arbitrary<Integer> code = Arbitraries.oneOf(Arbitraries.integers().between(1, 12), Arbitraries.integers());
        Arbitrary<byte[]> data = Arbitraries.oneOf(randomBytes(64), nameRequests());
        Arbitrary<Long> claimed = Arbitraries.oneOf(Arbitraries.just(-1L), Arbitraries.longs().between(0, 0xFFFFFFFFL));
        return Combinators.combine(code, data, claimed).as((c, d, len) -> {
            ByteBuffer b = ByteBuffer.allocate(16 + d.length);
            b.putLong(IHAVEOPT).putInt(c).putInt((int) (len < 0 ? d.length : len)).put(d);
            return b.array();
        });
    }

    /** Option data shaped as INFO/GO or META_CONTEXT data, with lengths that may lie. */
    private static Arbitrary<byte[]> nameRequests() {
        return Combinators.combine(Arbitraries.integers(), randomBytes(20), Arbitraries.shorts(), randomBytes(12))
                .as((nameLength, name, count, rest) -> {
                    ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + rest.length);
                    return b.putInt(nameLength % 3 == 0 ? name.length : nameLength).put(name).putShort(count).put(rest).array();
                });
    }

    private static Arbitrary<byte[]> requests() {
        Arbitrary<Integer> type = Arbitraries.oneOf(Arbitraries.integers().between(0, 8), Arbitraries.integers());
        Arbitrary<Long> length = Arbitraries.oneOf(Arbitraries.longs().between(0, 2 * MAX_WRITE),
                Arbitraries.longs().between(0, 0xFFFFFFFFL));
        return Combinators.combine(type, Arbitraries.integers(), Arbitraries.longs(), length, Arbitraries.integers().between(0, 300))
                .as((t, flags, offset, len, sent) -> {
                    ByteBuffer b = ByteBuffer.allocate(28 + sent);
                    b.putInt(REQUEST_MAGIC).putShort((short) (int) flags).putShort((short) (int) t).putLong(offset)
                            .putLong(offset).putInt((int) (long) len);
                    return b.array(); // followed by some payload bytes, as many as were sent
                });
    }

    private static Arbitrary<byte[]> randomBytes(int max) {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(max);
    }

    private static byte[] mutate(byte[] bytes, List<Integer> gaps, List<Byte> values) {
        byte[] out = bytes.clone();
        int at = 0;
        for (int i = 0; i < gaps.size() && out.length > 0; i++) {
            at = (at + gaps.get(i) * 7919) % out.length;
            out[at] = values.get(i);
        }
        return out;
    }

    private static byte[] concat(List<byte[]> parts) {
        int n = parts.stream().mapToInt(p -> p.length).sum();
        ByteBuffer b = ByteBuffer.allocate(n);
        parts.forEach(b::put);
        return b.array();
    }

    /** An allocator that remembers the largest buffer asked of it. */
    private static final class CountingAllocator extends AbstractByteBufAllocator {
        long largest;

        CountingAllocator() {
            super(false);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            largest = Math.max(largest, initialCapacity);
            return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            largest = Math.max(largest, initialCapacity);
            return new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }
}
