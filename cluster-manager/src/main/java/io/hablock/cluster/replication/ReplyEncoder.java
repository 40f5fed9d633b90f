package io.hablock.cluster.replication;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

import java.nio.charset.StandardCharsets;

/** {@link ReplicationReply} to bytes, on the server. */
@ChannelHandler.Sharable
final class ReplyEncoder extends MessageToByteEncoder<ReplicationReply> {
    static final ReplyEncoder INSTANCE = new ReplyEncoder();

    private ReplyEncoder() {
        super(ReplicationReply.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, ReplicationReply r, ByteBuf out) {
        byte[] message = messageBytes(r.message());
        int payload = r.status() != ReplyStatus.OK ? message.length
                : r.previous() != null ? 2 * Long.BYTES : r.checksums().length * Long.BYTES;
        out.ensureWritable(WireFormat.LENGTH_PREFIX + WireFormat.REPLY_HEADER + payload);
        out.writeInt(WireFormat.REPLY_HEADER + payload);
        out.writeInt(WireFormat.REPLY_MAGIC);
        out.writeByte(WireFormat.VERSION);
        out.writeByte(r.type().code);
        out.writeByte(r.status().code);
        out.writeByte(0);
        out.writeLong(r.requestId());
        if (r.status() == ReplyStatus.OK && r.previous() != null) {
            out.writeLong(r.previous().epoch());
            out.writeLong(r.previous().seq());
        } else if (r.status() == ReplyStatus.OK) {
            for (long sum : r.checksums()) {
                out.writeLong(sum);
            }
        } else {
            out.writeBytes(message);
        }
    }

    /** The message in UTF-8, cut to {@link WireFormat#MAX_MESSAGE} at a character boundary. */
    static byte[] messageBytes(String message) {
        String oneLine = message.replaceAll("\\s*\\R\\s*", " ");
        byte[] bytes = oneLine.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= WireFormat.MAX_MESSAGE) {
            return bytes;
        }
        int end = WireFormat.MAX_MESSAGE;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
            end--; // do not split a multi-byte character
        }
        return java.util.Arrays.copyOf(bytes, end);
    }
}
