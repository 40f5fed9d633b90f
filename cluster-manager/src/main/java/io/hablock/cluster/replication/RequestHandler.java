package io.hablock.cluster.replication;

import io.hablock.cluster.security.ClusterTls;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;

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
    private final ChangeAuthorizer authorizer;
    private ClusterTls.Peer peer; // event loop only; known once the TLS handshake is done
    private int inFlight; // event loop only
    private long inFlightBytes; // event loop only

    RequestHandler(OrderedLanes lanes, CopyApplier applier, ChangeAuthorizer authorizer) {
        this.lanes = lanes;
        this.applier = applier;
        this.authorizer = authorizer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ReplicationRequest r)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (peer == null) {
            peer = ClusterTls.peer(ctx.pipeline().get(SslHandler.class)).orElse(null);
            if (peer == null) { // the server requires a certificate: never happens past the handshake
                r.payload().release();
                ctx.close();
                return;
            }
        }
        if (r.type() == MessageType.PING) {
            ctx.writeAndFlush(ReplicationReply.ok(r));
            return;
        }
        // Any member of the cluster may ask for checksums of 64 KiB chunks or more (volume verify);
        // changes, and checksums of smaller chunks, come from the owner only.
        boolean checked = r.type() == MessageType.CHECKSUMS && r.length() >= CopyApplier.MIN_CHECKSUM_CHUNK;
        if (!checked && !peer.isNode()) {
            r.payload().release();
            ctx.writeAndFlush(r.type() == MessageType.CHECKSUMS
                    ? ReplicationReply.refused(r, ReplyStatus.INVALID_REQUEST,
                            "checksum chunks must be at least " + CopyApplier.MIN_CHECKSUM_CHUNK + " bytes")
                    : notOwner(r), ctx.voidPromise());
            return;
        }
        checked = checked || authorizer.mayChangeCached(r.volume(), peer.identity());
        if (checked && appliesInline(r)) {
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
        boolean cached = checked;
        String sender = peer.identity();
        try {
            lanes.execute(r.volume(), () -> {
                ReplicationReply reply;
                try {
                    reply = cached || authorizer.mayChange(r.volume(), sender) ? applier.apply(r) : notOwner(r);
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

    /**
     * A change from a node the catalogue does not name as the volume's owner: refused as from a
     * deposed owner (which stops serving), telling nothing of the copy's state.
     */
    private ReplicationReply notOwner(ReplicationRequest r) {
        applier.refusal("refused {} for volume {} from {}: not the volume's owner", r.type(), r.volume(), peer);
        return ReplicationReply.refused(r, ReplyStatus.STALE_EPOCH, "not the volume's owner");
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
