package io.hablock.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * Splits the client's byte stream into frames: the client flags, then {@link NbdOption}s,
 * then (after {@link #enterTransmission()}) {@link NbdRequest}s. It only frames bytes; the
 * handlers behind it judge what the frames mean. Lengths claimed by the client are checked
 * against hard caps before anything is buffered for them, so a client can never make the
 * server allocate what it claims.
 *
 * <p>A WRITE's payload is a retained slice of the received bytes, possibly spanning several
 * socket reads (a composite): no copy is made of it. A WRITE longer than the whole-payload limit
 * is handed on as its request (without payload) followed by {@link NbdWritePiece}s as the bytes
 * arrive, so that no more than a piece is ever buffered here for it.
 *
 * <p>The handler behind it can {@linkplain #pause() pause} it: from then on nothing more is
 * handed on, not even frames already received, until it {@linkplain #resume() resumes}. That is
 * how a limit on requests in flight holds inside one socket read, which may carry thousands of
 * pipelined requests (a handler that only stops reading from the socket would still be handed
 * every one of them).
 */
public final class NbdFrameDecoder extends ByteToMessageDecoder {

    /** What the decoder expects next. */
    enum State {
        CLIENT_FLAGS,
        OPTION,
        REQUEST,
        /** Inside the payload of a WRITE handed on in pieces. */
        WRITE_PIECES,
        /** After a protocol violation: everything is discarded until the channel closes. */
        BAD_MESSAGE,
        /** The connection has closed: what it sent and nobody took is dropped, never handed on. */
        CLOSED
    }

    /** The client flags word, the first thing a client sends. */
    public record ClientFlags(int flags) {
    }

    private static final int OPTION_HEADER = 16;

    private final int maxOptionLength;
    private final int maxWholePayload;
    private final long maxWriteLength;
    private final int pieceBytes;
    private State state = State.CLIENT_FLAGS;
    /** Bytes of the current WRITE's payload not yet handed on (state WRITE_PIECES). */
    private long pieceRemaining;
    /** A piece was handed on during the current socket read. */
    private boolean piecesHandedOn;
    private ChannelHandlerContext ctx;
    /** Hands nothing on (see {@link #pause()}). */
    private boolean paused;
    /** A frame, or the start of one, waits here because of a pause. */
    private boolean held;
    /** Inside this decoder's own channelRead: frames handed on now may resume it. */
    private boolean decoding;
    /** Asked before a WRITE payload (or piece) is gathered here: may the connection hold it? */
    private LongPredicate admission = bytes -> true;
    /** The payload (or piece) now being gathered was admitted. */
    private boolean admitted;

    /**
     * @param maxOptionLength longest option data accepted; a longer option closes the connection
     * @param maxWholePayload longest WRITE payload handed on whole; a longer one comes in pieces
     * @param maxWriteLength longest WRITE accepted; a longer one closes the connection
     * @param pieceBytes size of the pieces of a longer payload (the last one may be shorter)
     */
    public NbdFrameDecoder(int maxOptionLength, int maxWholePayload, long maxWriteLength, int pieceBytes) {
        if (maxWriteLength < maxWholePayload || pieceBytes < 1) {
            throw new IllegalArgumentException("the WRITE limit must cover the whole-payload limit, pieces a byte");
        }
        this.maxOptionLength = maxOptionLength;
        this.maxWholePayload = maxWholePayload;
        this.maxWriteLength = maxWriteLength;
        this.pieceBytes = pieceBytes;
        // Socket reads are kept as they arrive and a WRITE payload is a slice over them: the
        // data is never copied in user space between the socket and the file.
        setCumulator(COMPOSITE_CUMULATOR);
    }

    /**
     * Has the decoder ask {@code admission} before it gathers a WRITE payload, or a piece of one,
     * with its length: the bytes must be reserved by the time it answers true. When it answers
     * false it must have {@linkplain #pause() paused} the decoder, which resumes (and asks again)
     * when the handler resumes it; nothing of the payload is gathered meanwhile.
     */
    public void admitPayloadsWith(LongPredicate admission) {
        this.admission = admission;
    }

    /** Asks for {@code bytes} of payload once per payload or piece; false leaves the frame held. */
    private boolean admit(long bytes) {
        if (admitted || bytes == 0) {
            return true;
        }
        if (!admission.test(bytes)) {
            held = true;
            return false;
        }
        admitted = true;
        return true;
    }

    /** Called by the handshake handler once option haggling has ended. */
    public void enterTransmission() {
        state = State.REQUEST;
    }

    /**
     * Called when the server accepts the client's NBD_OPT_STARTTLS, before anything else is
     * read: what the client sent after that option in the clear must never be taken for what
     * came through TLS (a man in the middle could slip options in so). Returns false, having
     * discarded them for good, when there are any; true when the decoder is ready for the bytes
     * the TLS layer will hand it.
     */
    public boolean startTls() {
        if (state != State.OPTION) {
            throw new IllegalStateException("STARTTLS in state " + state);
        }
        if (actualReadableBytes() > 0) {
            state = State.BAD_MESSAGE;
            internalBuffer().skipBytes(actualReadableBytes());
            return false;
        }
        return true;
    }

    State state() {
        return state;
    }

    /** Whether option haggling has ended and requests are being decoded. */
    public boolean inTransmission() {
        return state == State.REQUEST || state == State.WRITE_PIECES;
    }

    /**
     * Whether a frame has begun to arrive and not ended: bytes of it are buffered here, or a
     * WRITE handed on in pieces has more to come. Bytes held back by a pause do not count.
     */
    public boolean partialFrame() {
        return state == State.WRITE_PIECES
                || (state != State.BAD_MESSAGE && state != State.CLOSED && !held && internalBuffer().isReadable());
    }

    /** Whether the decoder is {@linkplain #pause() paused}. */
    public boolean paused() {
        return paused;
    }

    /**
     * Hands nothing more on until {@link #resume()}: bytes received meanwhile wait here. The
     * handler that pauses also stops reading from the socket ({@code autoRead}), which bounds
     * what waits here to one socket read.
     */
    public void pause() {
        paused = true;
    }

    /**
     * Hands on again, starting with the frames held here: the client may have sent everything
     * it means to and be waiting for replies, so no new bytes may come to trigger it. Must run
     * on the channel's event loop.
     */
    public void resume() {
        if (!paused) {
            return;
        }
        paused = false;
        if (!held || decoding || ctx == null || !internalBuffer().isReadable()) {
            return; // a decode under way carries on by itself
        }
        try {
            channelRead(ctx, Unpooled.EMPTY_BUFFER);
            channelReadComplete(ctx);
        } catch (Exception e) {
            ctx.fireExceptionCaught(e);
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        super.handlerAdded(ctx);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (paused && state != State.BAD_MESSAGE && state != State.CLOSED) {
            held = true;
            return;
        }
        held = false;
        switch (state) {
            case CLIENT_FLAGS -> {
                if (in.readableBytes() >= 4) {
                    out.add(new ClientFlags(in.readInt()));
                    state = State.OPTION;
                }
            }
            case OPTION -> decodeOption(in, out);
            case REQUEST -> decodeRequest(in, out);
            case WRITE_PIECES -> decodePiece(in, out);
            case BAD_MESSAGE, CLOSED -> in.skipBytes(in.readableBytes());
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
            if (length > maxWriteLength) {
                fail(in, "WRITE claims a payload of " + length + " bytes (limit " + maxWriteLength + ")");
            }
            if (length > maxWholePayload) {
                in.skipBytes(Nbd.REQUEST_HEADER_LENGTH);
                out.add(new NbdRequest(flags, type, cookie, offset, length, null));
                pieceRemaining = length;
                state = State.WRITE_PIECES;
                return;
            }
            if (!admit(length) || in.readableBytes() < Nbd.REQUEST_HEADER_LENGTH + length) {
                return;
            }
            in.skipBytes(Nbd.REQUEST_HEADER_LENGTH);
            payload = in.readRetainedSlice((int) length);
            admitted = false;
        } else {
            in.skipBytes(Nbd.REQUEST_HEADER_LENGTH);
        }
        out.add(new NbdRequest(flags, type, cookie, offset, length, payload));
    }

    /** Waits for a whole piece (or the rest of the payload): pieces have a predictable size. */
    private void decodePiece(ByteBuf in, List<Object> out) {
        int length = (int) Math.min(pieceBytes, pieceRemaining);
        if (!admit(length) || in.readableBytes() < length) {
            return;
        }
        admitted = false;
        pieceRemaining -= length;
        boolean last = pieceRemaining == 0;
        if (last) {
            state = State.REQUEST;
        }
        out.add(new NbdWritePiece(readPiece(in, length), last));
        piecesHandedOn = true;
    }

    /**
     * The next {@code length} bytes as a buffer of their own that holds the received buffers
     * themselves, not the cumulation: a slice of the cumulation would keep every buffer it ever
     * gathered alive until it is consumed to the end, which a long payload read in pieces
     * rarely is, and the whole payload would pile up behind it.
     */
    private static ByteBuf readPiece(ByteBuf in, int length) {
        if (!(in instanceof CompositeByteBuf cumulation)) {
            return in.readRetainedSlice(length);
        }
        List<ByteBuf> parts = cumulation.decompose(cumulation.readerIndex(), length);
        CompositeByteBuf piece = cumulation.alloc().compositeBuffer(parts.size());
        for (ByteBuf part : parts) {
            piece.addComponent(true, part.retain());
        }
        cumulation.skipBytes(length);
        return piece;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        Object input = msg;
        do {
            decoding = true;
            try {
                super.channelRead(ctx, input);
            } finally {
                decoding = false;
            }
            input = Unpooled.EMPTY_BUFFER;
            // Resumed by the last frame handed on, after the loop above had stopped at the pause.
        } while (held && !paused && internalBuffer().isReadable());
        if (piecesHandedOn) {
            // Drop the received buffers the pieces took over, now rather than after 16 reads.
            piecesHandedOn = false;
            discardSomeReadBytes();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        if (paused) {
            // The base class reads on when a socket read handed nothing on and autoRead is off,
            // for a frame still incomplete; while paused that would read without limit.
            ctx.fireChannelReadComplete();
            return;
        }
        super.channelReadComplete(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        // Frames held back by a pause or left incomplete are no one's to serve any more.
        state = State.CLOSED;
        held = false;
        super.channelInactive(ctx);
    }

    private void fail(ByteBuf in, String message) {
        state = State.BAD_MESSAGE;
        in.skipBytes(in.readableBytes());
        throw new NbdProtocolException(message);
    }
}
