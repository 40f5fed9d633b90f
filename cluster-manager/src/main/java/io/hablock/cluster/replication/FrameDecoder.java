package io.hablock.cluster.replication;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * Length-prefixed frames, decoded as an explicit state machine: the fixed header is checked
 * completely (magic, version, type, announced length against the cap) before any payload is
 * buffered; a bad frame closes the connection and everything after it is discarded.
 */
abstract class FrameDecoder extends ByteToMessageDecoder {
    private static final Logger LOG = LoggerFactory.getLogger(FrameDecoder.class);

    private enum State {
        HEADER,
        PAYLOAD,
        BAD_MESSAGE
    }

    /** A frame that breaks the format; its message says how, in one line. */
    static final class BadFrameException extends Exception {
        BadFrameException(String message) {
            super(message, null, false, false);
        }
    }

    private final int headerLength;
    private State state = State.HEADER;
    private int payloadLength;

    FrameDecoder(int headerLength) {
        this.headerLength = headerLength;
        // While a large payload is coming in, socket reads are kept as they arrive and the payload
        // is a slice over them: a 1 MiB write is not copied (and copied again as the buffer grows)
        // on its way to the file. Small frames are merged: a composite of many small reads costs
        // more than copying them.
        setCumulator((alloc, cumulation, in) -> state == State.PAYLOAD && payloadLength >= LARGE_PAYLOAD
                ? COMPOSITE_CUMULATOR.cumulate(alloc, cumulation, in)
                : MERGE_CUMULATOR.cumulate(alloc, cumulation, in));
    }

    /** Payloads from this size on are gathered from the socket reads without a copy. */
    private static final int LARGE_PAYLOAD = 64 << 10;

    @Override
    protected final void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (true) {
            switch (state) {
                case HEADER -> {
                    if (in.readableBytes() < WireFormat.LENGTH_PREFIX) {
                        return;
                    }
                    long frameLength = in.getUnsignedInt(in.readerIndex());
                    if (frameLength < headerLength
                            || frameLength > (long) headerLength + WireFormat.MAX_PAYLOAD) {
                        fail(ctx, in, "frame of " + frameLength + " bytes (header " + headerLength
                                + ", payload at most " + WireFormat.MAX_PAYLOAD + ")");
                        return;
                    }
                    if (in.readableBytes() < WireFormat.LENGTH_PREFIX + headerLength) {
                        return;
                    }
                    in.skipBytes(WireFormat.LENGTH_PREFIX);
                    payloadLength = (int) (frameLength - headerLength);
                    try {
                        readHeader(in.readSlice(headerLength), payloadLength);
                    } catch (BadFrameException e) {
                        fail(ctx, in, e.getMessage());
                        return;
                    }
                    state = State.PAYLOAD;
                }
                case PAYLOAD -> {
                    if (in.readableBytes() < payloadLength) {
                        return;
                    }
                    ByteBuf payload = in.readRetainedSlice(payloadLength);
                    state = State.HEADER;
                    try {
                        out.add(complete(payload));
                    } catch (BadFrameException e) {
                        payload.release();
                        fail(ctx, in, e.getMessage());
                        return;
                    }
                }
                case BAD_MESSAGE -> {
                    in.skipBytes(in.readableBytes());
                    return;
                }
                default -> throw new AssertionError(state);
            }
        }
    }

    /** Reads and checks the fixed header; {@code payloadLength} is what follows it. */
    abstract void readHeader(ByteBuf header, int payloadLength) throws BadFrameException;

    /** The message of the frame whose header was just read; owns {@code payload}. */
    abstract Object complete(ByteBuf payload) throws BadFrameException;

    private void fail(ChannelHandlerContext ctx, ByteBuf in, String why) {
        state = State.BAD_MESSAGE;
        in.skipBytes(in.readableBytes());
        LOG.warn("closing replication connection from {}: bad frame: {}",
                ctx.channel().remoteAddress(), why);
        ctx.close();
    }

    static void check(boolean ok, String problem) throws BadFrameException {
        if (!ok) {
            throw new BadFrameException(problem);
        }
    }

    static void checkMagicAndVersion(ByteBuf header, int magic) throws BadFrameException {
        int m = header.readInt();
        check(m == magic, "bad magic 0x" + Integer.toHexString(m));
        byte v = header.readByte();
        check(v == WireFormat.VERSION, "unsupported version " + v);
    }
}
