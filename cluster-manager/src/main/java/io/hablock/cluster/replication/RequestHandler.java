package io.hablock.cluster.replication;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.RejectedExecutionException;

/**
 * One replication connection on the server: hands each request to its volume's lane and writes
 * the reply when done (replies may go out of order). Stops reading while too much is in flight,
 * so a fast sender cannot make the server buffer without bound.
 */
final class RequestHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(RequestHandler.class);

    static final int MAX_IN_FLIGHT = 512;
    static final long MAX_IN_FLIGHT_BYTES = 64L << 20;

    private final OrderedLanes lanes;
    private final CopyApplier applier;
    private int inFlight; // event loop only
    private long inFlightBytes; // event loop only

    RequestHandler(OrderedLanes lanes, CopyApplier applier) {
        this.lanes = lanes;
        this.applier = applier;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ReplicationRequest r)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (r.type() == MessageType.PING) {
            ctx.writeAndFlush(ReplicationReply.ok(r));
            return;
        }
        if (appliesInline(r)) {
            // A plain change goes to the page cache in microseconds: applied here, it saves two
            // thread hand-offs. Order is safe: the owner never has overlapping changes in flight,
            // and FLUSH covers only changes replied to before it was sent.
            ReplicationReply reply;
            try {
                reply = applier.apply(r);
            } finally {
                r.payload().release();
            }
            ctx.writeAndFlush(reply, ctx.voidPromise());
            return;
        }
        int bytes = r.payload().readableBytes();
        admit(ctx, bytes);
        try {
            lanes.execute(r.volume(), () -> {
                ReplicationReply reply;
                try {
                    reply = applier.apply(r);
                } finally {
                    r.payload().release();
                }
                ctx.executor().execute(() -> {
                    ctx.writeAndFlush(reply, ctx.voidPromise());
                    done(ctx, bytes);
                });
            });
        } catch (RejectedExecutionException e) {
            r.payload().release();
            done(ctx, bytes);
            ctx.writeAndFlush(ReplicationReply.refused(r, ReplyStatus.SHUTTING_DOWN, "server is stopping"));
        }
    }

    /** Changes that need no fdatasync; FLUSH, FUA, FENCE and CHECKSUMS go to the volume's lane. */
    private static boolean appliesInline(ReplicationRequest r) {
        return !r.fua() && (r.type() == MessageType.WRITE || r.type() == MessageType.WRITE_LZ4
                || r.type() == MessageType.TRIM || r.type() == MessageType.WRITE_ZEROES);
    }

    private void admit(ChannelHandlerContext ctx, int bytes) {
        inFlight++;
        inFlightBytes += bytes;
        if ((inFlight >= MAX_IN_FLIGHT || inFlightBytes >= MAX_IN_FLIGHT_BYTES)
                && ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    private void done(ChannelHandlerContext ctx, int bytes) {
        inFlight--;
        inFlightBytes -= bytes;
        if (inFlight <= MAX_IN_FLIGHT / 2 && inFlightBytes <= MAX_IN_FLIGHT_BYTES / 2
                && !ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.warn("closing replication connection from {}: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
