package io.hablock.cluster.replication;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One pipelined connection to one peer, from connect to close; never reused after it closes (the
 * client makes a new one). Touched only on the client's event loop.
 */
final class PeerConnection {
    private enum State {
        CONNECTING,
        CONNECTED,
        CLOSED
    }

    private final InetSocketAddress peer;
    private final EventLoop loop;
    private final Duration requestTimeout;
    private final Consumer<PeerConnection> onClosed;
    private final List<PendingRequest<?>> waiting = new ArrayList<>();
    private final Map<Long, PendingRequest<?>> inFlight = new HashMap<>();
    private State state = State.CONNECTING;
    private Channel channel;
    private long nextId = 1;
    private boolean flushScheduled;

    PeerConnection(
            InetSocketAddress peer,
            EventLoop loop,
            Duration requestTimeout,
            Consumer<PeerConnection> onClosed) {
        this.peer = peer;
        this.loop = loop;
        this.requestTimeout = requestTimeout;
        this.onClosed = onClosed;
    }

    InetSocketAddress peer() {
        return peer;
    }

    /** Connects through mutual TLS with {@code tls}; the connection is usable once the handshake is done. */
    void connect(Bootstrap template, SslContext tls) {
        template.clone()
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                                .addLast("tls", tls.newHandler(ch.alloc(), peer.getHostString(), peer.getPort()))
                                .addLast("requests", RequestEncoder.INSTANCE)
                                .addLast("replies", new ReplyDecoder())
                                .addLast("complete", new ReplyHandler());
                    }
                })
                .connect(peer)
                .addListener((ChannelFuture f) -> {
                    if (f.isSuccess()) {
                        f.channel().pipeline().get(SslHandler.class).handshakeFuture().addListener(h -> {
                            if (h.isSuccess()) {
                                connected(f.channel());
                            } else {
                                f.channel().close();
                                close("TLS handshake failed: " + describe(h.cause()), h.cause());
                            }
                        });
                    } else {
                        close("cannot connect: " + describe(f.cause()), f.cause());
                    }
                });
    }

    void submit(PendingRequest<?> p) {
        p.timeout(loop.schedule(() -> timedOut(p), requestTimeout.toNanos(), TimeUnit.NANOSECONDS));
        switch (state) {
            case CONNECTING -> waiting.add(p);
            case CONNECTED -> send(p);
            case CLOSED -> p.failed(unreachable("connection closed", null));
            default -> throw new AssertionError(state);
        }
    }

    private void connected(Channel ch) {
        if (state == State.CLOSED) {
            ch.close(); // closed meanwhile (client closing): nothing waits for this channel
            return;
        }
        state = State.CONNECTED;
        channel = ch;
        for (PendingRequest<?> p : waiting) {
            send(p);
        }
        waiting.clear();
    }

    private void send(PendingRequest<?> p) {
        long id = nextId++;
        inFlight.put(id, p);
        p.markSent();
        channel.write(p.request().withId(id)).addListener(f -> p.writeFinished());
        // One flush per batch of requests submitted together, not one per request.
        if (!flushScheduled) {
            flushScheduled = true;
            loop.execute(() -> {
                flushScheduled = false;
                channel.flush();
            });
        }
    }

    private void timedOut(PendingRequest<?> p) {
        if (p.isSettled()) {
            return;
        }
        long ms = requestTimeout.toMillis();
        if (!p.isSent()) {
            waiting.remove(p);
            p.failed(unreachable("not connected within " + ms + " ms", null));
        } else {
            // The peer is stuck or gone: drop the connection, so everything on it fails now.
            close("no reply within " + ms + " ms; connection closed", null);
        }
    }

    /** Fails every request of this connection and closes it; idempotent. */
    void close(String why, Throwable cause) {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        onClosed.accept(this);
        List<PendingRequest<?>> all = new ArrayList<>(waiting);
        all.addAll(inFlight.values());
        waiting.clear();
        inFlight.clear();
        for (PendingRequest<?> p : all) {
            p.failed(unreachable(why, cause));
        }
        if (channel != null) {
            // Reset, not a graceful close: the kernel drops what it still had queued for the copy.
            // A FIN would deliver those abandoned changes once a cut link heals, possibly after a
            // resync had already brought the copy up to date, and overwrite newer data there.
            try {
                channel.config().setOption(io.netty.channel.ChannelOption.SO_LINGER, 0);
            } catch (RuntimeException e) {
                // already closed
            }
            // Fails the write promises of unsent bytes: the futures above complete then.
            channel.close();
        }
    }

    private ReplicaUnreachableException unreachable(String why, Throwable cause) {
        return new ReplicaUnreachableException(peer, why, cause);
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return (m == null ? t.getClass().getSimpleName() : m).replaceAll("\\s*\\R\\s*", " ");
    }

    /** Matches replies to requests; any surprise ends the connection. */
    private final class ReplyHandler extends SimpleChannelInboundHandler<ReplicationReply> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ReplicationReply reply) {
            PendingRequest<?> p = inFlight.remove(reply.requestId());
            if (p == null || p.request().type() != reply.type()) {
                close("protocol error: unexpected " + reply.type() + " reply #" + reply.requestId(),
                        null);
                return;
            }
            p.replied(reply);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            close("connection lost", null);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            close("connection failed: " + describe(cause), cause);
        }
    }
}
