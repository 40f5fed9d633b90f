package io.hablock.nbd.server;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.DeviceError;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.IoContext;
import io.hablock.nbd.protocol.Nbd;
import io.hablock.nbd.protocol.NbdError;
import io.hablock.nbd.protocol.NbdRequest;
import io.hablock.nbd.protocol.NbdWritePiece;
import io.hablock.nbd.protocol.TransmissionReplies;
import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A WRITE longer than the maximum payload, written to the device as its payload arrives: piece
 * by piece, in order, one piece on the device at a time. The connection stops reading while
 * {@value #MAX_HELD} pieces are held (one on the device, one waiting), so it never holds more
 * than that and the piece the decoder is gathering. FUA is a flush once every piece is written:
 * it covers them all. A piece that fails ends the writing; the rest of the payload is still
 * consumed (and dropped) so the connection stays in step, and the reply, sent once the whole
 * payload arrived, is the error. All of it runs on the connection's event loop.
 */
final class StreamedWrite {
    /** Pieces held at once before the connection stops reading. */
    static final int MAX_HELD = 2;

    private final NbdRequest request;
    private final BlockDevice device;
    private final IoContext io;
    private final RequestExecutor executor;
    private final PieceConnection connection;
    private final ArrayDeque<ByteBuf> waiting = new ArrayDeque<>();
    private long position;
    /** A piece (or the final flush) is on the device. */
    private boolean busy;
    private boolean allArrived;
    private boolean finished;
    /** Why the write failed (or was refused); null while it goes well. */
    private Throwable failure;

    private StreamedWrite(NbdRequest request, BlockDevice device, IoContext io, RequestExecutor executor,
                          PieceConnection connection, Throwable failure) {
        this.request = request;
        this.device = device;
        this.io = io;
        this.executor = executor;
        this.connection = connection;
        this.position = request.offset();
        this.failure = failure;
    }

    /** A write the device takes. */
    static StreamedWrite accepted(NbdRequest request, BlockDevice device, IoContext io, RequestExecutor executor,
                                  PieceConnection connection) {
        return new StreamedWrite(request, device, io, executor, connection, null);
    }

    /** A refused write: its payload is consumed and dropped, then the error is the reply. */
    static StreamedWrite refused(NbdRequest request, NbdError error, String message, RequestExecutor executor,
                                 PieceConnection connection) {
        return new StreamedWrite(request, null, null, executor, connection, new DeviceException(error.deviceError(), message));
    }

    /** True while the connection must not read on: as many pieces as it may hold are held. */
    boolean full() {
        return (busy ? 1 : 0) + waiting.size() >= MAX_HELD;
    }

    /** The next piece of the payload, in order. */
    void piece(NbdWritePiece piece) {
        ByteBuf data = piece.data();
        connection.held(data.readableBytes());
        if (failure != null) {
            connection.released(data.readableBytes());
            data.release();
        } else {
            waiting.add(data);
        }
        allArrived = piece.last();
        next();
    }

    /** The client left before the whole payload arrived: nothing more will come. */
    void abandon() {
        if (failure == null) {
            failure = new DeviceException(DeviceError.SHUTDOWN, "the client has disconnected");
        }
        dropWaiting();
        allArrived = true;
        next();
    }

    private void next() {
        if (busy || finished) {
            return;
        }
        ByteBuf data = waiting.poll();
        if (data != null) {
            busy = true;
            long at = position;
            position += data.readableBytes();
            ByteBuffer[] parts = data.nioBufferCount() == 1 ? new ByteBuffer[] {data.nioBuffer()} : data.nioBuffers();
            start(() -> device.writeAsync(at, parts, false, io)).whenComplete(
                    (v, e) -> connection.onLoop(() -> written(data, e)));
        } else if (allArrived) {
            finish();
        }
    }

    private void written(ByteBuf data, Throwable e) {
        busy = false;
        int length = data.readableBytes();
        data.release();
        connection.released(length);
        if (e != null && failure == null) {
            failure = e;
            dropWaiting();
        }
        next();
    }

    private void finish() {
        if (failure == null && request.hasFlag(Nbd.CMD_FLAG_FUA)) {
            // The pieces went without FUA: one flush makes them all durable before the reply.
            busy = true;
            start(() -> device.flushAsync(io)).whenComplete((v, e) -> connection.onLoop(() -> {
                busy = false;
                if (e != null) {
                    failure = e;
                }
                reply();
            }));
            return;
        }
        reply();
    }

    private void reply() {
        finished = true;
        connection.finished(failure == null
                ? List.of(TransmissionReplies.simple(connection.ctx().alloc(), request.cookie(), 0))
                : executor.failed(connection.ctx().alloc(), request, failure));
    }

    private void dropWaiting() {
        for (ByteBuf data; (data = waiting.poll()) != null; ) {
            connection.released(data.readableBytes());
            data.release();
        }
    }

    /** A device call that throws instead of failing its future counts as a failed future. */
    private static CompletableFuture<Void> start(java.util.function.Supplier<CompletableFuture<Void>> call) {
        try {
            return call.get();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }
}
