package io.hablock.nativeio.nbd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/**
 * One decoded netlink attribute: its type (flags stripped) and a read-only view of its payload, in
 * native byte order.
 *
 * @param type the attribute type without {@link Netlink#NLA_F_NESTED} / {@link Netlink#NLA_F_NET_BYTEORDER}
 * @param nestedFlag whether the sender set {@link Netlink#NLA_F_NESTED} (the kernel often does not)
 * @param value the payload, without padding
 */
public record NlAttribute(int type, boolean nestedFlag, ByteBuffer value) {
    public NlAttribute {
        value = value.asReadOnlyBuffer().order(ByteOrder.nativeOrder());
    }

    public int u8() throws NetlinkFormatException {
        return value.get(checkLength(1)) & 0xff;
    }

    public int u16() throws NetlinkFormatException {
        return value.getShort(checkLength(2)) & 0xffff;
    }

    public int u32() throws NetlinkFormatException {
        return value.getInt(checkLength(4));
    }

    public long u64() throws NetlinkFormatException {
        return value.getLong(checkLength(8));
    }

    /** A NUL-terminated string attribute (NLA_NUL_STRING / NLA_STRING), without the terminator. */
    public String string() {
        ByteBuffer b = value.duplicate();
        int end = b.position();
        while (end < b.limit() && b.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - b.position()];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The payload parsed as a list of attributes (a nest). */
    public List<NlAttribute> nested() throws NetlinkFormatException {
        return GenlCodec.attributes(value.duplicate());
    }

    /** The first attribute of {@code type} in {@code attributes}. */
    public static Optional<NlAttribute> find(List<NlAttribute> attributes, int type) {
        return attributes.stream().filter(a -> a.type == type).findFirst();
    }

    private int checkLength(int wanted) throws NetlinkFormatException {
        if (value.remaining() < wanted) {
            throw new NetlinkFormatException(
                    "attribute " + type + " has " + value.remaining() + " bytes, expected " + wanted);
        }
        return value.position();
    }
}
