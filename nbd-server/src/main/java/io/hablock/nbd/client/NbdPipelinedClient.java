package io.hablock.nbd.client;

import io.hablock.nbd.protocol.Nbd;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.collection.LongObjectHashMap;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A pipelined NBD client on a Netty event loop: many requests in flight on one connection,
 * replies matched by cookie, no thread held while the server works, nothing blocking at all:
 * the handshake is {@link NbdClient}'s ({@code NBD_OPT_GO}, simple replies), made as bytes
 * arrive. A client may live on the event loop of a server connection it works for, so that a
 * request and its answer cross no thread.
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

    private record Pending(int type, long offset, int length, ByteBuffer dst, CompletableFuture<Void> done, long sentAt) {
    }

    private NbdPipelinedClient(Channel channel, String export, NbdHandshake.Export info, String server) {
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
                        ch.pipeline().addLast(new Handshake(export, name, server, result));
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
        private final byte[] name;
        private final String server;
        private final CompletableFuture<NbdPipelinedClient> result;
        private final NbdHandshake.GoReplies replies;
        private boolean greeted;

        Handshake(String export, byte[] name, String server, CompletableFuture<NbdPipelinedClient> result) {
            this.export = export;
            this.name = name;
            this.server = server;
            this.result = result;
            this.replies = new NbdHandshake.GoReplies(export);
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
                int flags = NbdHandshake.checkGreeting(in.readLong(), in.readLong(), in.readUnsignedShort());
                greeted = true;
                ctx.writeAndFlush(Unpooled.wrappedBuffer(NbdHandshake.goRequest(flags, name)));
            }
            while (in.readableBytes() >= NbdHandshake.REPLY_HEADER_LENGTH) {
                int at = in.readerIndex();
                int length = replies.checkHeader(in.getLong(at), in.getInt(at + 8), in.getInt(at + 16));
                if (in.readableBytes() < NbdHandshake.REPLY_HEADER_LENGTH + length) {
                    return;
                }
                int type = in.getInt(at + 12);
                in.skipBytes(NbdHandshake.REPLY_HEADER_LENGTH);
                byte[] data = new byte[length];
                in.readBytes(data);
                NbdHandshake.Export info;
                try {
                    info = replies.accept(type, data);
                } catch (NbdOptionException e) {
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(NbdHandshake.abortRequest()))
                            .addListener(ChannelFutureListener.CLOSE);
                    throw e;
                }
                if (info != null) {
                    NbdPipelinedClient client = new NbdPipelinedClient(ctx.channel(), export, info, server);
                    ctx.pipeline().replace(this, "replies", client.new ReplyDecoder());
                    if (!result.complete(client)) {
                        ctx.close();
                    }
                    return;
                }
            }
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
            oldest = Math.max(oldest, now - p.sentAt());
        }
        return oldest;
    }

    /** Fills {@code dst}'s remaining bytes from {@code offset} (its position is left as is). */
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return send(Nbd.CMD_READ, 0, offset, dst.remaining(), null, dst.duplicate());
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

    private CompletableFuture<Void> send(int type, int flags, long offset, int length, ByteBuffer[] payload, ByteBuffer dst) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        EventLoop loop = channel.eventLoop();
        if (loop.inEventLoop()) {
            sendNow(type, flags, offset, length, payload, dst, done);
        } else {
            loop.execute(() -> sendNow(type, flags, offset, length, payload, dst, done));
        }
        return done;
    }

    private void sendNow(int type, int flags, long offset, int length, ByteBuffer[] payload, ByteBuffer dst,
            CompletableFuture<Void> done) {
        if (!isOpen()) {
            done.completeExceptionally(closedException());
            return;
        }
        long cookie = nextCookie++;
        pending.put(cookie, new Pending(type, offset, length, dst, done, System.nanoTime()));
        ByteBuf header = channel.alloc().ioBuffer(Nbd.REQUEST_HEADER_LENGTH);
        header.writeInt(Nbd.REQUEST_MAGIC).writeShort(flags).writeShort(type).writeLong(cookie).writeLong(offset).writeInt(length);
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

    /** Reads replies, completing each request's future; a READ's data goes straight into its buffer. */
    private final class ReplyDecoder extends ByteToMessageDecoder {
        private static final int HEADER = 16;
        /** The READ whose data is being received, and how much of it is still to come. */
        private Pending reading;
        private int readingLeft;

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws IOException {
            while (true) {
                if (reading != null) {
                    int n = Math.min(readingLeft, in.readableBytes());
                    ByteBuffer dst = reading.dst();
                    int at = reading.length() - readingLeft;
                    ByteBuffer view = dst.duplicate();
                    view.position(dst.position() + at).limit(dst.position() + at + n);
                    in.readBytes(view);
                    readingLeft -= n;
                    if (readingLeft > 0) {
                        return;
                    }
                    Pending done = reading;
                    reading = null;
                    done.done().complete(null);
                }
                if (in.readableBytes() < HEADER) {
                    return;
                }
                int magic = in.readInt();
                int error = in.readInt();
                long cookie = in.readLong();
                if (magic != Nbd.SIMPLE_REPLY_MAGIC) {
                    throw new IOException(String.format("protocol error from %s: reply magic 0x%08x", server, magic));
                }
                Pending p = pending.remove(cookie);
                if (p == null) {
                    throw new IOException("protocol error from " + server + ": a reply for cookie " + cookie
                            + ", which no request in flight has");
                }
                if (error != 0) {
                    p.done().completeExceptionally(new NbdCommandException(NbdClient.describe(p.type(), p.offset(), p.length()), error));
                } else if (p.type() == Nbd.CMD_READ && p.length() > 0) {
                    reading = p;
                    readingLeft = p.length();
                } else {
                    p.done().complete(null);
                }
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            close(cause instanceof IOException io ? io
                    : new IOException("NBD " + server + "/" + export + ": " + cause, cause));
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
            if (reading != null) {
                failed.add(reading);
                reading = null;
            }
            for (Pending p : failed) {
                p.done().completeExceptionally(why);
            }
        }
    }
}
