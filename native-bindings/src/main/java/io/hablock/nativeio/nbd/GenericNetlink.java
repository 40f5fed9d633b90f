package io.hablock.nativeio.nbd;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * A generic-netlink socket doing one request at a time: sends a request with NLM_F_ACK and
 * collects the replies up to the acknowledgement, turning an NLMSG_ERROR into a typed {@link
 * NativeIOException}. Not thread-safe; close it when done.
 */
public final class GenericNetlink implements AutoCloseable {
    private static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(10);
    private static final AtomicInteger SEQUENCE = new AtomicInteger((int) (System.nanoTime() & 0x3fffffff));

    private final NbdSyscalls sys;
    private final int fd;

    private GenericNetlink(NbdSyscalls sys, int fd) {
        this.sys = sys;
        this.fd = fd;
    }

    /** Opens and binds a NETLINK_GENERIC socket. */
    public static GenericNetlink open(NbdSyscalls sys) throws NativeIOException {
        return new GenericNetlink(sys, sys.openGenericNetlink(RECEIVE_TIMEOUT));
    }

    /** The id of genl family {@code name}, empty when the kernel does not know it (ENOENT). */
    public OptionalInt resolveFamily(String name) throws IOException {
        List<NetlinkMessage.Genl> replies;
        try {
            replies = request("CTRL_CMD_GETFAMILY(" + name + ")", seq -> GenlCodec.getFamily(seq, name));
        } catch (NativeIOException e) {
            if (e.errno() == Errno.ENOENT) {
                return OptionalInt.empty();
            }
            throw e;
        }
        for (NetlinkMessage.Genl reply : replies) {
            var id = reply.attribute(Netlink.CTRL_ATTR_FAMILY_ID);
            if (id.isPresent()) {
                return OptionalInt.of(id.get().u16());
            }
        }
        throw new NetlinkFormatException("GETFAMILY reply without CTRL_ATTR_FAMILY_ID");
    }

    /**
     * Sends the message {@code encoder} builds for a fresh sequence number and returns the replies
     * for that number, in order, once the kernel acknowledged it.
     *
     * @param operation names the request in exceptions, e.g. "NBD_CMD_CONNECT"
     * @throws NativeIOException with the errno of an NLMSG_ERROR
     */
    public List<NetlinkMessage.Genl> request(String operation, IntFunction<ByteBuffer> encoder) throws IOException {
        int seq = SEQUENCE.incrementAndGet();
        sys.sendToKernel(fd, encoder.apply(seq));
        List<NetlinkMessage.Genl> replies = new ArrayList<>();
        while (true) {
            for (NetlinkMessage m : GenlCodec.decode(sys.receive(fd))) {
                if (m.seq() != seq) {
                    continue; // a late answer to an earlier request on this socket
                }
                if (m instanceof NetlinkMessage.Error e) {
                    if (e.isAck()) {
                        return replies;
                    }
                    throw NativeIOException.of("netlink " + operation, e.errno());
                }
                if (m instanceof NetlinkMessage.Genl g) {
                    replies.add(g);
                }
            }
        }
    }

    @Override
    public void close() throws NativeIOException {
        sys.close(fd);
    }
}
