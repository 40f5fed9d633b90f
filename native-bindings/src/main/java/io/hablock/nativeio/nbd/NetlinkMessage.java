package io.hablock.nativeio.nbd;

import java.util.List;
import java.util.Optional;

/** One decoded netlink message: a generic-netlink message, an error/ack, or the end of a dump. */
public sealed interface NetlinkMessage {

    /** The sequence number: a reply carries the number of the request it answers. */
    int seq();

    /**
     * A generic-netlink message (request or reply).
     *
     * @param family the netlink message type: the genl family id
     * @param flags NLM_F_* flags
     * @param portId the sender's port id (0 for the kernel)
     * @param cmd genl command
     * @param version genl family version
     */
    record Genl(int family, int flags, int seq, int portId, int cmd, int version, List<NlAttribute> attributes)
            implements NetlinkMessage {
        public Genl {
            attributes = List.copyOf(attributes);
        }

        public Optional<NlAttribute> attribute(int type) {
            return NlAttribute.find(attributes, type);
        }
    }

    /**
     * NLMSG_ERROR: {@code errno} 0 is the acknowledgement of a request sent with NLM_F_ACK,
     * otherwise the (positive) errno the request failed with.
     */
    record Error(int seq, int errno) implements NetlinkMessage {
        public boolean isAck() {
            return errno == 0;
        }
    }

    /** NLMSG_DONE: the end of a multi-part reply. */
    record Done(int seq) implements NetlinkMessage {
    }
}
