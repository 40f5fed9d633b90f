package io.hablock.nativeio.nbd;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A kernel for tests: answers genl GETFAMILY (knowing "nbd" only when loaded) and the nbd family's
 * CONNECT/DISCONNECT like drivers/block/nbd.c does, and records the ioctls on /dev/nbdN files that
 * exist under the test's dev root. NBD_DO_IT writes the pid file and blocks until NBD_DISCONNECT.
 */
final class FakeKernel implements NbdSyscalls {
    static final int NBD_FAMILY = 0x21;

    private final Path sysRoot;
    private final AtomicInteger nextFd = new AtomicInteger(100);
    private final Map<Integer, Deque<ByteBuffer>> inbox = new ConcurrentHashMap<>();
    final List<ByteBuffer> netlinkRequests = Collections.synchronizedList(new ArrayList<>());
    final List<String> ioctls = Collections.synchronizedList(new ArrayList<>());
    final List<Integer> closed = Collections.synchronizedList(new ArrayList<>());
    private final CountDownLatch disconnected = new CountDownLatch(1);
    volatile boolean nbdFamilyRegistered;
    volatile Errno connectError;
    volatile Errno ioctlError;
    volatile int chosenIndex = 0;

    FakeKernel(Path sysRoot) {
        this.sysRoot = sysRoot;
    }

    @Override
    public int openGenericNetlink(Duration receiveTimeout) {
        int fd = nextFd.incrementAndGet();
        inbox.put(fd, new ArrayDeque<>());
        return fd;
    }

    @Override
    public void sendToKernel(int fd, ByteBuffer message) throws NativeIOException {
        netlinkRequests.add(message.duplicate());
        NetlinkMessage.Genl m;
        try {
            m = (NetlinkMessage.Genl) GenlCodec.decode(message).get(0);
        } catch (NetlinkFormatException e) {
            throw new UncheckedIOException(e);
        }
        Deque<ByteBuffer> replies = inbox.get(fd);
        if (m.family() == Netlink.GENL_ID_CTRL && m.cmd() == Netlink.CTRL_CMD_GETFAMILY) {
            String name = m.attribute(Netlink.CTRL_ATTR_FAMILY_NAME).orElseThrow().string();
            if (name.equals("nbd") && nbdFamilyRegistered) {
                replies.add(reply(Netlink.GENL_ID_CTRL, m.seq(), Netlink.CTRL_CMD_NEWFAMILY, Netlink.CTRL_ATTR_FAMILY_ID,
                        NBD_FAMILY, 2));
                replies.add(error(m.seq(), 0));
            } else {
                replies.add(error(m.seq(), Errno.ENOENT.code()));
            }
        } else if (m.family() == NBD_FAMILY && m.cmd() == Netlink.NBD_CMD_CONNECT) {
            if (connectError != null) {
                replies.add(error(m.seq(), connectError.code()));
                return;
            }
            int index = m.attribute(Netlink.NBD_ATTR_INDEX).map(FakeKernel::u32).orElse(chosenIndex);
            replies.add(reply(NBD_FAMILY, m.seq(), Netlink.NBD_CMD_CONNECT, Netlink.NBD_ATTR_INDEX, index, 4));
            replies.add(error(m.seq(), 0));
        } else if (m.family() == NBD_FAMILY && m.cmd() == Netlink.NBD_CMD_DISCONNECT) {
            replies.add(error(m.seq(), 0));
        } else {
            replies.add(error(m.seq(), Errno.EINVAL.code()));
        }
    }

    @Override
    public ByteBuffer receive(int fd) throws NativeIOException {
        ByteBuffer next = inbox.get(fd).poll();
        if (next == null) {
            throw NativeIOException.of("recv(netlink)", Errno.EAGAIN);
        }
        return next;
    }

    @Override
    public int openDevice(Path path) throws NativeIOException {
        if (!Files.exists(path)) {
            throw NativeIOException.of("open(" + path + ")", Errno.ENOENT);
        }
        return nextFd.incrementAndGet();
    }

    @Override
    public void ioctl(int fd, int request, long arg) throws NativeIOException {
        ioctls.add(NbdIoctl.name(request) + " " + arg);
        if (ioctlError != null && request == NbdIoctl.NBD_SET_SOCK) {
            throw NativeIOException.of("ioctl(" + NbdIoctl.name(request) + ")", ioctlError);
        }
        if (request == NbdIoctl.NBD_DISCONNECT) {
            disconnected.countDown();
        } else if (request == NbdIoctl.NBD_DO_IT) {
            try {
                Path pid = sysRoot.resolve("block/nbd" + chosenIndex + "/pid");
                Files.createDirectories(pid.getParent());
                Files.writeString(pid, "4242\n");
                disconnected.await();
                Files.delete(pid);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                throw NativeIOException.of("ioctl(NBD_DO_IT)", Errno.EINTR);
            }
        }
    }

    @Override
    public void close(int fd) {
        closed.add(fd);
    }

    @Override
    public int connectTcp(InetSocketAddress address, Duration timeout) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void clearTimeouts(int fd) {
        throw new UnsupportedOperationException();
    }

    @Override
    public int read(int fd, byte[] buffer, int offset, int length) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void write(int fd, byte[] buffer, int offset, int length) {
        throw new UnsupportedOperationException();
    }

    private static int u32(NlAttribute a) {
        try {
            return a.u32();
        } catch (NetlinkFormatException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A genl reply with one integer attribute of {@code width} bytes (2 or 4), as the kernel sends it. */
    private static ByteBuffer reply(int family, int seq, int cmd, int attr, int value, int width) {
        ByteBuffer b = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder());
        b.putInt(28).putShort((short) family).putShort((short) 0).putInt(seq).putInt(0);
        b.put((byte) cmd).put((byte) 1).putShort((short) 0);
        b.putShort((short) (4 + width)).putShort((short) attr);
        if (width == 2) {
            b.putShort((short) value).putShort((short) 0);
        } else {
            b.putInt(value);
        }
        return b.flip();
    }

    /** NLMSG_ERROR with -errno (0: the ack), capped: the request header only. */
    private static ByteBuffer error(int seq, int errno) {
        ByteBuffer b = ByteBuffer.allocate(36).order(ByteOrder.nativeOrder());
        b.putInt(36).putShort((short) Netlink.NLMSG_ERROR).putShort((short) Netlink.NLM_F_CAPPED).putInt(seq).putInt(0);
        b.putInt(-errno).putInt(0).putInt(0).putInt(seq).putInt(0);
        return b.flip();
    }
}
