package io.hablock.cluster;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.DeviceError;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.Extent;
import io.hablock.nbd.IoContext;
import io.hablock.nbd.WouldBlockException;
import io.hablock.nbd.client.NbdCommandException;
import io.hablock.nbd.client.NbdPipelinedClient;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection's handle on a volume served by whichever node owns it: requests go to the
 * owner over one pipelined NBD connection (many in flight, no thread held meanwhile), or, when
 * this node is the owner, to the volume served here, with no hop to itself. When the owner goes
 * away (killed, cut off, moved), requests wait in a queue until the cluster names the next
 * serving owner, and are sent there: the client on this host sees a pause, not an error.
 *
 * <p>A request is sent again only when its earlier attempt can no longer land after it: the
 * owner answered it (with an error it may not give a serving owner), closed the connection (an
 * owner runs no queued request of a closed connection), or the cluster named another owner or
 * epoch (the new owner fenced every in-sync copy before it served: nothing of the old epoch lands
 * there). While the cluster still names the owner it was sent to, a request waits for that
 * owner's answer, up to {@link #GIVE_UP}, and then fails without a second attempt: a write sent
 * twice could otherwise land after a newer write to the same place. A request never has two
 * attempts in flight. Requests of a client that disconnected and are not sent yet are dropped.
 *
 * <p>All state is kept on one event loop: the client connection's own (so a request and its
 * answer cross no thread), or the node's {@link ForwardingLinks} for calls made off a connection.
 */
final class ForwardingBlockDevice implements BlockDevice {
    private static final Logger log = LoggerFactory.getLogger(ForwardingBlockDevice.class);
    static final Duration GIVE_UP = Duration.ofSeconds(60);
    private static final long TICK_MS = 100;
    /** How long a request answered with a retryable error waits before it is sent again. */
    private static final long RETRY_NANOS = 200_000_000L;
    /** For the TCP connect and the handshake: an owner that takes longer is treated as unreachable, and tried again. */
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(3);
    /** At most one line per this interval about failing requests: one per outage, not one per request. */
    private static final long RETRY_LOG_NANOS = 10_000_000_000L;

    /** The node serving the volume, at an epoch: a connection belongs to one. */
    record Owner(InetSocketAddress address, long epoch) {
    }

    /** Where requests go now: nowhere yet, another node, or the volume served on this node. */
    sealed interface Route {
        Route NONE = new None();

        record None() implements Route {
        }

        record Remote(Owner owner) implements Route {
        }

        /** This node serves the volume at {@code epoch}: {@code device} is its handle on it. */
        record Local(BlockDevice device, long epoch) implements Route {
        }
    }

    /** One connection to the owner it was made to; {@code timedOut} when it was left for a request that got no answer. */
    private static final class Link {
        final NbdPipelinedClient client;
        final Owner owner;
        boolean timedOut;

        Link(NbdPipelinedClient client, Owner owner) {
            this.client = client;
            this.owner = owner;
        }
    }

    /** One client request until it is answered: its attempts, one at a time; {@code T} is what its answer carries. */
    private abstract static class Op<T> {
        final IoContext io;
        final CompletableFuture<T> result = new CompletableFuture<>();
        final long since = System.nanoTime();
        long notBefore = since;
        IOException last;
        /** The connection its attempt was sent on ended before an answer came. */
        boolean linkLost;

        Op(IoContext io) {
            this.io = io;
        }

        abstract CompletableFuture<T> remote(NbdPipelinedClient client);

        abstract CompletableFuture<T> local(BlockDevice device, IoContext io);

        /** Completes the request with what an attempt of it answered. */
        @SuppressWarnings("unchecked")
        void succeed(Object answer) {
            result.complete((T) answer);
        }
    }

    /** A request whose answer carries nothing but success. */
    private abstract static class VoidOp extends Op<Void> {
        VoidOp(IoContext io) {
            super(io);
        }
    }

    private final String volume;
    private final long size;
    private final boolean readOnly;
    private final Supplier<Route> route;
    /** Where the state lives: the event loop of the first connection that made a request (see {@link #bind}). */
    private volatile EventLoop loop;
    /** The socket class of {@link #loop}'s transport, for connections to owners. */
    private volatile Class<? extends Channel> channelType;
    /** Client TLS context to reach the owner with, null: in the clear. */
    private final io.netty.handler.ssl.SslContext tls;
    private final java.util.concurrent.atomic.AtomicBoolean bound = new java.util.concurrent.atomic.AtomicBoolean();
    private final Runnable onClose;
    /** The Docker mount whose claim this connection's requests must stay within, or null ({@link MountFence}). */
    private final MountFence.Gate gate;
    /** This node's advertised address: connections come from it, so the owner can tell them from applications'. */
    private volatile InetAddress localAddress;

    // event loop only
    private final ArrayDeque<Op<?>> waiting = new ArrayDeque<>();
    private int attempts;
    private Link link;
    private boolean connecting;
    private boolean closed;
    private ScheduledFuture<?> ticker;
    private long lastRetryLog = System.nanoTime() - RETRY_LOG_NANOS;
    private boolean held;

    ForwardingBlockDevice(String volume, long size, boolean readOnly, Supplier<Route> route, ForwardingLinks links,
            InetAddress localAddress, Runnable onClose) {
        this(volume, size, readOnly, route, links, localAddress, onClose, null);
    }

    ForwardingBlockDevice(String volume, long size, boolean readOnly, Supplier<Route> route, ForwardingLinks links,
            InetAddress localAddress, Runnable onClose, MountFence.Gate gate) {
        this.gate = gate;
        this.volume = volume;
        this.size = size;
        this.readOnly = readOnly;
        this.route = route;
        this.loop = links.next();
        this.channelType = ForwardingLinks.CHANNEL_TYPE;
        this.tls = links.tls();
        this.localAddress = localAddress;
        this.onClose = onClose;
    }

    // ---- the queue -----------------------------------------------------------------------------

    /**
     * Starts a request: straight on the volume served here when this node owns it (no thread hop),
     * else in the queue. A request that fails here in a way the next owner may not is queued.
     */
    private <T> CompletableFuture<T> submit(Op<T> op) {
        bind(op.io);
        if (localRoute() instanceof Route.Local local) {
            CompletableFuture<T> attempt;
            try {
                attempt = op.local(local.device(), op.io);
            } catch (RuntimeException e) {
                attempt = CompletableFuture.failedFuture(e);
            }
            attempt.whenComplete((ok, failure) -> {
                Throwable cause = failure == null ? null : unwrap(failure);
                if (cause == null) {
                    op.result.complete(ok);
                } else if (isFinal(cause)) {
                    op.result.completeExceptionally(cause);
                } else {
                    onLoop(() -> retry(op, cause));
                }
            });
            return op.result;
        }
        onLoop(() -> {
            if (closed) {
                op.result.completeExceptionally(new DeviceException(DeviceError.SHUTDOWN, "the connection is closed"));
                return;
            }
            waiting.add(op);
            pump();
        });
        return op.result;
    }

    /**
     * Before the first request: keeps the state, and the connections to owners, on the event loop
     * of the client's connection (all its requests come from there, and answers completed there
     * cross no thread); the node's forwarding loop for callers off a connection.
     */
    private void bind(IoContext io) {
        if (!bound.get() && bound.compareAndSet(false, true) && io.channel() != null) {
            loop = io.channel().eventLoop();
            channelType = io.channel().getClass();
        }
    }

    /** Sends what waits where the cluster says the volume is served now; fails what waited too long. */
    private void pump() {
        if (waiting.isEmpty() && attempts == 0) {
            return; // the ticker stops at its next tick
        }
        startTicking();
        Route now = route.get();
        if (link != null && !(now instanceof Route.Remote r && r.owner().equals(link.owner) && link.client.isOpen())) {
            leave(link, "the cluster no longer names " + link.owner.address() + " (epoch " + link.owner.epoch()
                    + ") the serving owner", false);
        }
        long t = System.nanoTime();
        for (Iterator<Op<?>> it = waiting.iterator(); it.hasNext(); ) {
            Op<?> op = it.next();
            if (op.io.clientGone()) {
                it.remove();
                op.result.completeExceptionally(new DeviceException(DeviceError.SHUTDOWN, "the client has disconnected"));
            } else if (t - op.since > GIVE_UP.toNanos()) {
                it.remove();
                op.result.completeExceptionally(new IOException("volume " + volume + ": no owner answered within "
                        + GIVE_UP.toSeconds() + " s" + (op.last == null ? "" : ": " + op.last.getMessage()), op.last));
            }
        }
        if (waiting.isEmpty()) {
            return;
        }
        MountFence.State gated = gateState();
        if (gated == MountFence.State.FENCED) {
            for (Op<?> op : waiting) {
                op.result.completeExceptionally(new DeviceException(DeviceError.IO, "volume " + volume
                        + ": this host lost its mount claim while ZooKeeper was unreachable and another host mounted"
                        + " the volume since: this mount's I/O is fenced"));
            }
            if (!waiting.isEmpty()) {
                log.warn("volume {}: failed {} request(s) of a fenced mount (another host mounted the volume after this"
                        + " host lost its claim)", volume, waiting.size());
            }
            waiting.clear();
            return;
        }
        if (gated == MountFence.State.HELD) {
            if (!held) {
                held = true;
                log.warn("volume {}: holding this host's mount's requests: its claim is not confirmed (ZooKeeper unreachable)",
                        volume);
            }
            return; // nothing is sent until it is (the ticker looks again)
        }
        if (held) {
            held = false;
            log.info("volume {}: this host's mount claim confirmed again: sending the requests held", volume);
        }
        if (now instanceof Route.Local local) {
            drain(op -> op.local(local.device(), op.io));
        } else if (now instanceof Route.Remote remote) {
            if (link == null) {
                connect(remote.owner());
            } else {
                Link sendOn = link;
                drain(op -> op.remote(sendOn.client).whenComplete((ok, failure) -> answered(op, sendOn, failure)));
            }
        }
    }

    private interface Attempt {
        CompletableFuture<?> start(Op<?> op);
    }

    /** Starts every waiting request that is due, in order. */
    private void drain(Attempt attempt) {
        long t = System.nanoTime();
        for (Iterator<Op<?>> it = waiting.iterator(); it.hasNext(); ) {
            Op<?> op = it.next();
            if (t - op.notBefore < 0) {
                continue;
            }
            it.remove();
            attempts++;
            CompletableFuture<?> started;
            try {
                started = attempt.start(op);
            } catch (RuntimeException e) {
                started = CompletableFuture.failedFuture(e);
            }
            started.whenComplete((answer, failure) -> onLoop(() -> ended(op, answer, failure)));
        }
    }

    /** A remote attempt's answer, before {@link #ended}: a connection that ended takes its requests' fate with it. */
    private void answered(Op<?> op, Link sentOn, Throwable failure) {
        if (failure != null && !sentOn.client.isOpen()) {
            op.linkLost = true;
            if (sentOn == link) {
                link = null;
            }
        }
        if (failure != null && sentOn.timedOut && !(unwrap(failure) instanceof NbdCommandException)) {
            op.notBefore = Long.MAX_VALUE; // marks it: may not be sent again
        }
    }

    private void ended(Op<?> op, Object answer, Throwable failure) {
        attempts--;
        if (failure == null) {
            op.succeed(answer);
        } else {
            Throwable cause = unwrap(failure);
            if (op.notBefore == Long.MAX_VALUE) {
                op.result.completeExceptionally(new IOException("volume " + volume + ": the owner did not answer within "
                        + GIVE_UP.toSeconds() + " s and still serves the volume: " + cause.getMessage(), cause));
            } else if (isFinal(cause) || closed) {
                op.result.completeExceptionally(cause);
            } else {
                requeue(op, cause, op.linkLost ? 0 : RETRY_NANOS);
            }
        }
        pump();
    }

    /** A request that failed on the volume served here (it stopped serving, say) waits for the next owner. */
    private void retry(Op<?> op, Throwable cause) {
        if (closed) {
            op.result.completeExceptionally(cause);
            return;
        }
        requeue(op, cause, RETRY_NANOS);
        pump();
    }

    /**
     * Puts a request whose attempt failed back at the head of the queue, to be sent again after
     * {@code delayNanos}: at once when the connection it was sent on ended, a little later when an
     * owner answered with an error (it may be on its way out, or short of copies for a while).
     */
    private void requeue(Op<?> op, Throwable cause, long delayNanos) {
        op.last = cause instanceof IOException io ? io : new IOException(cause.toString(), cause);
        op.notBefore = System.nanoTime() + delayNanos;
        op.linkLost = false;
        logRetry(cause);
        waiting.addFirst(op);
    }

    /**
     * An answer to pass on to the client rather than to send the request elsewhere: what any
     * serving owner would answer (a request it refuses as such, a full disk). An I/O error or a
     * shutdown may be an owner that stopped serving the volume: the next one is asked.
     */
    private static boolean isFinal(Throwable cause) {
        // An owner's error answer (NbdCommandException) is a DeviceException too: passed on as
        // it is, its client sees the owner's error (EPERM, ENOSPC, ...), not EIO.
        if (!(cause instanceof DeviceException e)) {
            return !(cause instanceof IOException);
        }
        return e.error() != DeviceError.IO && e.error() != DeviceError.SHUTDOWN;
    }

    private void logRetry(Throwable cause) {
        long t = System.nanoTime();
        if (t - lastRetryLog > RETRY_LOG_NANOS) {
            lastRetryLog = t;
            log.info("volume {}: request to the owner failed ({}); retrying until a serving owner answers",
                    volume, cause.getMessage());
        } else {
            log.debug("volume {}: request to the owner failed ({}); retrying", volume, cause.getMessage());
        }
    }

    // ---- connections ---------------------------------------------------------------------------

    private void connect(Owner owner) {
        if (connecting) {
            return;
        }
        connecting = true;
        open(owner.address(), localAddress).whenComplete((client, failure) -> onLoop(() ->
                connected(owner, client, failure == null ? null : asIo(unwrap(failure)))));
    }

    /** Connects from {@code local} (this node's advertised address), or from the address routing picks when that one is not this host's. */
    private CompletableFuture<NbdPipelinedClient> open(InetSocketAddress address, InetAddress local) {
        String export = volume + ClusterExports.OWNER_ONLY;
        CompletableFuture<NbdPipelinedClient> made =
                NbdPipelinedClient.connect(address, export, CONNECT_TIMEOUT, local, loop, channelType, tls);
        if (local == null) {
            return made;
        }
        return made.handle((client, failure) -> {
            if (failure == null || !isBindFailure(unwrap(failure))) {
                return made;
            }
            log.info("volume {}: cannot connect to the owner from {} ({}); using the address routing picks",
                    volume, local.getHostAddress(), unwrap(failure).getMessage());
            localAddress = null;
            return NbdPipelinedClient.connect(address, export, CONNECT_TIMEOUT, null, loop, channelType, tls);
        }).thenCompose(f -> f);
    }

    private static boolean isBindFailure(Throwable t) {
        return t instanceof BindException || String.valueOf(t.getMessage()).contains("assign requested address");
    }

    private static IOException asIo(Throwable t) {
        return t instanceof IOException io ? io : new IOException(t.toString(), t);
    }

    /** Runs {@code task} on this device's loop: now when already there. */
    private void onLoop(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
        } else {
            loop.execute(task);
        }
    }

    private void connected(Owner owner, NbdPipelinedClient client, IOException failure) {
        connecting = false;
        if (client != null && (closed || !(route.get() instanceof Route.Remote r && r.owner().equals(owner)))) {
            client.close(); // made to an owner the cluster has replaced meanwhile
        } else if (client != null) {
            link = new Link(client, owner);
        } else {
            for (Op<?> op : waiting) {
                op.last = failure;
            }
            logRetry(failure);
            // The next tick tries again.
            return;
        }
        pump();
    }

    /** Closes a connection: what was sent on it fails, and is sent again unless {@code timedOut}. */
    private void leave(Link l, String why, boolean timedOut) {
        l.timedOut |= timedOut;
        if (link == l) {
            link = null;
        }
        l.client.close(new IOException("volume " + volume + ": left " + l.owner.address() + ": " + why));
    }

    private void startTicking() {
        if (ticker == null) {
            ticker = loop.scheduleAtFixedRate(this::tick, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
        }
    }

    private void stopTicking() {
        if (ticker != null) {
            ticker.cancel(false);
            ticker = null;
        }
    }

    /** Every {@link #TICK_MS}: leaves an owner that kept a request {@link #GIVE_UP} while still named; sends what waits. */
    private void tick() {
        if (waiting.isEmpty() && attempts == 0) {
            stopTicking();
            return;
        }
        if (link != null && link.client.oldestInFlightNanos() > GIVE_UP.toNanos()) {
            leave(link, "no answer within " + GIVE_UP.toSeconds() + " s", true);
        }
        pump();
    }

    private MountFence.State gateState() {
        return gate == null ? MountFence.State.OPEN : gate.state();
    }

    /**
     * The volume served on this node, for a request to run on it straight away: only while this
     * connection's mount may send (else the request goes through the queue, which holds or fails it).
     */
    private Route localRoute() {
        return gateState() == MountFence.State.OPEN ? route.get() : Route.NONE;
    }

    private static Throwable unwrap(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    // ---- BlockDevice ---------------------------------------------------------------------------

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public boolean canMultiConn() {
        return true; // every request ends at the owner, whose flush covers all its connections
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst, IoContext io) {
        return submit(new VoidOp(io) {
            @Override
            CompletableFuture<Void> remote(NbdPipelinedClient client) {
                return client.read(offset, dst);
            }

            @Override
            CompletableFuture<Void> local(BlockDevice device, IoContext io) {
                return device.readAsync(offset, dst.duplicate(), io);
            }
        });
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer[] parts, boolean fua, IoContext io) {
        return submit(new VoidOp(io) {
            @Override
            CompletableFuture<Void> remote(NbdPipelinedClient client) {
                return client.write(offset, views(parts), fua);
            }

            @Override
            CompletableFuture<Void> local(BlockDevice device, IoContext io) {
                return device.writeAsync(offset, views(parts), fua, io);
            }
        });
    }

    /** Each attempt reads the parts through views of its own. */
    private static ByteBuffer[] views(ByteBuffer[] parts) {
        ByteBuffer[] views = new ByteBuffer[parts.length];
        for (int i = 0; i < parts.length; i++) {
            views[i] = parts[i].duplicate();
        }
        return views;
    }

    @Override
    public CompletableFuture<Void> flushAsync(IoContext io) {
        return submit(new VoidOp(io) {
            @Override
            CompletableFuture<Void> remote(NbdPipelinedClient client) {
                return client.flush();
            }

            @Override
            CompletableFuture<Void> local(BlockDevice device, IoContext io) {
                return device.flushAsync(io);
            }
        });
    }

    @Override
    public CompletableFuture<Void> trimAsync(long offset, long length, boolean fua, IoContext io) {
        return submit(new VoidOp(io) {
            @Override
            CompletableFuture<Void> remote(NbdPipelinedClient client) {
                return client.trim(offset, (int) length, fua);
            }

            @Override
            CompletableFuture<Void> local(BlockDevice device, IoContext io) {
                return device.trimAsync(offset, length, fua, io);
            }
        });
    }

    @Override
    public CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean mayTrim, boolean fastOnly,
            boolean fua, IoContext io) {
        return submit(new VoidOp(io) {
            @Override
            CompletableFuture<Void> remote(NbdPipelinedClient client) {
                return client.writeZeroes(offset, (int) length, !mayTrim, fua);
            }

            @Override
            CompletableFuture<Void> local(BlockDevice device, IoContext io) {
                return device.writeZeroesAsync(offset, length, mayTrim, fastOnly, fua, io);
            }
        });
    }

    /**
     * The owner's allocation map, asked like a read: of the volume served here, or of the owner
     * with BLOCK_STATUS (sent again to the next owner when this one goes away). An owner that did
     * not select {@code base:allocation} is taken as all data, which is always true to say.
     */
    @Override
    public CompletableFuture<List<Extent>> extentsAsync(long offset, long length, IoContext io) {
        return submit(new Op<List<Extent>>(io) {
            @Override
            CompletableFuture<List<Extent>> remote(NbdPipelinedClient client) {
                return client.hasBlockStatus() ? client.blockStatus(offset, length)
                        : CompletableFuture.completedFuture(List.of(new Extent(offset, length, false)));
            }

            @Override
            CompletableFuture<List<Extent>> local(BlockDevice device, IoContext io) {
                return device.extentsAsync(offset, length, io);
            }
        });
    }

    @Override
    public CompletableFuture<Void> cacheAsync(long offset, long length, IoContext io) {
        return CompletableFuture.completedFuture(null);
    }

    // The blocking calls: on the network thread (small requests of a volume served here that
    // prefers it) straight on the volume, else they wait for the asynchronous ones (a shutdown's flush).

    @Override
    public boolean prefersInlineIo() {
        return localRoute() instanceof Route.Local local && local.device().prefersInlineIo();
    }

    @Override
    public boolean startsInline() {
        return localRoute() instanceof Route.Local local && local.device().startsInline();
    }

    private interface LocalCall {
        void run(BlockDevice device) throws IOException;
    }

    /**
     * Runs a call on the network thread on the volume served here; anything else (not served here,
     * or a failure the next owner may not give) goes back to the server, which makes the request
     * again through the asynchronous calls.
     */
    private void inline(LocalCall call) throws IOException {
        if (!(localRoute() instanceof Route.Local local)) {
            throw new WouldBlockException("volume " + volume + " is not served on this node, or its mount is held");
        }
        try {
            call.run(local.device());
        } catch (WouldBlockException e) {
            throw e;
        } catch (IOException e) {
            if (isFinal(e)) {
                throw e;
            }
            throw new WouldBlockException("volume " + volume + ": " + e.getMessage());
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (!BlockDevice.mayWait()) {
            inline(d -> d.read(offset, dst));
            return;
        }
        await(readAsync(offset, dst, IoContext.CALLER));
        dst.position(dst.limit());
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        write(offset, new ByteBuffer[] {src}, fua);
    }

    @Override
    public void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        if (!BlockDevice.mayWait()) {
            inline(d -> d.write(offset, views(parts), fua));
            return;
        }
        await(writeAsync(offset, parts, fua, IoContext.CALLER));
    }

    @Override
    public void flush() throws IOException {
        await(flushAsync(IoContext.CALLER));
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        await(trimAsync(offset, length, fua, IoContext.CALLER));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastOnly, boolean fua) throws IOException {
        await(writeZeroesAsync(offset, length, mayTrim, fastOnly, fua, IoContext.CALLER));
    }

    private static <T> T await(CompletableFuture<T> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        }
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        return await(extentsAsync(offset, length, IoContext.CALLER));
    }

    @Override
    public void cache(long offset, long length) {
    }

    @Override
    public void close() {
        try {
            onLoop(this::closeOnLoop);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // the node is stopping: its forwarding loop is gone, and the connections with it
        }
        onClose.run();
    }

    private void closeOnLoop() {
        closed = true;
        List<Op<?>> left = new ArrayList<>(waiting);
        waiting.clear();
        for (Op<?> op : left) {
            op.result.completeExceptionally(new DeviceException(DeviceError.SHUTDOWN, "the connection is closed"));
        }
        if (link != null) {
            leave(link, "the client's connection closed", false);
        }
        stopTicking();
    }

}
