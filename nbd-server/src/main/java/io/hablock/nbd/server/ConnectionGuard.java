package io.hablock.nbd.server;

import io.hablock.nbd.protocol.NbdFrameDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes a connection that holds the server's resources without moving: one that has not ended
 * its handshake within the handshake timeout, and, in transmission, one that for the stall
 * timeout holds a partial request (a header or a WRITE payload begun) or replies not yet taken
 * while not one byte arrives and not one byte of its replies is taken. What the server holds back
 * itself (at its in-flight limit, say) is not the client's stall. Sits first in the pipeline: it
 * counts the bytes as they come from the socket.
 */
final class ConnectionGuard extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger("io.hablock.nbd.connection");
    // A flood of idle or stalled connections must not become a flood of log lines.
    private static final RateLimitedWarning slowHandshakes =
            new RateLimitedWarning(log, java.time.Duration.ofSeconds(10));
    private static final RateLimitedWarning stalls = new RateLimitedWarning(log, java.time.Duration.ofSeconds(10));

    private final ConnectionLimits limits;
    private final long tickNanos;
    private NbdFrameDecoder frames;
    private ScheduledFuture<?> timer;
    private long activeAt;
    private long bytesIn;
    /** What the last tick saw: bytes received, reply bytes pending and the progress of the current one. */
    private long seenIn = -1;
    private long seenPending = -1;
    private long seenProgress = -1;
    /** System.nanoTime() of the last tick that saw the connection move or wait on nothing. */
    private long lastMoved;

    ConnectionGuard(ConnectionLimits limits) {
        this.limits = limits;
        // Deadlines are seen within a quarter of their length of when they are due.
        long shorter = Math.min(limits.stallTimeout().toNanos(), limits.handshakeTimeout().toNanos());
        this.tickNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(10), shorter / 4);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        frames = ctx.pipeline().get(NbdFrameDecoder.class);
        activeAt = System.nanoTime();
        lastMoved = activeAt;
        timer = ctx.executor().scheduleAtFixedRate(() -> tick(ctx), tickNanos, tickNanos, TimeUnit.NANOSECONDS);
        ctx.fireChannelActive();
    }

    private void tick(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive()) {
            return;
        }
        long now = System.nanoTime();
        if (!frames.inTransmission()) {
            if (now - activeAt >= limits.handshakeTimeout().toNanos()) {
                slowHandshakes.warn("closing NBD connection from " + ctx.channel().remoteAddress()
                        + ": handshake not finished within " + limits.handshakeTimeout().toMillis() + " ms");
                ctx.close();
            }
            return;
        }
        ChannelOutboundBuffer out = ctx.channel().unsafe().outboundBuffer();
        long pending = out == null ? 0 : out.totalPendingWriteBytes();
        long progress = out == null ? 0 : out.currentProgress();
        boolean waitsOnClient = pending > 0
                || (frames.partialFrame() && !frames.paused() && ctx.channel().config().isAutoRead());
        boolean moved = bytesIn != seenIn || pending != seenPending || progress != seenProgress;
        seenIn = bytesIn;
        seenPending = pending;
        seenProgress = progress;
        if (moved || !waitsOnClient) {
            lastMoved = now;
        } else if (now - lastMoved >= limits.stallTimeout().toNanos()) {
            stalls.warn("closing NBD connection from " + ctx.channel().remoteAddress() + ": "
                    + (pending > 0 ? "its replies not taken" : "a request left incomplete")
                    + " for " + TimeUnit.NANOSECONDS.toMillis(now - lastMoved) + " ms");
            ctx.close();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf bytes) {
            bytesIn += bytes.readableBytes();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
        }
        ctx.fireChannelInactive();
    }
}
