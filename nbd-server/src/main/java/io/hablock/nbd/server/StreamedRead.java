package io.hablock.nbd.server;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.IoContext;
import io.hablock.nbd.protocol.NbdRequest;
import io.hablock.nbd.protocol.TransmissionReplies;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A READ longer than the maximum payload, read and sent piece by piece: one piece read from the
 * device at a time, the next one only while fewer than {@value #MAX_HELD} pieces are read and
 * not yet out on the socket. A client that reads its reply slowly thus holds two pieces of
 * memory, never the whole range. With structured replies each piece is an OFFSET_DATA chunk and a
 * failure is an ERROR chunk after the data sent; with simple replies the header goes with the
 * first piece and the data follows in order, no other reply in between (the connection holds
 * them back meanwhile), and a failure after the header cannot be told: the spec says to close
 * the connection then. All of it runs on the connection's event loop.
 */
final class StreamedRead {
    private static final Logger log = LoggerFactory.getLogger(StreamedRead.class);

    /** Pieces read or being read and not yet sent, at most. */
    static final int MAX_HELD = 2;

    private final NbdRequest request;
    private final BlockDevice device;
    private final IoContext io;
    private final RequestExecutor executor;
    private final PieceConnection connection;
    private final Session session;
    private final boolean structured;
    private final int pieceBytes;
    private final long end;
    private long next;
    private boolean reading;
    private int unsent;
    private boolean headerSent;
    private boolean finished;

    StreamedRead(NbdRequest request, BlockDevice device, IoContext io, RequestExecutor executor,
                 PieceConnection connection, Session session, int pieceBytes) {
        this.request = request;
        this.device = device;
        this.io = io;
        this.executor = executor;
        this.connection = connection;
        this.session = session;
        this.structured = session.structuredReplies();
        this.pieceBytes = pieceBytes;
        this.next = request.offset();
        this.end = request.offset() + request.length();
    }

    /** True while other replies must wait: a simple reply's data is on its way. */
    boolean exclusive() {
        return !structured && !finished;
    }

    void start() {
        readMore();
    }

    private void readMore() {
        if (finished || reading || unsent >= MAX_HELD) {
            return;
        }
        if (!connection.ctx().channel().isActive()) {
            finish(List.of());
        } else if (next < end) {
            readPiece();
        } else {
            finish(List.of()); // every piece is written to the channel; its last one ends the reply
        }
    }

    private void readPiece() {
        long offset = next;
        int length = (int) Math.min(pieceBytes, end - next);
        next += length;
        reading = true;
        connection.reserve(length);
        connection.held(length);
        ByteBuf data;
        try {
            data = connection.ctx().alloc().directBuffer(length, length);
        } catch (OutOfMemoryError e) {
            reading = false;
            connection.released(length);
            failed(e);
            return;
        }
        CompletableFuture<Void> filled;
        try {
            filled = device.readAsync(offset, data.nioBuffer(0, length), io);
        } catch (RuntimeException e) {
            filled = CompletableFuture.failedFuture(e);
        }
        filled.whenComplete((v, e) -> connection.onLoop(() -> read(offset, length, data, e)));
    }

    private void read(long offset, int length, ByteBuf data, Throwable failure) {
        reading = false;
        if (failure != null) {
            data.release();
            connection.released(length);
            failed(failure);
            return;
        }
        data.writerIndex(length);
        ChannelHandlerContext ctx = connection.ctx();
        if (structured) {
            ctx.write(TransmissionReplies.offsetDataHeader(ctx.alloc(), request.cookie(), offset + length == end,
                    offset, length));
        } else if (!headerSent) {
            ctx.write(TransmissionReplies.simple(ctx.alloc(), request.cookie(), 0));
            headerSent = true;
        }
        unsent++;
        ctx.writeAndFlush(data).addListener(f -> {
            unsent--;
            connection.released(length);
            readMore();
        });
        readMore();
    }

    private void failed(Throwable failure) {
        ChannelHandlerContext ctx = connection.ctx();
        if (!ctx.channel().isActive()) {
            finish(List.of());
        } else if (structured || !headerSent) {
            finish(executor.failed(ctx.alloc(), request, failure));
        } else {
            log.warn("READ of {} bytes at {} on export {} failed after its reply began; closing the connection: {}",
                    request.length(), request.offset(), LogText.quoted(session.exportName()), failure.toString());
            ctx.close();
            finish(List.of());
        }
    }

    private void finish(List<Object> reply) {
        finished = true;
        connection.finished(reply);
    }
}
