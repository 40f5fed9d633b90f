package io.hablock.cluster.replication;

import io.hablock.blockstore.Generation;
import io.netty.buffer.ByteBuf;

import java.util.UUID;

/** Bytes to {@link ReplicationRequest}s, on the server. */
final class RequestDecoder extends FrameDecoder {
    private ReplicationRequest header; // of the frame being decoded

    RequestDecoder() {
        super(WireFormat.REQUEST_HEADER);
    }

    @Override
    void readHeader(ByteBuf in, int payloadLength) throws BadFrameException {
        checkMagicAndVersion(in, WireFormat.REQUEST_MAGIC);
        int code = in.readUnsignedByte();
        MessageType type = MessageType.of(code);
        check(type != null, "unknown request type " + code);
        int flags = in.readUnsignedShort();
        check((flags & ~WireFormat.KNOWN_FLAGS) == 0, "unknown flags 0x" + Integer.toHexString(flags));
        long id = in.readLong();
        UUID volume = new UUID(in.readLong(), in.readLong());
        long epoch = in.readLong();
        long seq = in.readLong();
        check(epoch >= 0 && seq >= 0, "negative generation " + epoch + "." + seq);
        long offset = in.readLong();
        long length = in.readLong();
        if (type == MessageType.WRITE) {
            check(length == payloadLength,
                    "WRITE of " + length + " bytes with a payload of " + payloadLength);
        } else if (type == MessageType.WRITE_LZ4) {
            check(length > 0 && length <= WireFormat.MAX_PAYLOAD && payloadLength > 0,
                    "WRITE_LZ4 of " + length + " bytes with a payload of " + payloadLength);
        } else {
            check(payloadLength == 0, type + " with a payload of " + payloadLength + " bytes");
        }
        header = ReplicationRequest.of(type, volume, new Generation(epoch, seq), offset, length, flags).withId(id);
    }

    @Override
    Object complete(ByteBuf payload) {
        ReplicationRequest h = header;
        header = null;
        if (!payload.isReadable()) {
            payload.release();
            return h;
        }
        return new ReplicationRequest(h.type(), h.requestId(), h.volume(), h.generation(), h.offset(),
                h.length(), h.flags(), payload);
    }
}
