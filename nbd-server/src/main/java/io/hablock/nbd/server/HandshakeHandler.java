package io.hablock.nbd.server;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.ExportProvider;
import io.hablock.nbd.ExportUnavailableException;
import io.hablock.nbd.protocol.Nbd;
import io.hablock.nbd.protocol.NbdFrameDecoder;
import io.hablock.nbd.protocol.NbdOption;
import io.hablock.nbd.protocol.OptionReplies;
import io.hablock.nbd.tls.ServerTls;
import io.hablock.nbd.tls.TlsMode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The handshake and option haggling of fixed newstyle negotiation. When the client picks an
 * export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME) this handler hands the connection over to a
 * {@link TransmissionHandler} and leaves the pipeline. NBD_OPT_STARTTLS puts an {@code SslHandler}
 * at the head of the pipeline, behind its ACK; the server's {@link TlsMode} says whether it may,
 * and whether anything else may come first.
 */
final class HandshakeHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HandshakeHandler.class);

    private static final int OFFERED_FLAGS = Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES;
    /** The only context we offer; ids are ours to choose. */
    static final int BASE_ALLOCATION_ID = 1;

    /** Where the negotiation stands. */
    private enum State { AWAIT_CLIENT_FLAGS, OPTIONS, DONE }

    private final ExportProvider exports;
    private final ServerContext server;
    private State state = State.AWAIT_CLIENT_FLAGS;
    private boolean noZeroes;
    private boolean structuredReplies;
    private String metaContextExport;
    private boolean baseAllocationSelected;
    /** NBD_OPT_STARTTLS was accepted: everything since goes through the TLS layer. */
    private boolean tlsActive;

    HandshakeHandler(ExportProvider exports, ServerContext server) {
        this.exports = exports;
        this.server = server;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(OptionReplies.greeting(ctx.alloc(), OFFERED_FLAGS));
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof NbdFrameDecoder.ClientFlags flags && state == State.AWAIT_CLIENT_FLAGS) {
            onClientFlags(ctx, flags.flags());
        } else if (msg instanceof NbdOption option && state == State.OPTIONS) {
            try {
                onOption(ctx, option);
            } finally {
                option.release();
            }

        } else {
            io.netty.util.ReferenceCountUtil.release(msg);
            ConnectionErrors.close(ctx, "unexpected message during handshake");
        }
    }

    private void onClientFlags(ChannelHandlerContext ctx, int flags) {
        if ((flags & ~OFFERED_FLAGS) != 0) {
            ConnectionErrors.close(ctx, String.format("client set handshake flags 0x%08x that were not offered", flags));
            return;
        }
        if ((flags & Nbd.FLAG_C_FIXED_NEWSTYLE) == 0) {
            // Plain newstyle has no way to answer an option with an error; the spec lets a server
            // that requires fixed newstyle close (as nbdkit and qemu-nbd do).
            ConnectionErrors.close(ctx, "client does not speak fixed newstyle (client flags "
                    + String.format("0x%08x", flags) + ")");
            return;
        }
        noZeroes = (flags & Nbd.FLAG_C_NO_ZEROES) != 0;
        state = State.OPTIONS;
    }

    private void onOption(ChannelHandlerContext ctx, NbdOption option) {
        int code = option.code();
        ByteBuf data = option.data();
        ByteBufAllocator alloc = ctx.alloc();
        if (server.isShuttingDown() && code != Nbd.OPT_ABORT) {
            ctx.writeAndFlush(OptionReplies.error(alloc, code, Nbd.REP_ERR_SHUTDOWN, "server is shutting down"))
                    .addListener(ChannelFutureListener.CLOSE);
            state = State.DONE;
            return;
        }
        if (server.tls().mode() == TlsMode.REQUIRE && !tlsActive
                && code != Nbd.OPT_STARTTLS && code != Nbd.OPT_ABORT) {
            refuseBeforeTls(ctx, code);
            return;
        }
        switch (code) {
            case Nbd.OPT_EXPORT_NAME -> exportName(ctx, data);
            case Nbd.OPT_ABORT -> {
                state = State.DONE;
                ctx.writeAndFlush(OptionReplies.reply(alloc, code, Nbd.REP_ACK)).addListener(ChannelFutureListener.CLOSE);
            }
            case Nbd.OPT_LIST -> list(ctx, data);
            case Nbd.OPT_INFO, Nbd.OPT_GO -> infoOrGo(ctx, code, data);
            case Nbd.OPT_STRUCTURED_REPLY -> {
                if (data.isReadable()) {
                    invalid(ctx, code, "NBD_OPT_STRUCTURED_REPLY takes no data");
                } else {
                    structuredReplies = true;
                    ctx.writeAndFlush(OptionReplies.reply(alloc, code, Nbd.REP_ACK));
                }
            }
            case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(ctx, code, data);
            case Nbd.OPT_STARTTLS -> startTls(ctx, data);
            default -> ctx.writeAndFlush(OptionReplies.error(alloc, code, Nbd.REP_ERR_UNSUP,
                    "option " + code + " is not supported"));
        }
    }

    /** FORCEDTLS: options other than STARTTLS and ABORT wait for TLS. */
    private void refuseBeforeTls(ChannelHandlerContext ctx, int code) {
        if (code == Nbd.OPT_EXPORT_NAME) {
            // NBD_OPT_EXPORT_NAME has no error reply: the spec says to close.
            state = State.DONE;
            ConnectionErrors.close(ctx, "NBD_OPT_EXPORT_NAME before STARTTLS on a server that requires TLS");
            return;
        }
        ctx.writeAndFlush(OptionReplies.error(ctx.alloc(), code, Nbd.REP_ERR_TLS_REQD,
                "this server requires TLS: send NBD_OPT_STARTTLS first"));
    }

    private void startTls(ChannelHandlerContext ctx, ByteBuf data) {
        ServerTls tls = server.tls();
        if (tls.mode() == TlsMode.OFF) {
            ctx.writeAndFlush(OptionReplies.error(ctx.alloc(), Nbd.OPT_STARTTLS, Nbd.REP_ERR_UNSUP,
                    "TLS is not enabled on this server"));
        } else if (tlsActive) {
            invalid(ctx, Nbd.OPT_STARTTLS, "TLS is already active");
        } else if (data.isReadable()) {
            invalid(ctx, Nbd.OPT_STARTTLS, "NBD_OPT_STARTTLS takes no data");
        } else if (!ctx.pipeline().get(NbdFrameDecoder.class).startTls()) {
            state = State.DONE;
            ConnectionErrors.close(ctx, "bytes sent in the clear after NBD_OPT_STARTTLS");
        } else {
            tlsActive = true;
            // The first write (the ACK) passes in the clear; the client's TLS handshake follows it,
            // and a failed one closes the connection (SslHandler), as the spec wants.
            ctx.pipeline().addFirst("tls", tls.context().newHandler(ctx.alloc()));
            ctx.writeAndFlush(OptionReplies.reply(ctx.alloc(), Nbd.OPT_STARTTLS, Nbd.REP_ACK));
            // The spec: what was negotiated before STARTTLS must be negotiated again after it.
            structuredReplies = false;
            metaContextExport = null;
            baseAllocationSelected = false;
        }
    }

    private void exportName(ChannelHandlerContext ctx, ByteBuf data) {
        String name = data.toString(StandardCharsets.UTF_8);
        BlockDevice device;
        try {
            device = openFor(ctx, name, ctx.channel().remoteAddress());
        } catch (ExportUnavailableException e) {
            // NBD_OPT_EXPORT_NAME has no error reply: the spec says to close.
            ConnectionErrors.close(ctx, "NBD_OPT_EXPORT_NAME " + LogText.quoted(name) + ": " + e.getMessage());
            state = State.DONE;
            return;
        }
        ctx.writeAndFlush(OptionReplies.exportNameReply(ctx.alloc(), device.size(),
                transmissionFlags(device), !noZeroes));
        startTransmission(ctx, name, device);
    }

    /**
     * Opens an export this client may see ({@link ExportProvider#mayOpen}); one it may not is
     * answered as one that does not exist.
     *
     * @param session the client's address when it starts a session, null for a query
     */
    private BlockDevice openFor(ChannelHandlerContext ctx, String name, java.net.SocketAddress session)
            throws ExportUnavailableException {
        if (!exports.mayOpen(name, ctx.channel().remoteAddress())) {
            throw new ExportUnavailableException("no such export");
        }
        return exports.open(name, session);
    }

    private void list(ChannelHandlerContext ctx, ByteBuf data) {
        if (data.isReadable()) {
            invalid(ctx, Nbd.OPT_LIST, "NBD_OPT_LIST takes no data");
            return;
        }
        for (ExportProvider.ExportInfo export : exports.list(ctx.channel().remoteAddress())) {
            ctx.write(OptionReplies.server(ctx.alloc(), Nbd.OPT_LIST, export.name(), export.description()));
        }
        ctx.writeAndFlush(OptionReplies.reply(ctx.alloc(), Nbd.OPT_LIST, Nbd.REP_ACK));
    }

    private void infoOrGo(ChannelHandlerContext ctx, int code, ByteBuf data) {
        // u32 name length, name, u16 number of requests, u16 each
        if (data.readableBytes() < 6) {
            invalid(ctx, code, "option data too short");
            return;
        }
        long nameLength = data.readUnsignedInt();
        if (nameLength > Nbd.MAX_STRING || nameLength + 2 > data.readableBytes()) {
            invalid(ctx, code, "export name length does not match the option length");
            return;
        }
        String name = data.readCharSequence((int) nameLength, StandardCharsets.UTF_8).toString();
        int requests = data.readUnsignedShort();
        if (data.readableBytes() != 2 * requests) {
            invalid(ctx, code, "information request count does not match the option length");
            return;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < requests; i++) {
            int info = data.readUnsignedShort();
            wantName |= info == Nbd.INFO_NAME;
            wantDescription |= info == Nbd.INFO_DESCRIPTION;
        }
        BlockDevice device;
        try {
            // Only GO starts a session on the export; INFO merely asks about it.
            device = openFor(ctx, name, code == Nbd.OPT_GO ? ctx.channel().remoteAddress() : null);
        } catch (ExportUnavailableException e) {
            ctx.writeAndFlush(OptionReplies.error(ctx.alloc(), code, Nbd.REP_ERR_UNKNOWN, e.getMessage()));
            return;
        }
        ByteBufAllocator alloc = ctx.alloc();
        ctx.write(OptionReplies.infoExport(alloc, code, device.size(), transmissionFlags(device)));
        if (wantName) {
            ctx.write(OptionReplies.infoText(alloc, code, Nbd.INFO_NAME, name));
        }
        if (wantDescription) {
            ctx.write(OptionReplies.infoText(alloc, code, Nbd.INFO_DESCRIPTION, exports.describe(name)));
        }
        // Sent whether or not it was asked for, as the spec allows: we accept any alignment.
        ctx.write(OptionReplies.infoBlockSize(alloc, code, 1, server.config().preferredBlockBytes(),
                server.config().maxPayloadBytes()));
        ctx.writeAndFlush(OptionReplies.reply(alloc, code, Nbd.REP_ACK));
        if (code == Nbd.OPT_INFO) {
            device.close();
        } else {
            startTransmission(ctx, name, device);
        }
    }

    private void metaContext(ChannelHandlerContext ctx, int code, ByteBuf data) {
        if (code == Nbd.OPT_SET_META_CONTEXT) {
            // A SET replaces the earlier selection even when it fails (spec), so drop it first.
            metaContextExport = null;
            baseAllocationSelected = false;
        }
        if (!structuredReplies) {
            invalid(ctx, code, "metadata contexts need structured replies first");
            return;
        }
        // u32 export name length, name, u32 number of queries, then (u32 length, query) each
        if (data.readableBytes() < 8) {
            invalid(ctx, code, "option data too short");
            return;
        }
        long nameLength = data.readUnsignedInt();
        if (nameLength > Nbd.MAX_STRING || nameLength + 4 > data.readableBytes()) {
            invalid(ctx, code, "export name length does not match the option length");
            return;
        }
        String name = data.readCharSequence((int) nameLength, StandardCharsets.UTF_8).toString();
        long queries = data.readUnsignedInt();
        boolean list = code == Nbd.OPT_LIST_META_CONTEXT;
        boolean matched = list && queries == 0;
        for (long i = 0; i < queries; i++) {
            if (data.readableBytes() < 4) {
                invalid(ctx, code, "query count does not match the option length");
                return;
            }
            long length = data.readUnsignedInt();
            if (length > Nbd.MAX_STRING || length > data.readableBytes()) {
                invalid(ctx, code, "query length does not match the option length");
                return;
            }
            String query = data.readCharSequence((int) length, StandardCharsets.UTF_8).toString();
            matched |= query.equals(Nbd.BASE_ALLOCATION) || (list && query.equals("base:"));
        }
        if (data.isReadable()) {
            invalid(ctx, code, "trailing bytes after the queries");
            return;
        }
        try {
            openFor(ctx, name, null).close();
        } catch (ExportUnavailableException e) {
            ctx.writeAndFlush(OptionReplies.error(ctx.alloc(), code, Nbd.REP_ERR_UNKNOWN, e.getMessage()));
            return;
        }
        if (!list) {
            metaContextExport = name;
            baseAllocationSelected = matched;
        }
        if (matched) {
            ctx.write(OptionReplies.metaContext(ctx.alloc(), code, list ? 0 : BASE_ALLOCATION_ID, Nbd.BASE_ALLOCATION));
        }
        ctx.writeAndFlush(OptionReplies.reply(ctx.alloc(), code, Nbd.REP_ACK));
    }

    private void invalid(ChannelHandlerContext ctx, int code, String message) {
        ctx.writeAndFlush(OptionReplies.error(ctx.alloc(), code, Nbd.REP_ERR_INVALID, message));
    }

    private int transmissionFlags(BlockDevice device) {
        int flags = Nbd.TFLAG_HAS_FLAGS | Nbd.TFLAG_SEND_FLUSH | Nbd.TFLAG_SEND_FUA | Nbd.TFLAG_SEND_CACHE;
        if (device.isReadOnly()) {
            flags |= Nbd.TFLAG_READ_ONLY;
        } else {
            flags |= Nbd.TFLAG_SEND_TRIM | Nbd.TFLAG_SEND_WRITE_ZEROES | Nbd.TFLAG_SEND_FAST_ZERO;
        }
        if (device.canMultiConn()) {
            flags |= Nbd.TFLAG_CAN_MULTI_CONN;
        }
        if (structuredReplies) {
            flags |= Nbd.TFLAG_SEND_DF;
        }
        return flags;
    }

    private void startTransmission(ChannelHandlerContext ctx, String name, BlockDevice device) {
        state = State.DONE;
        // A context selected for another export does not carry over (the spec lets us drop it).
        int context = baseAllocationSelected && name.equals(metaContextExport) ? BASE_ALLOCATION_ID : 0;
        Session session = new Session(name, structuredReplies, context, tlsActive);
        ctx.pipeline().get(NbdFrameDecoder.class).enterTransmission();
        ctx.pipeline().replace(this, "transmission", new TransmissionHandler(device, session, server));
        log.debug("{} connected to export {}", ctx.channel().remoteAddress(), LogText.quoted(name));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ConnectionErrors.closeOnException(ctx, cause);
    }
}
