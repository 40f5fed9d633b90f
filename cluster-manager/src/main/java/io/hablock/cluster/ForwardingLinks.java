package io.hablock.cluster;

import io.hablock.nbd.client.NbdPipelinedClient;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import java.util.concurrent.TimeUnit;

/**
 * What a node's forwarders share: the event loop for those that work for no client connection
 * (a flush at shutdown before any request: forwarders normally live on their client
 * connection's loop), and the TLS context they reach the owners with.
 */
final class ForwardingLinks implements AutoCloseable {
    /** The socket class for connections made on {@link #next()}'s loops. */
    static final Class<? extends Channel> CHANNEL_TYPE = NioSocketChannel.class;
    private final EventLoopGroup group = NbdPipelinedClient.group(1, "forward");
    private final SslContext tls;

    /** Forwarders that connect in the clear. */
    ForwardingLinks() {
        this(null);
    }

    /** @param tls the client context to reach owners through TLS (NBD_OPT_STARTTLS), null for none */
    ForwardingLinks(SslContext tls) {
        this.tls = tls;
    }

    /** The client TLS context for connections to owners, or null: in the clear. */
    SslContext tls() {
        return tls;
    }

    /** The loop a forwarder keeps its state on until a client connection's request binds it to that connection's. */
    EventLoop next() {
        return group.next();
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
