package io.hablock.cluster.replication;

import io.hablock.cluster.security.ClusterTls;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.GlobalEventExecutor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Receives replication requests from volume owners and applies them to this node's copies, found
 * through a {@link CopyResolver}. Fencing: a request whose generation is below the copy's persisted
 * one is refused (STALE_EPOCH, STALE_GENERATION) and changes nothing; a higher one is persisted before the
 * request is applied. Disk work runs on a few threads, in order per volume.
 */
public final class ReplicationServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicationServer.class);

    private enum State {
        NEW,
        RUNNING,
        STOPPED
    }

    /** A connection that has not finished its TLS handshake by then is closed. */
    private static final long HANDSHAKE_TIMEOUT_MS = 10_000;

    private final InetSocketAddress bindAddress;
    private final CopyApplier applier;
    private final SslContext tls;
    private final ChangeAuthorizer authorizer;
    private final OrderedLanes lanes;
    private final EventLoopGroup acceptGroup;
    private final EventLoopGroup ioGroup;
    private final ChannelGroup connections =
            new DefaultChannelGroup("replication-connections", GlobalEventExecutor.INSTANCE);
    private State state = State.NEW; // guarded by this
    private Channel listener; // guarded by this

    /** A server with 2 disk threads. */
    public ReplicationServer(InetSocketAddress bindAddress, CopyResolver copies, ClusterTls tls, ChangeAuthorizer authorizer) {
        this(bindAddress, copies, tls, authorizer, 2);
    }

    /**
     * @param tls this node's identity: clients must present a certificate of the same cluster CA
     * @param authorizer who may change which volume (its owner)
     * @param diskThreads threads applying requests; one volume always uses the same one
     */
    public ReplicationServer(InetSocketAddress bindAddress, CopyResolver copies, ClusterTls tls, ChangeAuthorizer authorizer,
            int diskThreads) {
        this.bindAddress = Objects.requireNonNull(bindAddress, "bindAddress");
        this.tls = Objects.requireNonNull(tls, "tls").serverContext();
        this.authorizer = Objects.requireNonNull(authorizer, "authorizer");
        this.applier = new CopyApplier(Objects.requireNonNull(copies, "copies"));
        this.lanes = new OrderedLanes(diskThreads, "repl-disk");
        this.acceptGroup = Transports.group(1, "repl-accept");
        this.ioGroup = Transports.group(1, "repl-loop");
    }

    /** Binds the listener; a taken address fails with a one-line {@link IOException}. */
    public synchronized ReplicationServer start() throws IOException {
        if (state != State.NEW) {
            throw new IllegalStateException("replication server already " + state);
        }
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(acceptGroup, ioGroup)
                .channel(Transports.serverSocketChannel())
                .option(ChannelOption.SO_BACKLOG, 128)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR,
                        new AdaptiveRecvByteBufAllocator(4096, 64 << 10, 1 << 20))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.add(ch);
                        ch.pipeline()
                                .addLast("tls", handshakeWithin(tls.newHandler(ch.alloc()), HANDSHAKE_TIMEOUT_MS))
                                .addLast("flush", new FlushConsolidationHandler(64, true))
                                .addLast("replies", ReplyEncoder.INSTANCE)
                                .addLast("requests", new RequestDecoder())
                                .addLast("apply", new RequestHandler(lanes, applier, authorizer));
                    }
                });
        try {
            listener = bootstrap.bind(bindAddress).syncUninterruptibly().channel();
        } catch (Exception e) {
            stopThreads();
            state = State.STOPPED;
            String why = e instanceof BindException || e.getCause() instanceof BindException
                    || String.valueOf(e.getMessage()).contains("Address already in use")
                    ? "address already in use" : String.valueOf(e.getMessage());
            throw new IOException("cannot listen for replication on "
                    + ReplicationException.describe(bindAddress) + ": " + why, e);
        }
        state = State.RUNNING;
        LOG.info("replication server listening on {} ({} transport)",
                ReplicationException.describe(localAddress()), Transports.name());
        return this;
    }

    /** A TLS handler that closes its connection when the handshake takes longer than {@code ms} (even one never begun). */
    private static SslHandler handshakeWithin(SslHandler h, long ms) {
        h.setHandshakeTimeoutMillis(ms);
        return h;
    }

    /** The bound address (with the actual port if 0 was asked for). */
    public synchronized InetSocketAddress localAddress() {
        if (listener == null) {
            throw new IllegalStateException("replication server not started");
        }
        return (InetSocketAddress) listener.localAddress();
    }

    /**
     * Stops accepting, closes every connection (requests in flight get no reply), lets queued disk
     * work finish, and stops the threads. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (state == State.STOPPED) {
            return;
        }
        if (state == State.RUNNING) {
            listener.close().syncUninterruptibly();
            connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        state = State.STOPPED;
        stopThreads();
        LOG.info("replication server on {} stopped", ReplicationException.describe(bindAddress));
    }

    private void stopThreads() {
        acceptGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        lanes.close();
        ioGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        ioGroup.terminationFuture().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
}
