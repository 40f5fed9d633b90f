package io.hablock.nbd.server;

import io.hablock.nbd.ExportProvider;
import io.hablock.nbd.protocol.NbdFrameDecoder;
import io.hablock.nbd.tls.ServerTls;
import io.hablock.nbd.tls.TlsFiles;
import io.hablock.nbd.tls.TlsMode;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An NBD server on Netty: fixed newstyle handshake, structured replies, pipelined requests.
 * Serves whatever an {@link ExportProvider} offers. Uses the epoll transport where available.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdServer.class);

    /** The lifecycle of the server. */
    private enum State { NEW, RUNNING, STOPPING, STOPPED }

    private final NbdServerConfig config;
    private final ExportProvider exports;
    private final ServerContext context;
    private final EventLoopGroup bossGroup;
    private final EventLoopGroup workerGroup;
    private final ChannelGroup connections = new DefaultChannelGroup("nbd-connections", GlobalEventExecutor.INSTANCE);
    private final boolean epoll;
    private final ConnectionCounter counter;
    private final RateLimitedWarning refusals = new RateLimitedWarning(log, java.time.Duration.ofSeconds(10));
    private State state = State.NEW;
    private Channel listener;

    public NbdServer(NbdServerConfig config, ExportProvider exports) {
        this(config, exports, ServerTls.off());
    }

    /** A server that offers or requires TLS as {@code tls} says. */
    public NbdServer(NbdServerConfig config, ExportProvider exports, ServerTls tls) {
        this.config = config;
        this.exports = exports;
        this.epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.bossGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("nbd-accept", true), io);
        this.workerGroup = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                new DefaultThreadFactory("nbd-loop", true), io);
        ThreadPoolExecutor workers = new ThreadPoolExecutor(config.ioThreads(), config.ioThreads(),
                60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), new DefaultThreadFactory("nbd-io", true));
        this.context = new ServerContext(config, tls, workers);
        this.counter = new ConnectionCounter(config.limits());
    }

    /** Binds the listener; throws a one-line {@link IOException} if the address is taken. */
    public synchronized NbdServer start() throws IOException {
        if (state != State.NEW) {
            throw new IllegalStateException("server already " + state);
        }
        Class<? extends ServerSocketChannel> channelType =
                epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(bossGroup, workerGroup)
                .channel(channelType)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                // Pooled buffers: payloads are recycled instead of allocated (and cleaned) per request.
                .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                // Large reads from the socket: a 1 MiB WRITE arrives in a few syscalls, not sixteen.
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 64 << 10, 1 << 20))
                // sendfile regions count toward the write buffer limit like the bytes they send
                .childOption(ChannelOption.MESSAGE_SIZE_ESTIMATOR, RegionAwareSizeEstimator.INSTANCE)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                        new WriteBufferWaterMark(config.maxPayloadBytes(), 2 * config.maxPayloadBytes()))
                .handler(new Admission())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.add(ch);
                        ch.pipeline()
                                .addLast("guard", new ConnectionGuard(config.limits()))
                                .addLast("flush", new FlushConsolidationHandler(64, true))
                                .addLast("frames", new NbdFrameDecoder(config.maxOptionBytes(),
                                        config.maxPayloadBytes(), config.maxRequestBytes(), NbdServerConfig.PIECE_BYTES))
                                .addLast("handshake", new HandshakeHandler(exports, context));
                    }
                });
        try {
            listener = bootstrap.bind(config.listen()).syncUninterruptibly().channel();
        } catch (Exception e) {
            shutdownThreads();
            state = State.STOPPED;
            if (e instanceof BindException || e.getCause() instanceof BindException
                    || String.valueOf(e.getMessage()).contains("Address already in use")) {
                throw new IOException("cannot listen on " + describe(config.listen()) + ": address already in use", e);
            }
            throw new IOException("cannot listen on " + describe(config.listen()) + ": " + e.getMessage(), e);
        }
        state = State.RUNNING;
        log.info("NBD server listening on {} ({} transport, TLS {})", describe(localAddress()), epoll ? "epoll" : "nio",
                context.tls().mode() == TlsMode.OFF ? "off"
                        : context.tls().mode().name().toLowerCase(java.util.Locale.ROOT) + " on " + TlsFiles.engine());
        return this;
    }

    /**
     * Admits or refuses each accepted connection on the accepting thread, before it is handed to
     * an event loop: a refused one is closed there and then (no byte sent), so a flood of
     * connections past the caps costs the node an accept and a close each, and the event loops
     * serving other clients never see it.
     */
    @ChannelHandler.Sharable
    private final class Admission extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel child = (Channel) msg;
            InetAddress client = ((InetSocketAddress) child.remoteAddress()).getAddress();
            boolean peer = exports.isPeer(client);
            String refusal = counter.admit(client, peer);
            if (refusal != null) {
                refusals.warn("refusing NBD connection from " + client.getHostAddress() + ": " + refusal);
                child.unsafe().closeForcibly();
                return;
            }
            child.closeFuture().addListener(f -> counter.release(client, peer));
            ctx.fireChannelRead(child);
        }
    }

    /**
     * The event loops that serve the connections (epoll where available, else NIO): a device may
     * open its own connections on them, to answer without a thread hop.
     */
    public EventLoopGroup eventLoops() {
        return workerGroup;
    }

    public InetSocketAddress localAddress() {
        return (InetSocketAddress) listener.localAddress();
    }

    /** Bytes of request payloads and replies the connections hold against the memory budget now. */
    public long memoryInUse() {
        return context.memory().used();
    }

    /** The memory budget of all connections together ({@link ConnectionLimits#memoryBytes()}). */
    public long memoryBudget() {
        return context.memory().limit();
    }

    /** Number of open client connections. */
    public int connectionCount() {
        return connections.size();
    }

    /**
     * Stops accepting, lets in-flight requests finish, flushes every connected export and
     * closes the connections (waiting at most the configured grace), then stops the threads.
     */
    @Override
    public synchronized void close() {
        if (state != State.RUNNING) {
            if (state == State.NEW) {
                shutdownThreads();
            }
            state = State.STOPPED;
            return;
        }
        state = State.STOPPING;
        context.beginShutdown();
        listener.close().syncUninterruptibly();
        for (Channel ch : connections) {
            ch.pipeline().fireUserEventTriggered(TransmissionHandler.SHUTDOWN);
        }
        long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
        // Connections still in the handshake have nothing in flight: they simply close.
        for (Channel ch : connections) {
            if (ch.pipeline().get(TransmissionHandler.class) == null) {
                ch.close();
            }
        }
        for (Channel ch : connections) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !ch.closeFuture().awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
                log.warn("connection {} did not finish within the shutdown grace; closing it", ch.remoteAddress());
                ch.close().awaitUninterruptibly();
            }
        }
        shutdownThreads();
        state = State.STOPPED;
        log.info("NBD server stopped");
    }

    private void shutdownThreads() {
        bossGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        // I/O workers hand their results to the event loops, so they stop first.
        ExecutorService io = context.io();
        io.shutdown();
        try {
            if (!io.awaitTermination(5, TimeUnit.SECONDS)) {
                io.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workerGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workerGroup.terminationFuture().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    private static String describe(InetSocketAddress a) {
        return a.getHostString() + ":" + a.getPort();
    }
}
