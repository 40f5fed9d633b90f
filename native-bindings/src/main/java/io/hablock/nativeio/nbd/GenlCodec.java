package io.hablock.nativeio.nbd;

import static io.hablock.nativeio.nbd.Netlink.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes the generic-netlink requests hablock sends (controller GETFAMILY, nbd CONNECT and
 * DISCONNECT) and decodes what comes back. Pure Java over byte buffers in native byte order, with
 * the 4-byte alignment of netlink messages and attributes; no I/O.
 */
public final class GenlCodec {
    private GenlCodec() {
    }

    /** {@code CTRL_CMD_GETFAMILY} for {@code name}: the reply's CTRL_ATTR_FAMILY_ID is the family id. */
    public static ByteBuffer getFamily(int seq, String name) {
        return new Writer(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, CTRL_CMD_GETFAMILY, CTRL_VERSION)
                .string(CTRL_ATTR_FAMILY_NAME, name)
                .finish();
    }

    /** {@code NBD_CMD_CONNECT}: the reply carries NBD_ATTR_INDEX, the device the kernel chose. */
    public static ByteBuffer connect(int nbdFamily, int seq, NbdConnectRequest r) {
        Writer w = new Writer(nbdFamily, NLM_F_REQUEST | NLM_F_ACK, seq, NBD_CMD_CONNECT, NBD_GENL_VERSION);
        r.index().ifPresent(i -> w.u32(NBD_ATTR_INDEX, i));
        w.u64(NBD_ATTR_SIZE_BYTES, r.sizeBytes())
                .u64(NBD_ATTR_BLOCK_SIZE_BYTES, r.blockSize())
                .u64(NBD_ATTR_SERVER_FLAGS, r.serverFlags())
                .u64(NBD_ATTR_TIMEOUT, r.timeout().toSeconds())
                .u64(NBD_ATTR_DEAD_CONN_TIMEOUT, r.deadConnTimeout().toSeconds());
        int sockets = w.beginNest(NBD_ATTR_SOCKETS);
        for (int fd : r.socketFds()) {
            int item = w.beginNest(NBD_SOCK_ITEM);
            w.u32(NBD_SOCK_FD, fd);
            w.endNest(item);
        }
        w.endNest(sockets);
        r.backendIdentifier().ifPresent(id -> w.string(NBD_ATTR_BACKEND_IDENTIFIER, id));
        return w.finish();
    }

    /** {@code NBD_CMD_DISCONNECT} of {@code /dev/nbd<index>}. */
    public static ByteBuffer disconnect(int nbdFamily, int seq, int index) {
        return new Writer(nbdFamily, NLM_F_REQUEST | NLM_F_ACK, seq, NBD_CMD_DISCONNECT, NBD_GENL_VERSION)
                .u32(NBD_ATTR_INDEX, index)
                .finish();
    }

    /**
     * Every message of one datagram, in order. {@code datagram} is read from its position to its
     * limit; its byte order is ignored (netlink is native-endian).
     */
    public static List<NetlinkMessage> decode(ByteBuffer datagram) throws NetlinkFormatException {
        ByteBuffer b = datagram.duplicate().order(ByteOrder.nativeOrder());
        List<NetlinkMessage> out = new ArrayList<>();
        while (b.remaining() >= NLMSG_HDRLEN) {
            int start = b.position();
            int len = b.getInt(start);
            if (len < NLMSG_HDRLEN || len > b.remaining()) {
                throw new NetlinkFormatException("message length " + len + " with " + b.remaining() + " bytes left");
            }
            int type = b.getShort(start + 4) & 0xffff;
            int flags = b.getShort(start + 6) & 0xffff;
            int seq = b.getInt(start + 8);
            int portId = b.getInt(start + 12);
            ByteBuffer payload = b.slice(start + NLMSG_HDRLEN, len - NLMSG_HDRLEN).order(ByteOrder.nativeOrder());
            out.add(message(type, flags, seq, portId, payload));
            b.position(Math.min(b.limit(), start + align(len)));
        }
        if (b.hasRemaining()) {
            throw new NetlinkFormatException(b.remaining() + " trailing bytes");
        }
        return out;
    }

    private static NetlinkMessage message(int type, int flags, int seq, int portId, ByteBuffer payload)
            throws NetlinkFormatException {
        switch (type) {
            case NLMSG_ERROR:
                // struct nlmsgerr: int error (0 or -errno), then the request's header (and maybe more)
                if (payload.remaining() < 4) {
                    throw new NetlinkFormatException("NLMSG_ERROR without an error code");
                }
                return new NetlinkMessage.Error(seq, -payload.getInt(0));
            case NLMSG_DONE:
                return new NetlinkMessage.Done(seq);
            default:
                if (payload.remaining() < GENL_HDRLEN) {
                    throw new NetlinkFormatException("message type " + type + " without a genl header");
                }
                int cmd = payload.get(0) & 0xff;
                int version = payload.get(1) & 0xff;
                List<NlAttribute> attributes = attributes(payload.position(GENL_HDRLEN).slice());
                return new NetlinkMessage.Genl(type, flags, seq, portId, cmd, version, attributes);
        }
    }

    /** Parses consecutive attributes from position to limit. */
    static List<NlAttribute> attributes(ByteBuffer b) throws NetlinkFormatException {
        b = b.slice().order(ByteOrder.nativeOrder());
        List<NlAttribute> out = new ArrayList<>();
        while (b.remaining() >= NLA_HDRLEN) {
            int start = b.position();
            int len = b.getShort(start) & 0xffff;
            int rawType = b.getShort(start + 2) & 0xffff;
            if (len < NLA_HDRLEN || len > b.remaining()) {
                throw new NetlinkFormatException("attribute length " + len + " with " + b.remaining() + " bytes left");
            }
            out.add(new NlAttribute(rawType & NLA_TYPE_MASK, (rawType & NLA_F_NESTED) != 0,
                    b.slice(start + NLA_HDRLEN, len - NLA_HDRLEN)));
            b.position(Math.min(b.limit(), start + align(len)));
        }
        if (b.hasRemaining()) {
            throw new NetlinkFormatException(b.remaining() + " trailing bytes after the attributes");
        }
        return out;
    }

    /** Builds one message; lengths are patched in when a nest or the message ends. */
    private static final class Writer {
        private ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.nativeOrder());

        Writer(int type, int flags, int seq, int cmd, int version) {
            b.putInt(0).putShort((short) type).putShort((short) flags).putInt(seq).putInt(0); // pid 0: the kernel
            b.put((byte) cmd).put((byte) version).putShort((short) 0);
        }

        Writer u32(int type, int value) {
            header(NLA_HDRLEN + 4, type).putInt(value);
            return this;
        }

        Writer u64(int type, long value) {
            header(NLA_HDRLEN + 8, type).putLong(value);
            return this;
        }

        Writer string(int type, String value) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            header(NLA_HDRLEN + bytes.length + 1, type).put(bytes).put((byte) 0);
            pad();
            return this;
        }

        /** Starts a nested attribute; returns its offset for {@link #endNest}. */
        int beginNest(int type) {
            int at = b.position();
            header(NLA_HDRLEN, type | NLA_F_NESTED);
            return at;
        }

        void endNest(int at) {
            b.putShort(at, (short) (b.position() - at));
        }

        ByteBuffer finish() {
            b.putInt(0, b.position());
            return b.flip().asReadOnlyBuffer().order(ByteOrder.nativeOrder());
        }

        private ByteBuffer header(int length, int type) {
            ensure(align(length));
            return b.putShort((short) length).putShort((short) type);
        }

        private void pad() {
            while ((b.position() & (NLA_ALIGNTO - 1)) != 0) {
                b.put((byte) 0);
            }
        }

        private void ensure(int more) {
            if (b.remaining() < more) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(b.capacity() * 2, b.position() + more))
                        .order(ByteOrder.nativeOrder());
                b.flip();
                bigger.put(b);
                b = bigger;
            }
        }
    }
}
