package io.hablock.nbd.client;

import io.hablock.nbd.Extent;
import io.hablock.nbd.protocol.Nbd;
import io.hablock.nbd.protocol.TransmissionReplies;
import io.netty.bootstrap.Bootstrap;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.util.collection.LongObjectHashMap;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A pipelined NBD client on a Netty event loop: many requests in flight on one connection,
 * replies matched by cookie, no thread held while the server works, nothing blocking at all:
 * the handshake is {@link NbdHandshake}'s, made as bytes arrive. It asks for structured replies
 * and the {@code base:allocation} context, so that {@link #blockStatus} can tell holes from
 * data, and speaks simple replies with a server that has none. A client may live on the event
 * loop of a server connection it works for, so that a request and its answer cross no thread.
 *
 * <p>Replies are decoded as they arrive: a READ's data goes from the socket's buffer straight
 * into the caller's buffer, whether it comes as a simple reply or in OFFSET_DATA chunks, and an
 * OFFSET_HOLE chunk fills its range with zeros; no other copy is made.
 *
 * <p>Every future completes on the client's event loop, exceptionally with an
 * {@link NbdCommandException} when the server answered with an error, or with an
 * {@link IOException} when the connection ended first (after it is closed: nothing of a failed
 * request is sent any more). A WRITE's buffers are read until its future completes. Requests may
 * be made from any thread. Thread-safe.
 */
public final class NbdPipelinedClient {
    private final Channel channel;
    private final String export;
    private final NbdHandshake.Export info;
    private final String server;
    /** Requests sent and not answered, by cookie; event loop only. */
    private final LongObjectHashMap<Pending> pending = new LongObjectHashMap<>();
    private long nextCookie = 1; // event loop only
    private volatile IOException closedBy;

    /** A request sent and not fully answered: where its answer goes, and what of it came so far. Event loop only. */
    private static final class Pending {
        final int type;
        final long cookie;
        final long offset;
        final long length;
        /** A READ's buffer (its position as given), null for other requests. */
        final ByteBuffer dst;
        /** Completed with null, or with the extents of a BLOCK_STATUS. */
        final CompletableFuture<?> done;
        final long sentAt;
        /** Bytes of a READ the chunks received so far filled (data or zeros). */
        long covered;
        /** The first error a chunk reported (0: none), and its message. */
        int error;
        String message;
        /** A BLOCK_STATUS's extents, once its chunk came. */
        List<Extent> extents;

        Pending(int type, long cookie, long offset, long length, ByteBuffer dst, CompletableFuture<?> done) {
            this.type = type;
            this.cookie = cookie;
            this.offset = offset;
            this.length = length;
            this.dst = dst;
            this.done = done;
            this.sentAt = System.nanoTime();
        }

        @SuppressWarnings("unchecked")
        void succeed(Object result) {
            ((CompletableFuture<Object>) done).complete(result);
        }

        String describe() {
            return NbdClient.describe(type, offset, length);
        }
    }

    /** A client on {@code channel}, already in the transmission phase; its replies go through {@link #replyDecoder()}. */
    NbdPipelinedClient(Channel channel, String export, NbdHandshake.Export info, String server) {
        this.channel = channel;
        this.export = export;
        this.info = info;
        this.server = server;
    }

    /** An event loop group for clients of a program that has none of its own (NIO). */
    public static EventLoopGroup group(int threads, String name) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), NioIoHandler.newFactory());
    }

    /**
     * Connects from {@code localAddress} (null: the one routing picks) on {@code loop}, with a
     * socket of {@code channelType} (the loop's transport, e.g. the class of a channel already on
     * it), and negotiates {@code export}; nothing blocks. The future fails when the server cannot
     * be reached, refuses the export ({@link NbdOptionException}) or takes longer than
     * {@code timeout} to connect or to negotiate.
     */
    public static CompletableFuture<NbdPipelinedClient> connect(InetSocketAddress address, String export,
            Duration timeout, InetAddress localAddress, EventLoop loop, Class<? extends Channel> channelType) {
        return connect(address, export, timeout, localAddress, loop, channelType, null);
    }

    /**
     * As {@link #connect(InetSocketAddress, String, Duration, InetAddress, EventLoop, Class)},
     * through TLS when {@code tls} (a client context) is given: the first option is
     * NBD_OPT_STARTTLS, and a server that refuses it or fails the TLS handshake fails the future.
     */
    public static CompletableFuture<NbdPipelinedClient> connect(InetSocketAddress address, String export,
            Duration timeout, InetAddress localAddress, EventLoop loop, Class<? extends Channel> channelType,
            SslContext tls) {
        String host = address.getAddress() == null ? address.getHostString() : address.getAddress().getHostAddress();
        String server = host + ":" + address.getPort();
        CompletableFuture<NbdPipelinedClient> result = new CompletableFuture<>();
        byte[] name;
        try {
            name = NbdHandshake.exportName(export);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        int millis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        Bootstrap bootstrap = new Bootstrap().group(loop).channel(channelType)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, millis)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new Handshake(export, name, server, result, tls, address));
                    }
                });
        ChannelFuture connecting = localAddress == null ? bootstrap.connect(address)
                : bootstrap.connect(address, new InetSocketAddress(localAddress, 0));
        connecting.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                Throwable cause = f.cause();
                result.completeExceptionally(cause instanceof java.net.BindException ? cause
                        : new IOException("NBD " + server + "/" + export + ": " + cause.getMessage(), cause));
                return;
            }
            f.channel().eventLoop().schedule(() -> {
                if (result.completeExceptionally(new IOException("NBD " + server + "/" + export
                        + ": no handshake within " + millis + " ms"))) {
                    f.channel().close();
                }
            }, millis, TimeUnit.MILLISECONDS);
        });
        return result;
    }

    /** The client's side of the handshake, as bytes arrive; replaced by the reply decoder once GO is acknowledged. */
    private static final class Handshake extends ByteToMessageDecoder {
        private final String export;
        private final String server;
        private final CompletableFuture<NbdPipelinedClient> result;
        private final NbdHandshake.Negotiation negotiation;
        private final SslContext tls;
        private final InetSocketAddress address;
        private boolean greeted;

        Handshake(String export, byte[] name, String server, CompletableFuture<NbdPipelinedClient> result,
                SslContext tls, InetSocketAddress address) {
            this.export = export;
            this.server = server;
            this.result = result;
            this.tls = tls;
            this.address = address;
            this.negotiation = new NbdHandshake.Negotiation(export, name, true, tls != null);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws IOException {
            if (result.isDone()) { // timed out
                in.skipBytes(in.readableBytes());
                return;
            }
            if (!greeted) {
                if (in.readableBytes() < NbdHandshake.GREETING_LENGTH) {
                    return;
                }
                negotiation.greeted(in.readLong(), in.readLong(), in.readUnsignedShort());
                greeted = true;
                ctx.writeAndFlush(Unpooled.wrappedBuffer(negotiation.takeRequest()));
            }
            while (in.readableBytes() >= NbdHandshake.REPLY_HEADER_LENGTH) {
                int at = in.readerIndex();
                int length = negotiation.checkHeader(in.getLong(at), in.getInt(at + 8), in.getInt(at + 16));
                if (in.readableBytes() < NbdHandshake.REPLY_HEADER_LENGTH + length) {
                    return;
                }
                int type = in.getInt(at + 12);
                in.skipBytes(NbdHandshake.REPLY_HEADER_LENGTH);
                byte[] data = new byte[length];
                in.readBytes(data);
                NbdHandshake.Export info;
                try {
                    info = negotiation.accept(type, data);
                } catch (NbdOptionException e) {
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(NbdHandshake.abortRequest()))
                            .addListener(ChannelFutureListener.CLOSE);
                    throw e;
                }
                if (info != null) {
                    NbdPipelinedClient client = new NbdPipelinedClient(ctx.channel(), export, info, server);
                    ctx.pipeline().replace(this, "replies", client.replyDecoder());
                    if (!result.complete(client)) {
                        ctx.close();
                    }
                    return;
                }
                if (negotiation.takeTlsStart()) {
                    startTls(ctx, in);
                    return;
                }
                if (negotiation.hasRequest()) {
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(negotiation.takeRequest()));
                }
            }
        }

        /** After the server's STARTTLS ACK: the TLS handshake, then the next option through it. */
        private void startTls(ChannelHandlerContext ctx, ByteBuf in) throws IOException {
            if (in.isReadable()) {
                throw new IOException("protocol error: " + in.readableBytes() + " bytes in the clear after the STARTTLS ACK");
            }
            SslHandler ssl = tls.newHandler(ctx.alloc(), address.getHostString(), address.getPort());
            ctx.pipeline().addFirst("tls", ssl);
            ssl.handshakeFuture().addListener(f -> {
                if (f.isSuccess()) {
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(negotiation.takeRequest()));
                }
                // A failed handshake reaches exceptionCaught, which fails the future.
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Throwable e = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
                    ? cause.getCause() : cause;
            result.completeExceptionally(e instanceof NbdOptionException ? e
                    : new IOException("NBD " + server + "/" + export + ": " + e.getMessage(), e));
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            result.completeExceptionally(new IOException("NBD " + server + "/" + export
                    + ": the server closed the connection during the handshake"));
            super.channelInactive(ctx);
        }
    }

    public long size() {
        return info.size();
    }

    public boolean isReadOnly() {
        return (info.flags() & Nbd.TFLAG_READ_ONLY) != 0;
    }

    /** Largest payload of one request the server accepts. */
    public int maxPayload() {
        return info.maxPayload();
    }

    /** True when the server selected {@code base:allocation}: {@link #blockStatus} may be asked. */
    public boolean hasBlockStatus() {
        return info.baseAllocation().isPresent();
    }

    /** The loop every future of this client completes on. */
    public EventLoop eventLoop() {
        return channel.eventLoop();
    }

    /** False once the connection ended (closed here, by the server, or by the network). */
    public boolean isOpen() {
        return channel.isActive() && closedBy == null;
    }

    /** Requests sent and not answered yet (on the event loop: exact; elsewhere: a recent value). */
    public int inFlight() {
        return pending.size();
    }

    /** How long the oldest request in flight has waited for its answer, in nanoseconds; 0 when none. Event loop only. */
    public long oldestInFlightNanos() {
        long now = System.nanoTime();
        long oldest = 0;
        for (Pending p : pending.values()) {
            oldest = Math.max(oldest, now - p.sentAt);
        }
        return oldest;
    }

    /**
     * Fills {@code dst}'s remaining bytes from {@code offset} (its position is left as is). With
     * structured replies the read asks for one data chunk (DF): the caller wants the bytes, and
     * the server need not look for runs of zeros to send as holes.
     */
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return send(Nbd.CMD_READ, info.structuredReplies() ? Nbd.CMD_FLAG_DF : 0, offset, dst.remaining(), null,
                dst.duplicate());
    }

    /** Writes the parts' remaining bytes, in order, at {@code offset}, as one request (positions left as they are). */
    public CompletableFuture<Void> write(long offset, ByteBuffer[] parts, boolean fua) {
        long length = 0;
        for (ByteBuffer p : parts) {
            length += p.remaining();
        }
        if (length > info.maxPayload()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("a write of " + length + " bytes is over the "
                    + info.maxPayload() + "-byte payload export '" + export + "' accepts"));
        }
        return send(Nbd.CMD_WRITE, fua ? Nbd.CMD_FLAG_FUA : 0, offset, (int) length, parts, null);
    }

    public CompletableFuture<Void> flush() {
        return send(Nbd.CMD_FLUSH, 0, 0, 0, null, null);
    }

    public CompletableFuture<Void> trim(long offset, int length, boolean fua) {
        return send(Nbd.CMD_TRIM, fua ? Nbd.CMD_FLAG_FUA : 0, offset, length, null, null);
    }

    public CompletableFuture<Void> writeZeroes(long offset, int length, boolean noHole, boolean fua) {
        return send(Nbd.CMD_WRITE_ZEROES, (fua ? Nbd.CMD_FLAG_FUA : 0) | (noHole ? Nbd.CMD_FLAG_NO_HOLE : 0),
                offset, length, null, null);
    }

    /**
     * The server's {@code base:allocation} map from {@code offset}: contiguous extents in order,
     * a hole being a range the server reports unallocated and reading as zeros. It covers at most
     * {@code length} bytes (a BLOCK_STATUS covers at most 4 GiB - 1), and may cover less: the
     * server answers as far as it likes. Only when {@link #hasBlockStatus()}.
     */
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        if (!hasBlockStatus()) {
            return CompletableFuture.failedFuture(new IllegalStateException("the server of export '" + export
                    + "' did not select the " + Nbd.BASE_ALLOCATION + " context"));
        }
        return send(Nbd.CMD_BLOCK_STATUS, 0, offset, Math.min(length, MAX_LENGTH), null, null);
    }

    /** Longest range one request can name (its length is a u32 on the wire). */
    private static final long MAX_LENGTH = 0xffff_ffffL;

    private <T> CompletableFuture<T> send(int type, int flags, long offset, long length, ByteBuffer[] payload, ByteBuffer dst) {
        CompletableFuture<T> done = new CompletableFuture<>();
        EventLoop loop = channel.eventLoop();
        if (loop.inEventLoop()) {
            sendNow(type, flags, offset, length, payload, dst, done);
        } else {
            loop.execute(() -> sendNow(type, flags, offset, length, payload, dst, done));
        }
        return done;
    }

    private void sendNow(int type, int flags, long offset, long length, ByteBuffer[] payload, ByteBuffer dst,
            CompletableFuture<?> done) {
        if (!isOpen()) {
            done.completeExceptionally(closedException());
            return;
        }
        long cookie = nextCookie++;
        pending.put(cookie, new Pending(type, cookie, offset, length, dst, done));
        ByteBuf header = channel.alloc().ioBuffer(Nbd.REQUEST_HEADER_LENGTH);
        header.writeInt(Nbd.REQUEST_MAGIC).writeShort(flags).writeShort(type).writeLong(cookie).writeLong(offset)
                .writeInt((int) length);
        channel.write(header, channel.voidPromise());
        if (payload != null && length > 0) {
            channel.write(Unpooled.wrappedBuffer(payload), channel.voidPromise());
        }
        channel.flush();
    }

    /** Closes the connection; every request not answered fails (once the socket is closed). */
    public void close() {
        close(new IOException("NBD " + server + "/" + export + ": the connection was closed by this client"));
    }

    /** Like {@link #close()}, failing what is in flight with {@code why}. */
    public void close(IOException why) {
        if (closedBy == null) {
            closedBy = why;
        }
        channel.close();
    }

    private IOException closedException() {
        IOException why = closedBy;
        return why != null ? why : new IOException("NBD " + server + "/" + export + ": the server closed the connection");
    }

    @Override
    public String toString() {
        return "NbdPipelinedClient[" + server + "/" + export + (isOpen() ? "" : ", closed") + "]";
    }

    /** The handler that reads this client's replies off its channel. */
    ChannelHandler replyDecoder() {
        return new ReplyDecoder();
    }

    /**
     * Reads replies, simple or structured, completing each request's future once its reply is
     * complete. A READ's data goes from the socket's buffer straight into its buffer as it
     * arrives; every other part of a reply is read once it is all there. A reply that breaks the
     * protocol (a chunk outside its request, an unknown cookie or type) closes the connection.
     */
    private final class ReplyDecoder extends ByteToMessageDecoder {
        /** Largest chunk other than data accepted: a BLOCK_STATUS of 512 Ki extents, or an error and its message. */
        private static final int MAX_CHUNK = 4 << 20;

        private enum State {
            /** Waiting for a reply's or a chunk's header. */
            HEADER,
            /** Receiving READ data into {@link #target}'s buffer. */
            DATA,
            /** After a protocol error: the connection is closing, nothing more is read. */
            BROKEN
        }

        private State state = State.HEADER;
        /** The READ whose data is being received, where in its buffer, how much of it is still to come. */
        private Pending target;
        private int at;
        private int left;
        /** The data being received ends its reply (a simple reply, or a chunk flagged DONE). */
        private boolean lastChunk;

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws IOException {
            while (true) {
                switch (state) {
                    case BROKEN -> {
                        in.skipBytes(in.readableBytes());
                        return;
                    }
                    case DATA -> {
                        if (!receiveData(in)) {
                            return;
                        }
                    }
                    case HEADER -> {
                        if (in.readableBytes() < 4) {
                            return;
                        }
                        int magic = in.getInt(in.readerIndex());
                        boolean complete;
                        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
                            complete = simpleReply(in);
                        } else if (magic == Nbd.STRUCTURED_REPLY_MAGIC && info.structuredReplies()) {
                            complete = chunk(in);
                        } else {
                            throw broken(String.format("reply magic 0x%08x", magic));
                        }
                        if (!complete) {
                            return;
                        }
                    }
                    default -> throw new AssertionError(state);
                }
            }
        }

        /** A simple reply, once its header is there; false while it is not. */
        private boolean simpleReply(ByteBuf in) throws IOException {
            if (in.readableBytes() < TransmissionReplies.SIMPLE_HEADER) {
                return false;
            }
            in.skipBytes(4);
            int error = in.readInt();
            long cookie = in.readLong();
            Pending p = pending.get(cookie);
            if (p == null) {
                throw unknownCookie(cookie);
            }
            if (error != 0) {
                p.error = error;
                finish(p);
            } else if (p.type == Nbd.CMD_READ && p.length > 0) {
                startData(p, 0, (int) p.length, true);
            } else if (p.type == Nbd.CMD_BLOCK_STATUS) {
                throw broken("a simple reply to " + p.describe());
            } else {
                finish(p);
            }
            return true;
        }

        /**
         * A structured reply's chunk: READ data is then received as it comes, anything else once
         * it is all there; false while not enough is there to act on.
         */
        private boolean chunk(ByteBuf in) throws IOException {
            int readable = in.readableBytes();
            if (readable < TransmissionReplies.CHUNK_HEADER) {
                return false;
            }
            int start = in.readerIndex();
            boolean last = (in.getUnsignedShort(start + 4) & Nbd.REPLY_FLAG_DONE) != 0;
            int type = in.getUnsignedShort(start + 6);
            long cookie = in.getLong(start + 8);
            long length = in.getUnsignedInt(start + 16);
            Pending p = pending.get(cookie);
            if (p == null) {
                throw unknownCookie(cookie);
            }
            if (type == Nbd.REPLY_TYPE_OFFSET_DATA) {
                // Only the offset is waited for: the data goes to the buffer as it arrives.
                if (p.type != Nbd.CMD_READ || length <= 8 || length - 8 > p.length) {
                    throw badChunk(p, type, length);
                }
                if (readable < TransmissionReplies.CHUNK_HEADER + 8) {
                    return false;
                }
                long offset = in.getLong(start + TransmissionReplies.CHUNK_HEADER);
                int n = (int) (length - 8);
                in.skipBytes(TransmissionReplies.CHUNK_HEADER + 8);
                startData(p, within(p, offset, n), n, last);
                return true;
            }
            if (length > MAX_CHUNK) {
                throw badChunk(p, type, length);
            }
            if (readable < TransmissionReplies.CHUNK_HEADER + length) {
                return false;
            }
            in.skipBytes(TransmissionReplies.CHUNK_HEADER);
            ByteBuf payload = in.readSlice((int) length);
            switch (type) {
                case Nbd.REPLY_TYPE_NONE -> {
                    if (length != 0 || !last) {
                        throw badChunk(p, type, length);
                    }
                }
                case Nbd.REPLY_TYPE_OFFSET_HOLE -> hole(p, payload);
                case Nbd.REPLY_TYPE_BLOCK_STATUS -> blockStatus(p, payload);
                default -> {
                    if ((type & 0x8000) == 0) {
                        throw badChunk(p, type, length);
                    }
                    error(p, type, payload);
                }
            }
            if (last) {
                finish(p);
            }
            return true;
        }

        /** An OFFSET_HOLE chunk: zeros into the READ's buffer. */
        private void hole(Pending p, ByteBuf payload) throws IOException {
            if (p.type != Nbd.CMD_READ || payload.readableBytes() != 12) {
                throw badChunk(p, Nbd.REPLY_TYPE_OFFSET_HOLE, payload.readableBytes());
            }
            long offset = payload.readLong();
            long n = payload.readUnsignedInt();
            if (n == 0 || n > p.length) {
                throw badChunk(p, Nbd.REPLY_TYPE_OFFSET_HOLE, 12);
            }
            int from = within(p, offset, (int) n);
            zero(p.dst, p.dst.position() + from, (int) n);
            p.covered += n;
        }

        /** A BLOCK_STATUS chunk: the extents it gives, cut at the end of the request. */
        private void blockStatus(Pending p, ByteBuf payload) throws IOException {
            int length = payload.readableBytes();
            if (p.type != Nbd.CMD_BLOCK_STATUS || length < 12 || (length - 4) % 8 != 0 || p.extents != null) {
                throw badChunk(p, Nbd.REPLY_TYPE_BLOCK_STATUS, length);
            }
            int context = payload.readInt();
            if (context != info.baseAllocation().orElseThrow()) {
                throw broken("a BLOCK_STATUS chunk for context " + Integer.toUnsignedString(context)
                        + ", which was not selected");
            }
            List<Extent> extents = new ArrayList<>((length - 4) / 8);
            long offset = p.offset;
            long end = p.offset + p.length;
            while (payload.isReadable() && offset < end) {
                long n = payload.readUnsignedInt();
                int flags = payload.readInt();
                if (n == 0) {
                    throw broken("an extent of length 0 in the answer to " + p.describe());
                }
                // A hole is what reads as zeros without space: both bits (a hole that is not known to read as zeros is data).
                boolean hole = (flags & (Nbd.STATE_HOLE | Nbd.STATE_ZERO)) == (Nbd.STATE_HOLE | Nbd.STATE_ZERO);
                long cut = Math.min(n, end - offset); // the spec lets the last extent run past the request
                extents.add(new Extent(offset, cut, hole));
                offset += cut;
            }
            p.extents = extents;
        }

        /** An ERROR or ERROR_OFFSET chunk (or an error type newer than this client): the first error is the request's. */
        private void error(Pending p, int type, ByteBuf payload) throws IOException {
            int length = payload.readableBytes();
            if (length < 6) {
                throw badChunk(p, type, length);
            }
            int error = payload.readInt();
            int messageLength = payload.readUnsignedShort();
            int extra = type == Nbd.REPLY_TYPE_ERROR_OFFSET ? 8 : 0;
            boolean known = type == Nbd.REPLY_TYPE_ERROR || type == Nbd.REPLY_TYPE_ERROR_OFFSET;
            if (error == 0 || (known ? length != 6 + messageLength + extra : length < 6 + messageLength)) {
                throw badChunk(p, type, length);
            }
            String message = payload.readCharSequence(messageLength, StandardCharsets.UTF_8).toString();
            if (type == Nbd.REPLY_TYPE_ERROR_OFFSET) {
                long offset = payload.readLong();
                within(p, offset, 1);
                message = message + " (at offset " + offset + ")";
            }
            if (p.error == 0) {
                p.error = error;
                p.message = message;
            }
        }

        /** Where {@code [offset, offset + n)} starts in {@code p}'s range; a protocol error when it is not all inside. */
        private int within(Pending p, long offset, int n) throws IOException {
            long from = offset - p.offset;
            if (from < 0 || from + n > p.length) {
                throw broken("a chunk for [" + offset + ", +" + n + ") in the answer to " + p.describe());
            }
            return (int) from;
        }

        private void startData(Pending p, int from, int n, boolean lastOne) {
            target = p;
            at = from;
            left = n;
            lastChunk = lastOne;
            state = State.DATA;
        }

        /** Moves what arrived of the data into the READ's buffer; true once all of it came. */
        private boolean receiveData(ByteBuf in) throws IOException {
            int n = Math.min(left, in.readableBytes());
            if (n > 0) {
                ByteBuffer dst = target.dst;
                ByteBuffer view = dst.duplicate();
                view.position(dst.position() + at).limit(dst.position() + at + n);
                in.readBytes(view);
                at += n;
                left -= n;
                target.covered += n;
            }
            if (left > 0) {
                return false;
            }
            Pending p = target;
            target = null;
            state = State.HEADER;
            if (lastChunk) {
                finish(p);
            }
            return true;
        }

        /** The reply of {@code p} is complete: its future completes with what the chunks said. */
        private void finish(Pending p) throws IOException {
            // A broken answer leaves p in flight: it fails with the connection.
            if (p.error == 0 && p.type == Nbd.CMD_READ && p.covered != p.length) {
                throw broken("the answer to " + p.describe() + " filled " + p.covered + " bytes");
            }
            if (p.error == 0 && p.type == Nbd.CMD_BLOCK_STATUS && p.extents == null) {
                throw broken("the answer to " + p.describe() + " has no BLOCK_STATUS chunk");
            }
            pending.remove(p.cookie);
            if (p.error != 0) {
                p.done.completeExceptionally(new NbdCommandException(p.describe(), p.error, p.message));
            } else {
                p.succeed(p.extents);
            }
        }

        private IOException unknownCookie(long cookie) {
            return broken("a reply for cookie " + cookie + ", which no request in flight has");
        }

        private IOException badChunk(Pending p, int type, long length) {
            return broken("a chunk of type " + type + " and " + length + " bytes in the answer to " + p.describe());
        }

        /** A protocol error: nothing more is read; the connection closes (see {@link #exceptionCaught}). */
        private IOException broken(String what) {
            state = State.BROKEN;
            return new IOException("protocol error from " + server + ": " + what);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Throwable e = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
            close(e instanceof IOException io ? io : new IOException("NBD " + server + "/" + export + ": " + e, e));
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            super.channelInactive(ctx);
            IOException why = closedException();
            if (closedBy == null) {
                closedBy = why;
            }
            List<Pending> failed = new ArrayList<>(pending.values());
            pending.clear();
            target = null;
            for (Pending p : failed) {
                p.done.completeExceptionally(why);
            }
        }
    }

    /** Zeros {@code n} bytes of {@code dst} from {@code from} (an absolute index), without a copy of a zeroed array. */
    private static void zero(ByteBuffer dst, int from, int n) {
        if (dst.hasArray()) {
            java.util.Arrays.fill(dst.array(), dst.arrayOffset() + from, dst.arrayOffset() + from + n, (byte) 0);
            return;
        }
        ByteBuffer view = dst.duplicate();
        view.position(from).limit(from + n);
        while (view.hasRemaining()) {
            view.put(ZEROS.duplicate().limit(Math.min(ZEROS.capacity(), view.remaining())));
        }
    }

    /** What a hole in a direct buffer is filled from. */
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();
}
