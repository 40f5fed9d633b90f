package io.hablock.nativeio.nbd;

/**
 * Constants of netlink ({@code uapi/linux/netlink.h}), generic netlink ({@code genetlink.h}) and the
 * {@code nbd} generic-netlink family ({@code nbd-netlink.h}). Names as in the headers.
 */
public final class Netlink {
    private Netlink() {
    }

    // Sockets
    public static final int AF_NETLINK = 16;
    public static final int NETLINK_GENERIC = 16;

    // struct nlmsghdr: u32 len, u16 type, u16 flags, u32 seq, u32 pid
    public static final int NLMSG_HDRLEN = 16;
    public static final int NLMSG_ALIGNTO = 4;
    public static final int NLMSG_ERROR = 2;
    public static final int NLMSG_DONE = 3;
    public static final int NLM_F_REQUEST = 0x1;
    public static final int NLM_F_MULTI = 0x2;
    public static final int NLM_F_ACK = 0x4;
    /** In an NLMSG_ERROR ack: the request's payload was not echoed back. */
    public static final int NLM_F_CAPPED = 0x100;

    // struct nlattr: u16 len, u16 type; the two high bits of type are flags
    public static final int NLA_HDRLEN = 4;
    public static final int NLA_ALIGNTO = 4;
    public static final int NLA_F_NESTED = 1 << 15;
    public static final int NLA_F_NET_BYTEORDER = 1 << 14;
    public static final int NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

    // struct genlmsghdr: u8 cmd, u8 version, u16 reserved
    public static final int GENL_HDRLEN = 4;
    public static final int GENL_ID_CTRL = 0x10;
    public static final int CTRL_VERSION = 1;
    public static final int CTRL_CMD_NEWFAMILY = 1;
    public static final int CTRL_CMD_GETFAMILY = 3;
    public static final int CTRL_ATTR_FAMILY_ID = 1;
    public static final int CTRL_ATTR_FAMILY_NAME = 2;
    /** The family of the genl controller itself: always present, always {@link #GENL_ID_CTRL}. */
    public static final String CTRL_FAMILY_NAME = "nlctrl";

    // nbd-netlink.h
    public static final String NBD_GENL_FAMILY_NAME = "nbd";
    public static final int NBD_GENL_VERSION = 1;

    public static final int NBD_CMD_CONNECT = 1;
    public static final int NBD_CMD_DISCONNECT = 2;
    public static final int NBD_CMD_RECONFIGURE = 3;
    public static final int NBD_CMD_LINK_DEAD = 4;
    public static final int NBD_CMD_STATUS = 5;

    public static final int NBD_ATTR_INDEX = 1; // u32
    public static final int NBD_ATTR_SIZE_BYTES = 2; // u64
    public static final int NBD_ATTR_BLOCK_SIZE_BYTES = 3; // u64
    public static final int NBD_ATTR_TIMEOUT = 4; // u64, seconds
    public static final int NBD_ATTR_SERVER_FLAGS = 5; // u64, the NBD transmission flags
    public static final int NBD_ATTR_CLIENT_FLAGS = 6; // u64, NBD_CFLAG_*
    public static final int NBD_ATTR_SOCKETS = 7; // nested NBD_SOCK_ITEMs
    public static final int NBD_ATTR_DEAD_CONN_TIMEOUT = 8; // u64, seconds
    public static final int NBD_ATTR_DEVICE_LIST = 9;
    public static final int NBD_ATTR_BACKEND_IDENTIFIER = 10; // string, shown in /sys/block/nbdN/backend

    public static final int NBD_SOCK_ITEM = 1; // nested
    public static final int NBD_SOCK_FD = 1; // u32

    public static final int NBD_CFLAG_DESTROY_ON_DISCONNECT = 1;
    public static final int NBD_CFLAG_DISCONNECT_ON_CLOSE = 1 << 1;

    /** Rounds {@code length} up to the 4-byte alignment of netlink messages and attributes. */
    public static int align(int length) {
        return (length + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
    }
}
