package io.hablock.cluster.replication;

import io.hablock.blockstore.Generation;
import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/** Bytes to {@link ReplicationReply}s, on the client. */
final class ReplyDecoder extends FrameDecoder {
    private MessageType type;
    private long requestId;
    private ReplyStatus status;

    ReplyDecoder() {
        super(WireFormat.REPLY_HEADER);
    }

    @Override
    void readHeader(ByteBuf in, int payloadLength) throws BadFrameException {
        checkMagicAndVersion(in, WireFormat.REPLY_MAGIC);
        int code = in.readUnsignedByte();
        type = MessageType.of(code);
        check(type != null, "unknown reply type " + code);
        int s = in.readUnsignedByte();
        status = ReplyStatus.of(s);
        check(status != null, "unknown status " + s);
        in.skipBytes(1);
        requestId = in.readLong();
        if (status != ReplyStatus.OK) {
            check(payloadLength <= WireFormat.MAX_MESSAGE, "error message of " + payloadLength + " bytes");
        } else if (type == MessageType.CHECKSUMS) {
            check(payloadLength % Long.BYTES == 0, "checksums of " + payloadLength + " bytes");
        } else if (type == MessageType.FENCE) {
            check(payloadLength == 2 * Long.BYTES, "FENCE reply with a payload of " + payloadLength + " bytes");
        } else {
            check(payloadLength == 0, type + " reply with a payload of " + payloadLength + " bytes");
        }
    }

    @Override
    Object complete(ByteBuf payload) throws BadFrameException {
        try {
            long[] sums = new long[0];
            String message = "";
            Generation previous = null;
            if (status != ReplyStatus.OK) {
                message = payload.toString(StandardCharsets.UTF_8);
            } else if (type == MessageType.FENCE) {
                long epoch = payload.readLong();
                long seq = payload.readLong();
                check(epoch >= 0 && seq >= 0, "negative generation in a FENCE reply");
                previous = new Generation(epoch, seq);
            } else if (type == MessageType.CHECKSUMS) {
                sums = new long[payload.readableBytes() / Long.BYTES];
                for (int i = 0; i < sums.length; i++) {
                    sums[i] = payload.readLong();
                }
            }
            return new ReplicationReply(type, requestId, status, sums, previous, message);
        } finally {
            payload.release();
        }
    }
}
