package io.hablock.nbd.server;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.DeviceError;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.IoContext;
import io.hablock.nbd.NetworkThread;
import io.hablock.nbd.WouldBlockException;
import io.hablock.nbd.protocol.Nbd;
import io.hablock.nbd.protocol.NbdError;
import io.hablock.nbd.protocol.NbdFrameDecoder;
import io.hablock.nbd.protocol.NbdRequest;
import io.hablock.nbd.protocol.NbdWritePiece;
import io.hablock.nbd.protocol.TransmissionReplies;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transmission phase of one connection. Requests are validated on the event loop, started
 * through the device's asynchronous calls (many in flight, replies in completion order; a local
 * file runs on the server's I/O workers) and answered back on the event loop; small reads and writes of a fast local device run inline instead (see
 * {@link #runsInline}). READs and WRITEs longer than the maximum payload are served in pieces
 * ({@link StreamedRead}, {@link StreamedWrite}) whose bytes count toward the in-flight limits.
 * Besides its own limits, a connection holds its payloads and replies against the server's
 * {@link MemoryBudget}: a WRITE payload is reserved before it is received (the decoder asks),
 * a READ before it starts, and both are given back once the reply is out; without room, the
 * connection reads nothing until there is.
 * All of this handler's fields are touched on the event loop only.
 */
final class TransmissionHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TransmissionHandler.class);

    /** A user event that asks the connection to finish its work and close. */
    static final Object SHUTDOWN = new Object() {
        @Override
        public String toString() {
            return "SHUTDOWN";
        }
    };

    /** The lifecycle of the connection. */
    private enum State {
        /** Reading and serving requests. */
        SERVING,
        /** After NBD_CMD_DISC: finish in-flight requests, then close. */
        DISCONNECTING,
        /** Server shutdown: finish in-flight requests, flush, then close. */
        SHUTTING_DOWN,
        /** The channel is closed; the device is released once nothing is in flight. */
        CLOSED
    }

    private final BlockDevice device;
    private final Session session;
    private final ServerContext server;
    private final RequestExecutor executor;
    private final long maxInFlightBytes;
    private final MemoryBudget memory;
    /** What this connection holds against {@link #memory}. */
    private final MemoryBudget.Account account;
    /** A reservation failed: nothing more is read until the budget has room. */
    private boolean awaitingMemory;
    /** A READ decoded while the budget had no room for it; it starts once there is. */
    private NbdRequest parked;
    private ChannelHandlerContext ctx;
    private NbdFrameDecoder frames;
    /** The WRITE whose payload is arriving in pieces, if any. */
    private StreamedWrite receiving;
    /** The READ whose simple reply is being sent in pieces, if any: other replies wait for it. */
    private StreamedRead exclusive;
    /** Replies held back while {@link #exclusive} sends. */
    private final List<Object> heldBack = new ArrayList<>();
    private State state = State.SERVING;
    private int inFlight;
    private long inFlightBytes;
    private boolean deviceReleased;
    /** System.nanoTime() before which no request runs inline (set after a slow one). */
    private long inlinePausedUntil;
    /** Consecutive slow inline requests: a slow disk is slow every time, a preempted thread once. */
    private int slowInlineStreak;
    static final int SLOW_STREAK = 3;

    TransmissionHandler(BlockDevice device, Session session, ServerContext server) {
        this.device = device;
        this.session = session;
        this.server = server;
        this.executor = new RequestExecutor(device, session, server.config().maxPayloadBytes());
        this.maxInFlightBytes = 2L * server.config().maxPayloadBytes();
        this.memory = server.memory();
        this.account = memory.open();
        this.inlinePausedUntil = System.nanoTime();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.frames = ctx.pipeline().get(NbdFrameDecoder.class);
        this.frames.admitPayloadsWith(this::admit);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof NbdWritePiece piece) {
            writePiece(piece);
            return;
        }
        if (!(msg instanceof NbdRequest request)) {
            ReferenceCountUtil.release(msg);
            ConnectionErrors.close(ctx, "unexpected message in transmission phase");
            return;
        }
        if (state != State.SERVING) {
            request.release(); // sent after DISC or during shutdown: never served
            account.release(admitted(request));
            return;
        }
        if (server.isShuttingDown()) {
            refuse(request, NbdError.ESHUTDOWN, "server is shutting down");
            return;
        }
        if (request.type() == Nbd.CMD_DISC) {
            state = State.DISCONNECTING;
            ctx.channel().config().setAutoRead(false);
            frames.pause();
            closeWhenIdle();
            return;
        }
        RequestValidator.Rejection rejection = RequestValidator.validate(request, device, session, server.config());
        if (rejection != null) {
            refuse(request, rejection.error(), rejection.message());
            return;
        }
        if (request.type() == Nbd.CMD_READ && !admit(readCost(request))) {
            parked = request;
            return;
        }
        dispatch(request);
    }

    /** The bytes the decoder reserved for a request: a WRITE payload received whole. */
    private static long admitted(NbdRequest request) {
        return request.payload() != null ? request.length() : 0;
    }

    /**
     * What a READ takes from the memory budget before it starts: its data, or, for one served in
     * pieces (each reserved as it is read), nothing but room in the budget.
     */
    private long readCost(NbdRequest request) {
        return request.length() > server.config().maxPayloadBytes() ? 0 : request.length();
    }

    /**
     * Reserves {@code bytes} of the memory budget for this connection, or, when it has no room,
     * stops reading and waits for some: false then, and the caller tries again once woken.
     */
    private boolean admit(long bytes) {
        if (account.tryReserve(bytes)) {
            return true;
        }
        awaitingMemory = true;
        updateReading();
        memory.await(account, bytes, () -> {
            try {
                ctx.executor().execute(this::memoryFreed);
            } catch (RejectedExecutionException e) {
                // the server is stopping: this connection is closed with it
            }
        });
        return false;
    }

    /** The budget has room again: the READ parked for it starts, and reading resumes. */
    private void memoryFreed() {
        awaitingMemory = false;
        NbdRequest request = parked;
        if (request != null) {
            parked = null;
            if (!admit(readCost(request))) {
                parked = request;
                return;
            }
            dispatch(request);
        }
        if (state == State.SERVING) {
            updateReading();
        }
    }

    /** Answers with an error; a refused WRITE whose payload follows is answered once that is consumed. */
    private void refuse(NbdRequest request, NbdError error, String message) {
        request.release();
        account.release(admitted(request));
        if (request.payloadFollows()) {
            inFlight++;
            receiving = StreamedWrite.refused(request, error, message, executor, pieces);
            updateReading();
            return;
        }
        reply(executor.error(ctx.alloc(), request, error, message), 0);
    }

    private void writePiece(NbdWritePiece piece) {
        StreamedWrite write = receiving;
        if (write == null) {
            piece.release(); // of a WRITE sent after DISC or during shutdown: never served
            return;
        }
        if (piece.last()) {
            receiving = null;
        }
        write.piece(piece);
        if (state == State.SERVING) {
            updateReading();
        }
    }

    private void dispatch(NbdRequest request) {
        if (request.payloadFollows()) {
            inFlight++;
            receiving = StreamedWrite.accepted(request, device, io, executor, pieces);
            updateReading();
            return;
        }
        boolean inPieces = request.length() > server.config().maxPayloadBytes(); // a READ: see above
        long bytes = !inPieces && (request.type() == Nbd.CMD_READ || request.type() == Nbd.CMD_WRITE)
                ? request.length() : 0;
        inFlight++;
        inFlightBytes += bytes;
        updateReading();
        List<Object> zeroCopy = executor.zeroCopyRead(ctx.alloc(), request);
        if (zeroCopy != null) {
            completed(zeroCopy, bytes);
            return;
        }
        if (inPieces && request.type() == Nbd.CMD_READ) {
            StreamedRead read = new StreamedRead(request, device, io, executor, pieces, session,
                    NbdServerConfig.PIECE_BYTES);
            if (read.exclusive()) {
                exclusive = read;
                updateReading();
            }
            read.start();
            return;
        }
        if (runsInline(request)) {
            long start = System.nanoTime();
            List<Object> reply = NetworkThread.run(() -> executor.execute(ctx.alloc(), request, true));
            if (reply == null) {
                runAsync(request, bytes); // the device would have waited: never here
                return;
            }
            timedInline(System.nanoTime() - start);
            completed(reply, bytes);
            return;
        }
        if (startsInline(request)) {
            long start = System.nanoTime();
            NetworkThread.run(() -> {
                runAsync(request, bytes, inlineIo);
                return null;
            });
            timedInline(System.nanoTime() - start);
            return;
        }
        runAsync(request, bytes);
    }

    /** After a request ran inline: a streak of slow ones sends the next to the I/O workers for a while. */
    private void timedInline(long took) {
        if (took <= server.config().slowInlineIo().toNanos()) {
            slowInlineStreak = 0;
        } else if (++slowInlineStreak >= SLOW_STREAK) {
            slowInlineStreak = 0;
            inlinePausedUntil = System.nanoTime() + server.config().inlinePause().toNanos();
            log.debug("inline I/O on export {} took {} us, {} times in a row; using the I/O workers for a while",
                    LogText.quoted(session.exportName()), took / 1000, SLOW_STREAK);
        }
    }

    private void runAsync(NbdRequest request, long bytes) {
        runAsync(request, bytes, io);
    }

    /**
     * Runs the request through the device's asynchronous calls; the reply comes back to the event
     * loop. A device that blocks runs on an I/O worker ({@link #io}); one that waits on the
     * network holds no thread.
     */
    private void runAsync(NbdRequest request, long bytes, IoContext io) {
        executor.executeAsync(ctx.alloc(), request, io).thenAccept(reply -> {
            if (ctx.executor().inEventLoop()) {
                completed(reply, bytes);
            } else {
                ctx.executor().execute(() -> completed(reply, bytes));
            }
        });
    }

    /**
     * Where the device runs blocking work: an I/O worker, unless the connection is closed by the
     * time a worker takes it: a client that went away (or that a forwarding node abandoned before
     * it sends the request again elsewhere) must not have a queued request of it land later,
     * after newer ones.
     */
    private final IoContext io = new IoContext() {
        @Override
        public <T> CompletableFuture<T> blocking(BlockingCall<T> work) {
            CompletableFuture<T> result = new CompletableFuture<>();
            try {
                server.io().execute(() -> {
                    if (clientGone()) {
                        result.completeExceptionally(new DeviceException(DeviceError.SHUTDOWN, "the client has disconnected"));
                        return;
                    }
                    try {
                        result.complete(work.call());
                    } catch (Exception | OutOfMemoryError e) {
                        result.completeExceptionally(e);
                    }
                });
            } catch (RejectedExecutionException e) {
                result.completeExceptionally(new DeviceException(DeviceError.SHUTDOWN, "server is shutting down"));
            }
            return result;
        }

        @Override
        public boolean clientGone() {
            return !ctx.channel().isActive();
        }

        @Override
        public io.netty.channel.Channel channel() {
            return ctx.channel();
        }
    };

    /**
     * For a request started inline ({@link BlockDevice#startsInline()}): blocking work asked for
     * while the network thread runs the request runs right here; work that would wait here
     * (nothing done yet) and work asked for later, from another thread, go to {@link #io}.
     */
    private final IoContext inlineIo = new IoContext() {
        @Override
        public <T> CompletableFuture<T> blocking(BlockingCall<T> work) {
            if (!NetworkThread.isCurrent() || !ctx.executor().inEventLoop()) {
                return io.blocking(work);
            }
            try {
                return CompletableFuture.completedFuture(work.call());
            } catch (WouldBlockException e) {
                return io.blocking(work);
            } catch (Exception | OutOfMemoryError e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override
        public boolean clientGone() {
            return io.clientGone();
        }

        @Override
        public io.netty.channel.Channel channel() {
            return ctx.channel();
        }
    };

    /** How the requests served in pieces reach this connection. */
    private final PieceConnection pieces = new PieceConnection() {
        @Override
        public ChannelHandlerContext ctx() {
            return ctx;
        }

        @Override
        public void reserve(long bytes) {
            account.reserve(bytes);
        }

        @Override
        public void held(long bytes) {
            inFlightBytes += bytes;
        }

        @Override
        public void released(long bytes) {
            inFlightBytes -= bytes;
            account.release(bytes);
            if (state == State.SERVING) {
                updateReading();
            }
        }

        @Override
        public void finished(List<Object> reply) {
            if (exclusive != null && !exclusive.exclusive()) {
                exclusive = null;
                reply(heldBack, 0);
                heldBack.clear();
            }
            completed(reply, 0);
        }
    };

    /**
     * Small READs and WRITEs of a device that prefers it run right here on the event loop: no
     * thread hop there and back. Never FUA (it waits for the disk), never while paused after a
     * slow request.
     */
    private boolean runsInline(NbdRequest request) {
        return device.prefersInlineIo() && inlineable(request);
    }

    /** A request whose device {@linkplain BlockDevice#startsInline() starts inline}, under the same rules. */
    private boolean startsInline(NbdRequest request) {
        return device.startsInline() && inlineable(request);
    }

    private boolean inlineable(NbdRequest request) {
        return (request.type() == Nbd.CMD_READ || request.type() == Nbd.CMD_WRITE)
                && !request.hasFlag(Nbd.CMD_FLAG_FUA)
                && request.length() <= server.config().inlineIoMaxBytes()
                && System.nanoTime() - inlinePausedUntil >= 0;
    }

    private void completed(List<Object> reply, long bytes) {
        inFlight--;
        inFlightBytes -= bytes;
        reply(reply, bytes);
        switch (state) {
            case SERVING -> updateReading();
            case DISCONNECTING, SHUTTING_DOWN -> closeWhenIdle();
            case CLOSED -> releaseDeviceWhenIdle();
        }
    }

    /**
     * Sends a reply; {@code memory} bytes of the budget are given back once it is out (at once
     * when it waits behind a READ sent in pieces: such replies are small).
     */
    private void reply(List<Object> messages, long memory) {
        if (state == State.CLOSED) {
            messages.forEach(ReferenceCountUtil::release);
            account.release(memory);
            return;
        }
        if (exclusive != null || messages.isEmpty()) {
            heldBack.addAll(messages);
            account.release(memory);
            return;
        }
        int last = messages.size() - 1;
        for (int i = 0; i < last; i++) {
            ctx.write(messages.get(i));
        }
        if (memory == 0) {
            ctx.write(messages.get(last));
        } else {
            ctx.write(messages.get(last)).addListener(f -> account.release(memory));
        }
        // FlushConsolidationHandler turns a burst of these into one flush.
        ctx.flush();
    }

    /**
     * Takes requests while the connection is within its in-flight limits and the client reads
     * its replies. Both the socket and the decoder stop: a socket read may hold thousands of
     * pipelined requests, and the limit must hold inside it. Reading resumes before the decoder
     * does, as requests it hands on may stop both again.
     */
    private void updateReading() {
        boolean read = inFlight < server.config().maxInFlightPerConnection()
                && inFlightBytes <= maxInFlightBytes
                && !awaitingMemory
                && parked == null
                && ctx.channel().isWritable()
                && exclusive == null
                && (receiving == null || !receiving.full());
        if (ctx.channel().config().isAutoRead() != read) {
            ctx.channel().config().setAutoRead(read);
        }
        if (read) {
            frames.resume();
        } else {
            frames.pause();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (state == State.SERVING) {
            updateReading();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == SHUTDOWN && (state == State.SERVING || state == State.DISCONNECTING)) {
            state = State.SHUTTING_DOWN;
            ctx.channel().config().setAutoRead(false);
            frames.pause();
            if (parked != null) {
                // Received before the shutdown: answered like the others, room or not.
                NbdRequest request = parked;
                parked = null;
                pieces.reserve(readCost(request));
                dispatch(request);
            }
            closeWhenIdle();
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    private void closeWhenIdle() {
        if (inFlight > 0) {
            return;
        }
        if (state == State.SHUTTING_DOWN) {
            // Leave nothing acknowledged only in the page cache when the node stops.
            inFlight++;
            try {
                server.io().execute(() -> {
                    try {
                        device.flush();
                    } catch (Exception e) {
                        log.warn("flush of export {} at shutdown failed: {}", LogText.quoted(session.exportName()),
                                e.toString());
                    }
                    ctx.executor().execute(() -> {
                        inFlight--;
                        closeAfterReplies();
                        if (state == State.CLOSED) {
                            // The client went first: channelInactive left the device to us.
                            releaseDeviceWhenIdle();
                        }
                    });
                });
            } catch (RejectedExecutionException e) {
                inFlight--;
                ctx.close();
            }
        } else {
            closeAfterReplies();
        }
    }

    /** Closes once every reply written so far is out: a plain close would drop what is still queued. */
    private void closeAfterReplies() {
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = State.CLOSED;
        heldBack.forEach(ReferenceCountUtil::release);
        heldBack.clear();
        if (parked != null) {
            parked.release();
            parked = null;
        }
        account.close();
        if (receiving != null) {
            StreamedWrite write = receiving;
            receiving = null;
            write.abandon();
        }
        releaseDeviceWhenIdle();
        ctx.fireChannelInactive();
    }

    private void releaseDeviceWhenIdle() {
        if (inFlight == 0 && !deviceReleased) {
            deviceReleased = true;
            device.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ConnectionErrors.closeOnException(ctx, cause);
    }

}
