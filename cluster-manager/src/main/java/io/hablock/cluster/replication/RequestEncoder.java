package io.hablock.cluster.replication;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/**
 * {@link ReplicationRequest} to a header buffer followed by the payload itself, not copied; the
 * write's promise completes when both are written (or failed), which is when the payload's memory
 * is no longer read.
 */
@ChannelHandler.Sharable
final class RequestEncoder extends MessageToMessageEncoder<ReplicationRequest> {
    static final RequestEncoder INSTANCE = new RequestEncoder();

    private RequestEncoder() {
        super(ReplicationRequest.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, ReplicationRequest r, List<Object> out) {
        ByteBuf header = ctx.alloc().buffer(WireFormat.LENGTH_PREFIX + WireFormat.REQUEST_HEADER);
        write(header, r);
        out.add(header);
        if (r.payload().isReadable()) {
            out.add(r.payload());
        } else {
            r.payload().release();
        }
    }

    /** The length prefix and header of {@code r}. */
    static void write(ByteBuf header, ReplicationRequest r) {
        header.writeInt(WireFormat.REQUEST_HEADER + r.payload().readableBytes());
        header.writeInt(WireFormat.REQUEST_MAGIC);
        header.writeByte(WireFormat.VERSION);
        header.writeByte(r.type().code);
        header.writeShort(r.flags());
        header.writeLong(r.requestId());
        header.writeLong(r.volume().getMostSignificantBits());
        header.writeLong(r.volume().getLeastSignificantBits());
        header.writeLong(r.generation().epoch());
        header.writeLong(r.generation().seq());
        header.writeLong(r.offset());
        header.writeLong(r.length());
    }
}
