package io.hablock.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Splits the client's byte stream into frames: the client flags, then {@link NbdOption}s,
 * then (after {@link #enterTransmission()}) {@link NbdRequest}s. It only frames bytes; the
 * handlers behind it judge what the frames mean. Lengths claimed by the client are checked
 * against hard caps before anything is buffered for them, so a client can never make the
 * server allocate what it claims.
 *
 * <p>A WRITE's payload is a retained slice of the received bytes, possibly spanning several
 * socket reads (a composite): no copy is made of it.
 */
public final class NbdFrameDecoder extends ByteToMessageDecoder {

    /** What the decoder expects next. */
    enum State {
        CLIENT_FLAGS,
        OPTION,
        REQUEST,
        /** After a protocol violation: everything is discarded until the channel closes. */
        BAD_MESSAGE
    }

    /** The client flags word, the first thing a client sends. */
    public record ClientFlags(int flags) {
    }

    private static final int OPTION_HEADER = 16;

    private final int maxOptionLength;
    private final int maxWritePayload;
    private State state = State.CLIENT_FLAGS;

    /**
     * @param maxOptionLength longest option data accepted; a longer option closes the connection
     * @param maxWritePayload longest WRITE payload accepted; a longer one closes the connection
     */
    public NbdFrameDecoder(int maxOptionLength, int maxWritePayload) {
        this.maxOptionLength = maxOptionLength;
        this.maxWritePayload = maxWritePayload;
        // Socket reads are kept as they arrive and a WRITE payload is a slice over them: the
        // data is never copied in user space between the socket and the file.
        setCumulator(COMPOSITE_CUMULATOR);
    }

    /** Called by the handshake handler once option haggling has ended. */
    public void enterTransmission() {
        state = State.REQUEST;
    }

    State state() {
        return state;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case CLIENT_FLAGS -> {
                if (in.readableBytes() >= 4) {
                    out.add(new ClientFlags(in.readInt()));
                    state = State.OPTION;
                }
            }
            case OPTION -> decodeOption(in, out);
            case REQUEST -> decodeRequest(in, out);
            case BAD_MESSAGE -> in.skipBytes(in.readableBytes());
        }
    }

    private void decodeOption(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < OPTION_HEADER) {
            return;
        }
        int start = in.readerIndex();
        long magic = in.getLong(start);
        if (magic != Nbd.IHAVEOPT) {
            fail(in, String.format("bad option magic 0x%016x", magic));
        }
        int code = in.getInt(start + 8);
        long length = in.getUnsignedInt(start + 12);
        if (length > maxOptionLength) {
            fail(in, "option " + code + " claims " + length + " bytes of data (limit " + maxOptionLength + ")");
        }
        if (in.readableBytes() < OPTION_HEADER + length) {
            return;
        }
        in.skipBytes(OPTION_HEADER);
        out.add(new NbdOption(code, in.readRetainedSlice((int) length)));
    }

    private void decodeRequest(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < Nbd.REQUEST_HEADER_LENGTH) {
            return;
        }
        int start = in.readerIndex();
        int magic = in.getInt(start);
        if (magic != Nbd.REQUEST_MAGIC) {
            fail(in, String.format("bad request magic 0x%08x", magic));
        }
        int flags = in.getUnsignedShort(start + 4);
        int type = in.getUnsignedShort(start + 6);
        long cookie = in.getLong(start + 8);
        long offset = in.getLong(start + 16);
        long length = in.getUnsignedInt(start + 24);
        ByteBuf payload = null;
        if (type == Nbd.CMD_WRITE) {
            if (length > maxWritePayload) {
                fail(in, "WRITE claims a payload of " + length + " bytes (limit " + maxWritePayload + ")");
            }
            if (in.readableBytes() < Nbd.REQUEST_HEADER_LENGTH + length) {
                return;
            }
            in.skipBytes(Nbd.REQUEST_HEADER_LENGTH);
            payload = in.readRetainedSlice((int) length);
        } else {
            in.skipBytes(Nbd.REQUEST_HEADER_LENGTH);
        }
        out.add(new NbdRequest(flags, type, cookie, offset, length, payload));
    }

    private void fail(ByteBuf in, String message) {
        state = State.BAD_MESSAGE;
        in.skipBytes(in.readableBytes());
        throw new NbdProtocolException(message);
    }
}
