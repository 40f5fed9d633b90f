package io.hablock.cluster;

import io.hablock.nbd.client.NbdPipelinedClient;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * What a node's forwarders share: the event loop their connections to owners run on (no thread
 * per request: a request waits as an entry in a map, not as a blocked thread) and the threads that
 * connect (a handshake is blocking, and a connect to a cut-off owner waits its timeout).
 */
final class ForwardingLinks implements AutoCloseable {
    private final EventLoopGroup group = NbdPipelinedClient.group(1, "forward");
    private final ExecutorService connector = Executors.newCachedThreadPool(new DefaultThreadFactory("forward-connect", true));

    /** The loop a new forwarder keeps its state and its connection on. */
    EventLoop next() {
        return group.next();
    }

    Executor connector() {
        return connector;
    }

    @Override
    public void close() {
        connector.shutdownNow();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
