package io.hablock.cluster.replication;

import io.hablock.blockstore.Generation;
import io.hablock.cluster.security.ClusterTls;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.EventExecutor;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * Sends replication requests to the nodes holding copies of a volume: one lazily connected,
 * pipelined connection per peer (a new one after it closes), many requests in flight on it; and
 * one per peer for each shared event loop ({@link #sendFromLoopsOf}).
 *
 * <p>Every future completes exceptionally with a {@link ReplicaRefusedException} when the copy
 * refused, or a {@link ReplicaUnreachableException} when there was no answer: connection refused
 * or lost, or no reply within the request timeout (which closes that connection, failing every
 * request on it). Futures complete on the event loop of the connection (the client's own thread,
 * or the shared loop the request was made on): dependent stages must not block (use the
 * {@code *Async} variants for that).
 *
 * <p>Thread-safe.
 */
public final class ReplicationClient implements AutoCloseable {
    private final Duration requestTimeout;
    private final EventLoopGroup group;
    private final EventLoop loop;
    private final Bootstrap bootstrap;
    private final SslContext tls;
    private final Map<InetSocketAddress, PeerConnection> peers = new HashMap<>(); // loop only
    /** Connections of the shared event loops, per loop; each inner map is touched on its loop only. */
    private final Map<EventLoop, Map<InetSocketAddress, PeerConnection>> byLoop = new ConcurrentHashMap<>();
    private volatile EventLoopGroup shared;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * A client with its own one-thread event loop; {@code requestTimeout} also bounds connects.
     * Every connection is mutual TLS with {@code tls}'s certificate (copies accept no other).
     */
    public ReplicationClient(Duration requestTimeout, ClusterTls tls) {
        this.tls = Objects.requireNonNull(tls, "tls").clientContext();
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("request timeout must be positive: " + requestTimeout);
        }
        this.requestTimeout = requestTimeout;
        this.group = Transports.group(1, "repl-client");
        this.loop = group.next();
        this.bootstrap = new Bootstrap()
                .group(loop)
                .channel(Transports.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                        (int) Math.min(Integer.MAX_VALUE, Math.max(1, requestTimeout.toMillis())));
    }

    /**
     * Writes {@code data} (its remaining bytes, at most 32 MiB) at {@code offset} of the copy. The
     * bytes are sent from {@code data} itself, not copied; they are not read again once the
     * future has completed, normally or not, so the caller may then reuse or free the buffer.
     * {@code data}'s position and limit are not changed.
     *
     * @param fua durable on the copy before the reply
     */
    public CompletableFuture<Void> write(
            InetSocketAddress peer, UUID volume, Generation generation, long offset, ByteBuffer data, boolean fua) {
        return write(peer, volume, generation, offset, new ByteBuffer[] {data}, fua);
    }

    /** Like {@link #write(InetSocketAddress, UUID, Generation, long, ByteBuffer, boolean)}, the data given in parts: one message. */
    public CompletableFuture<Void> write(
            InetSocketAddress peer, UUID volume, Generation generation, long offset, ByteBuffer[] parts, boolean fua) {
        ByteBuffer[] slices = new ByteBuffer[parts.length];
        long length = 0;
        for (int i = 0; i < parts.length; i++) {
            slices[i] = parts[i].slice();
            length += slices[i].remaining();
        }
        if (length > WireFormat.MAX_PAYLOAD) {
            throw new IllegalArgumentException("write of " + length + " bytes exceeds " + WireFormat.MAX_PAYLOAD);
        }
        ByteBuf payload = Unpooled.wrappedBuffer(slices); // no copy: the parts are the payload
        ReplicationRequest r = new ReplicationRequest(MessageType.WRITE, 0, volume, generation, offset,
                length, fua ? WireFormat.FLAG_FUA : 0, payload);
        return submit(peer, r, reply -> null);
    }

    /**
     * Like {@link #write}, with the payload sent as one LZ4 block (rebuilds: data that compresses
     * costs less bandwidth). {@code data} is compressed before this returns and not read after.
     *
     * @return the future, and through {@link CompressedWrite#wireBytes()} the bytes it put on the wire
     */
    public CompressedWrite writeCompressed(InetSocketAddress peer, UUID volume, Generation generation, long offset, ByteBuffer data) {
        int length = data.remaining();
        if (length == 0 || length > WireFormat.MAX_PAYLOAD) {
            throw new IllegalArgumentException("compressed write of " + length + " bytes");
        }
        byte[] block = new byte[LZ4_COMPRESSOR.maxCompressedLength(length)];
        int n = LZ4_COMPRESSOR.compress(data.duplicate(), data.position(), length, ByteBuffer.wrap(block), 0, block.length);
        ReplicationRequest r = new ReplicationRequest(MessageType.WRITE_LZ4, 0, volume, generation, offset, length, 0,
                Unpooled.wrappedBuffer(block, 0, n));
        return new CompressedWrite(submit(peer, r, reply -> null), n);
    }

    /** A compressed write in flight. */
    public record CompressedWrite(CompletableFuture<Void> future, int wireBytes) {
    }

    private static final net.jpountz.lz4.LZ4Compressor LZ4_COMPRESSOR =
            net.jpountz.lz4.LZ4Factory.fastestInstance().fastCompressor();

    /** Discards {@code [offset, offset + length)} on the copy (reads back as zeros). */
    public CompletableFuture<Void> trim(
            InetSocketAddress peer, UUID volume, Generation generation, long offset, long length, boolean fua) {
        return submit(peer, ReplicationRequest.of(MessageType.TRIM, volume, generation, offset, length,
                fua ? WireFormat.FLAG_FUA : 0), reply -> null);
    }

    /** Zeroes {@code [offset, offset + length)} on the copy, by punching a hole if {@code mayPunch}. */
    public CompletableFuture<Void> writeZeroes(InetSocketAddress peer, UUID volume, Generation generation,
            long offset, long length, boolean mayPunch, boolean fua) {
        int flags = (fua ? WireFormat.FLAG_FUA : 0) | (mayPunch ? WireFormat.FLAG_MAY_PUNCH : 0);
        return submit(peer, ReplicationRequest.of(MessageType.WRITE_ZEROES, volume, generation, offset,
                length, flags), reply -> null);
    }

    /** Makes every write the copy replied to before it received this durable. */
    public CompletableFuture<Void> flush(InetSocketAddress peer, UUID volume, Generation generation) {
        return submit(peer, ReplicationRequest.of(MessageType.FLUSH, volume, generation, 0, 0, 0),
                reply -> null);
    }

    /**
     * Has the copy persist {@code generation}: afterwards it refuses every request of a lower one,
     * and none is still being applied. Completes with the generation the copy held before (a copy
     * that already held a higher one refuses, STALE_EPOCH or STALE_GENERATION).
     */
    public CompletableFuture<Generation> fence(InetSocketAddress peer, UUID volume, Generation generation) {
        return submit(peer, ReplicationRequest.of(MessageType.FENCE, volume, generation, 0, 0, 0),
                ReplicationReply::previous);
    }

    /**
     * The copy's XXHash64 of each {@code chunkSize} chunk (see
     * {@link io.hablock.blockstore.LocalVolume#checksums}); read-only, no epoch. The reply is
     * limited to 32 MiB, so at most 4 Mi chunks.
     */
    public CompletableFuture<long[]> checksums(InetSocketAddress peer, UUID volume, long chunkSize) {
        return submit(peer, ReplicationRequest.of(MessageType.CHECKSUMS, volume, Generation.ZERO, 0, chunkSize, 0),
                ReplicationReply::checksums);
    }

    /** Whether the peer answers at all. */
    public CompletableFuture<Void> ping(InetSocketAddress peer) {
        return submit(peer, ReplicationRequest.of(MessageType.PING, new UUID(0, 0), Generation.ZERO, 0, 0, 0),
                reply -> null);
    }

    /**
     * Requests made on a thread of {@code group} (the NBD server's event loops, which must be of
     * this client's transport) go out on connections of that thread's own, with no hand-off to the
     * client's thread and back: a replicated write then crosses no thread on the owner. Requests
     * of one thread stay in order on its connection; requests of different threads to one copy
     * may arrive in any order, which the owner allows only for changes of disjoint ranges (see
     * the range locks) or with none in flight (fences).
     */
    public void sendFromLoopsOf(EventLoopGroup group) {
        shared = group;
    }

    private <T> CompletableFuture<T> submit(
            InetSocketAddress peer, ReplicationRequest r, Function<ReplicationReply, T> onOk) {
        Objects.requireNonNull(peer, "peer");
        CompletableFuture<T> future = new CompletableFuture<>();
        PendingRequest<T> p = new PendingRequest<>(peer, r, onOk, future);
        if (closed.get()) {
            p.failed(clientClosed(peer));
            return future;
        }
        EventLoop here = sharedLoopOfThisThread();
        if (here != null) {
            dispatch(p, here, byLoop.computeIfAbsent(here, l -> new HashMap<>()));
            return future;
        }
        try {
            loop.execute(() -> dispatch(p, loop, peers));
        } catch (RejectedExecutionException e) {
            p.failed(clientClosed(peer));
        }
        return future;
    }

    private EventLoop sharedLoopOfThisThread() {
        EventLoopGroup group = shared;
        if (group == null) {
            return null;
        }
        for (EventExecutor e : group) {
            if (e.inEventLoop()) {
                return (EventLoop) e;
            }
        }
        return null;
    }

    private void dispatch(PendingRequest<?> p, EventLoop on, Map<InetSocketAddress, PeerConnection> connections) {
        if (closed.get()) {
            p.failed(clientClosed(p.peer()));
            return;
        }
        PeerConnection c = connections.get(p.peer());
        if (c == null) {
            c = new PeerConnection(p.peer(), on, requestTimeout, closing -> connections.remove(closing.peer(), closing));
            connections.put(p.peer(), c);
            c.connect(on == loop ? bootstrap : bootstrap.clone(on), tls);
        }
        c.submit(p);
    }

    private static ReplicaUnreachableException clientClosed(InetSocketAddress peer) {
        return new ReplicaUnreachableException(peer, "replication client closed", null);
    }

    private static void closeAll(EventLoop on, Map<InetSocketAddress, PeerConnection> connections) {
        try {
            on.submit(() -> {
                for (PeerConnection c : new ArrayList<>(connections.values())) {
                    c.close("replication client closed", null);
                }
            }).awaitUninterruptibly(5, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            // already stopping
        }
    }

    /** Fails every request in flight, closes the connections and stops the thread. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        closeAll(loop, peers);
        byLoop.forEach(ReplicationClient::closeAll);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
