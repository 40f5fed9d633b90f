package io.hablock.nbd.server;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.DeviceException;
import io.hablock.nbd.Extent;
import io.hablock.nbd.IoContext;
import io.hablock.nbd.WouldBlockException;
import io.hablock.nbd.protocol.Nbd;
import io.hablock.nbd.protocol.NbdError;
import io.hablock.nbd.protocol.NbdRequest;
import io.hablock.nbd.protocol.TransmissionReplies;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one validated request against the device and encodes its reply as a list of buffers
 * (headers and data apart, so data is never copied): on the network thread through the
 * device's blocking calls ({@link #execute}, small requests of a fast device), or through its
 * asynchronous ones ({@link #executeAsync}, everything else).
 */
final class RequestExecutor {
    private static final Logger log = LoggerFactory.getLogger(RequestExecutor.class);

    /** Most descriptors sent in one BLOCK_STATUS reply; the client asks again for the rest. */
    static final int MAX_DESCRIPTORS = 1 << 14;

    private final BlockDevice device;
    private final Session session;
    private final int maxChunkBytes;

    /** @param maxChunkBytes longest data chunk of a structured reply: the advertised maximum payload */
    RequestExecutor(BlockDevice device, Session session, int maxChunkBytes) {
        this.device = device;
        this.session = session;
        this.maxChunkBytes = maxChunkBytes;
    }

    /**
     * READs at least this large are sent straight from the volume's file with sendfile (one
     * copy, in the kernel, and no thread hop) when the device allows it, else read and sent as
     * one chunk. Their zeros are sent as data. Smaller reads (what block-status-driven copiers
     * such as nbdcopy ask for) keep their zero runs as holes.
     */
    static final int ZERO_COPY_MIN_BYTES = 512 << 10;

    /**
     * The reply to a large READ as headers and regions of the device's file (one of each, or
     * several chunks for a structured reply longer than the maximum payload), or null when the
     * device has no file to send from. Runs on the event loop: it does no I/O itself; the socket
     * pulls the data from the file as it drains, so no read, however long, is held in memory.
     * Null on a TLS connection: the data must pass through the TLS layer as bytes.
     */
    List<Object> zeroCopyRead(ByteBufAllocator alloc, NbdRequest r) {
        if (r.type() != Nbd.CMD_READ || r.length() < ZERO_COPY_MIN_BYTES || session.tls()) {
            return null;
        }
        java.nio.channels.FileChannel file;
        try {
            file = device.zeroCopySource(r.offset(), r.length());
        } catch (IOException | RuntimeException e) {
            return null; // the ordinary path will report the failure
        }
        if (file == null) {
            return null;
        }
        int length = (int) r.length();
        if (!session.structuredReplies()) {
            return List.of(TransmissionReplies.simple(alloc, r.cookie(), 0), new SharedFileRegion(file, r.offset(), length));
        }
        if (length <= maxChunkBytes) {
            return List.of(TransmissionReplies.offsetDataHeader(alloc, r.cookie(), true, r.offset(), length),
                    new SharedFileRegion(file, r.offset(), length));
        }
        // No chunk may be longer than the maximum payload: a longer read goes as several.
        List<Object> reply = new ArrayList<>();
        for (long at = r.offset(), end = r.offset() + length; at < end; at += maxChunkBytes) {
            int n = (int) Math.min(maxChunkBytes, end - at);
            reply.add(TransmissionReplies.offsetDataHeader(alloc, r.cookie(), at + n == end, at, n));
            reply.add(new SharedFileRegion(file, at, n));
        }
        return reply;
    }

    /** Serves the request; releases its payload; never throws. */
    List<Object> execute(ByteBufAllocator alloc, NbdRequest r) {
        return execute(alloc, r, false);
    }

    /**
     * Like {@link #execute(ByteBufAllocator, NbdRequest)}; when {@code inline} (on the network
     * thread) and the device would have to wait, returns null with the request untouched (payload
     * kept), for the caller to run it on a worker.
     */
    List<Object> execute(ByteBufAllocator alloc, NbdRequest r, boolean inline) {
        boolean release = true;
        try {
            boolean fua = r.hasFlag(Nbd.CMD_FLAG_FUA);
            switch (r.type()) {
                case Nbd.CMD_READ:
                    return read(alloc, r);
                case Nbd.CMD_WRITE:
                    write(r, fua);
                    break;
                case Nbd.CMD_FLUSH:
                    device.flush();
                    break;
                case Nbd.CMD_TRIM:
                    device.trim(r.offset(), r.length(), fua);
                    break;
                case Nbd.CMD_WRITE_ZEROES:
                    device.writeZeroes(r.offset(), r.length(), !r.hasFlag(Nbd.CMD_FLAG_NO_HOLE),
                            r.hasFlag(Nbd.CMD_FLAG_FAST_ZERO), fua);
                    break;
                case Nbd.CMD_CACHE:
                    device.cache(r.offset(), r.length());
                    break;
                case Nbd.CMD_BLOCK_STATUS:
                    return blockStatus(alloc, r);
                default:
                    return error(alloc, r, NbdError.EINVAL, "unknown command " + r.type());
            }
            return List.of(TransmissionReplies.simple(alloc, r.cookie(), 0));
        } catch (WouldBlockException e) {
            if (inline) {
                release = false;
                return null;
            }
            return error(alloc, r, NbdError.EIO, String.valueOf(e.getMessage()));
        } catch (Exception | OutOfMemoryError e) {
            NbdError error = errorOf(e);
            if (error == NbdError.EIO) {
                log.warn("I/O error on export {} (command {}, offset {}, length {}): {}",
                        LogText.quoted(session.exportName()), r.type(), r.offset(), r.length(), e.toString());
            }
            return error(alloc, r, error, String.valueOf(e.getMessage()));
        } finally {
            if (release) {
                r.release();
            }
        }
    }

    /**
     * Starts the request through the device's asynchronous calls; the reply (an error reply when
     * it failed) completes the future, after the payload was released. Never fails.
     */
    CompletableFuture<List<Object>> executeAsync(ByteBufAllocator alloc, NbdRequest r, IoContext io) {
        CompletableFuture<List<Object>> started;
        try {
            started = start(alloc, r, io);
        } catch (Exception | OutOfMemoryError e) {
            started = CompletableFuture.failedFuture(e);
        }
        return started.handle((reply, failure) -> {
            r.release();
            return failure == null ? reply : failed(alloc, r, failure);
        });
    }

    private CompletableFuture<List<Object>> start(ByteBufAllocator alloc, NbdRequest r, IoContext io) {
        boolean fua = r.hasFlag(Nbd.CMD_FLAG_FUA);
        CompletableFuture<Void> done;
        switch (r.type()) {
            case Nbd.CMD_READ:
                return readAsync(alloc, r, io);
            case Nbd.CMD_WRITE: {
                ByteBuf payload = r.payload();
                done = device.writeAsync(r.offset(), payload.nioBufferCount() == 1
                        ? new ByteBuffer[] {payload.nioBuffer()} : payload.nioBuffers(), fua, io);
                break;
            }
            case Nbd.CMD_FLUSH:
                done = device.flushAsync(io);
                break;
            case Nbd.CMD_TRIM:
                done = device.trimAsync(r.offset(), r.length(), fua, io);
                break;
            case Nbd.CMD_WRITE_ZEROES:
                done = device.writeZeroesAsync(r.offset(), r.length(), !r.hasFlag(Nbd.CMD_FLAG_NO_HOLE),
                        r.hasFlag(Nbd.CMD_FLAG_FAST_ZERO), fua, io);
                break;
            case Nbd.CMD_CACHE:
                done = device.cacheAsync(r.offset(), r.length(), io);
                break;
            case Nbd.CMD_BLOCK_STATUS:
                return device.extentsAsync(r.offset(), r.length(), io).thenApply(e -> blockStatus(alloc, r, e));
            default:
                return CompletableFuture.completedFuture(error(alloc, r, NbdError.EINVAL, "unknown command " + r.type()));
        }
        return done.thenApply(v -> List.of(TransmissionReplies.simple(alloc, r.cookie(), 0)));
    }

    private CompletableFuture<List<Object>> readAsync(ByteBufAllocator alloc, NbdRequest r, IoContext io) {
        int length = (int) r.length();
        if (length == 0) {
            return CompletableFuture.completedFuture(emptyRead(alloc, r));
        }
        ByteBuf data = alloc.directBuffer(length, length);
        CompletableFuture<Void> filled;
        try {
            filled = device.readAsync(r.offset(), data.nioBuffer(0, length), io);
        } catch (RuntimeException e) {
            data.release();
            throw e;
        }
        return filled.handle((v, failure) -> {
            if (failure != null) {
                data.release();
                throw failure instanceof CompletionException c ? c : new CompletionException(failure);
            }
            data.writerIndex(length);
            return readReply(alloc, r, data);
        });
    }

    /** The error reply for a request whose asynchronous run failed. */
    List<Object> failed(ByteBufAllocator alloc, NbdRequest r, Throwable failure) {
        Throwable e = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        NbdError error = errorOf(e);
        if (error == NbdError.EIO) {
            log.warn("I/O error on export {} (command {}, offset {}, length {}): {}",
                    LogText.quoted(session.exportName()), r.type(), r.offset(), r.length(), e.toString());
        }
        return error(alloc, r, error, String.valueOf(e.getMessage()));
    }

    private void write(NbdRequest r, boolean fua) throws IOException {
        ByteBuf payload = r.payload();
        if (payload.nioBufferCount() == 1) {
            device.write(r.offset(), payload.nioBuffer(), fua);
            return;
        }
        device.write(r.offset(), payload.nioBuffers(), fua);
    }

    private List<Object> read(ByteBufAllocator alloc, NbdRequest r) throws IOException {
        int length = (int) r.length();
        if (length == 0) {
            return emptyRead(alloc, r);
        }
        return readReply(alloc, r, readData(alloc, r.offset(), length)); // data first: a failed read leaves no header behind
    }

    private List<Object> emptyRead(ByteBufAllocator alloc, NbdRequest r) {
        return List.of(session.structuredReplies()
                ? TransmissionReplies.done(alloc, r.cookie()) : TransmissionReplies.simple(alloc, r.cookie(), 0));
    }

    /** The reply to a READ of at least one byte whose data was read (and is given to the reply). */
    private List<Object> readReply(ByteBufAllocator alloc, NbdRequest r, ByteBuf data) {
        long cookie = r.cookie();
        if (!session.structuredReplies()) {
            return List.of(TransmissionReplies.simple(alloc, cookie, 0), data);
        }
        if (r.hasFlag(Nbd.CMD_FLAG_DF) || data.readableBytes() >= ZERO_COPY_MIN_BYTES) {
            // Large reads go as one chunk, zeros as data, as they would with sendfile: scanning a
            // MiB for zero runs costs more than sending them (block-status-driven copiers ask small).
            return List.of(TransmissionReplies.offsetDataHeader(alloc, cookie, true, r.offset(), data.readableBytes()), data);
        }
        return ZeroRuns.chunks(alloc, cookie, r.offset(), data);
    }

    private ByteBuf readData(ByteBufAllocator alloc, long offset, int length) throws IOException {
        ByteBuf data = alloc.directBuffer(length, length);
        try {
            device.read(offset, data.nioBuffer(0, length));
            data.writerIndex(length);
            return data;
        } catch (IOException | RuntimeException e) {
            data.release();
            throw e;
        }
    }

    private List<Object> blockStatus(ByteBufAllocator alloc, NbdRequest r) throws IOException {
        return blockStatus(alloc, r, device.extents(r.offset(), r.length()));
    }

    private List<Object> blockStatus(ByteBufAllocator alloc, NbdRequest r, List<Extent> extents) {
        int count = r.hasFlag(Nbd.CMD_FLAG_REQ_ONE) ? 1 : Math.min(extents.size(), MAX_DESCRIPTORS);
        long[] lengths = new long[count];
        int[] flags = new int[count];
        for (int i = 0; i < count; i++) {
            Extent e = extents.get(i);
            lengths[i] = e.length();
            flags[i] = e.hole() ? Nbd.STATE_HOLE | Nbd.STATE_ZERO : 0;
        }
        return List.of(TransmissionReplies.blockStatus(alloc, r.cookie(), true, session.baseAllocationContext(),
                lengths, flags, count));
    }

    /** The reply for a refused or failed request, in the form the session negotiated. */
    List<Object> error(ByteBufAllocator alloc, NbdRequest r, NbdError error, String message) {
        if (session.structuredReplies()) {
            return List.of(TransmissionReplies.error(alloc, r.cookie(), error.code(), message));
        }
        // A failed READ's simple reply carries no data, so the client stays in step.
        return List.of(TransmissionReplies.simple(alloc, r.cookie(), error.code()));
    }

    static NbdError errorOf(Throwable e) {
        if (e instanceof DeviceException d) {
            return NbdError.of(d.error());
        }
        if (e instanceof IllegalArgumentException || e instanceof IndexOutOfBoundsException) {
            return NbdError.EINVAL;
        }
        if (e instanceof OutOfMemoryError) {
            return NbdError.ENOMEM;
        }
        return NbdError.EIO;
    }
}
