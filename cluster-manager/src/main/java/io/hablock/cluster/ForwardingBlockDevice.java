package io.hablock.cluster;

import io.hablock.blockstore.Extent;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.client.NbdClient;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A volume owned by another node, served here by forwarding every request to the current
 * owner over NBD. When the owner goes away (killed, cut off, moved), a request waits for the
 * cluster to name a new owner that serves the volume, reconnects there and is sent again: the
 * client on this host sees a pause, not an error. Requests are idempotent (a write of the same
 * bytes at the same place), so sending one twice is harmless.
 */
final class ForwardingBlockDevice implements BlockDevice {
    private static final Logger log = LoggerFactory.getLogger(ForwardingBlockDevice.class);
    /**
     * Connections kept open to the owner: one per request in flight at once, which the server's
     * I/O threads bound (a request waits on its connection). Fewer would mean a connect and a
     * handshake for every request beyond them.
     */
    private static final int CONNECTIONS = 64;
    private static final Duration GIVE_UP = Duration.ofSeconds(60);
    private static final long RETRY_MS = 200;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** At most one line per this interval about failing requests: one per outage, not one per request. */
    private static final long RETRY_LOG_NANOS = 10_000_000_000L;

    private final String volume;
    private final long size;
    private final boolean readOnly;
    /** The address of the node serving the volume now, if any. */
    private final Supplier<Optional<InetSocketAddress>> owner;
    private final Runnable onClose;
    /** This node's advertised address: connections come from it, so the owner can tell them from applications'. */
    private volatile InetAddress localAddress;
    private final BlockingQueue<NbdClient> idle = new ArrayBlockingQueue<>(CONNECTIONS);
    private volatile boolean closed;
    private volatile long lastRetryLog = System.nanoTime() - RETRY_LOG_NANOS;

    ForwardingBlockDevice(String volume, long size, boolean readOnly, Supplier<Optional<InetSocketAddress>> owner,
            InetAddress localAddress, Runnable onClose) {
        this.localAddress = localAddress;
        this.volume = volume;
        this.size = size;
        this.readOnly = readOnly;
        this.owner = owner;
        this.onClose = onClose;
    }

    private interface Call {
        void run(NbdClient client) throws IOException;
    }

    /** Runs {@code call} on a connection to the current owner, reconnecting and retrying until it succeeds. */
    private void forward(Call call) throws IOException {
        long deadline = System.nanoTime() + GIVE_UP.toNanos();
        IOException last = null;
        while (!closed) {
            NbdClient client = idle.poll();
            try {
                if (client == null) {
                    client = connect();
                }
                call.run(client);
                if (!idle.offer(client)) {
                    client.close();
                }
                return;
            } catch (IOException e) {
                // The owner died, was cut off, or no longer serves the volume: find the next one.
                last = e;
                if (client != null) {
                    client.close();
                }
                drainIdle();
                if (System.nanoTime() > deadline) {
                    break;
                }
                long now = System.nanoTime();
                if (now - lastRetryLog > RETRY_LOG_NANOS) {
                    lastRetryLog = now;
                    log.info("volume {}: request to the owner failed ({}); retrying until a serving owner answers",
                            volume, e.getMessage());
                } else {
                    log.debug("volume {}: request to the owner failed ({}); retrying", volume, e.getMessage());
                }
                sleep();
            }
        }
        throw new IOException("volume " + volume + ": no owner answered within " + GIVE_UP.toSeconds() + " s"
                + (last == null ? "" : ": " + last.getMessage()), last);
    }

    private NbdClient connect() throws IOException {
        InetSocketAddress address = owner.get()
                .orElseThrow(() -> new IOException("volume " + volume + " has no serving owner right now"));
        NbdClient client = null;
        InetAddress local = localAddress;
        if (local != null) {
            try {
                client = NbdClient.connect(address, volume, CONNECT_TIMEOUT, local);
            } catch (BindException e) {
                log.info("volume {}: cannot connect to the owner from {} ({}); using the address routing picks",
                        volume, local.getHostAddress(), e.getMessage());
                localAddress = null;
            }
        }
        if (client == null) {
            client = NbdClient.connect(address, volume, CONNECT_TIMEOUT);
        }
        // An owner that hangs or is cut off sends no reset: leave it as soon as the cluster
        // names another, rather than after the reply timeout.
        client.abandonWhen(() -> owner.get().filter(address::equals).isPresent() ? null
                : "the cluster no longer names " + address + " the serving owner");
        return client;
    }

    private void drainIdle() {
        for (NbdClient c; (c = idle.poll()) != null; ) {
            c.close();
        }
    }

    private static void sleep() throws IOException {
        try {
            Thread.sleep(RETRY_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public boolean canMultiConn() {
        return true; // every request ends at the owner, whose flush covers all its connections
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int position = dst.position();
        forward(c -> {
            ByteBuffer view = dst.duplicate();
            view.position(position);
            c.read(offset, view);
        });
        dst.position(dst.limit());
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        write(offset, new ByteBuffer[] {src}, fua);
    }

    @Override
    public void write(long offset, ByteBuffer[] parts, boolean fua) throws IOException {
        // One request to the owner, not one per part, sent from the parts as they are. Each
        // attempt sends from views of its own: a failed one may have sent some of them.
        forward(c -> {
            ByteBuffer[] views = new ByteBuffer[parts.length];
            for (int i = 0; i < parts.length; i++) {
                views[i] = parts[i].duplicate();
            }
            c.write(offset, views, fua);
        });
    }

    @Override
    public void flush() throws IOException {
        forward(NbdClient::flush);
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        forward(c -> c.trim(offset, length, fua));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastOnly, boolean fua) throws IOException {
        forward(c -> c.writeZeroes(offset, length, !mayTrim, fua));
    }

    @Override
    public List<Extent> extents(long offset, long length) {
        return List.of(new Extent(offset, length, false)); // allocation is the owner's business: all data
    }

    @Override
    public void cache(long offset, long length) {
    }

    @Override
    public void close() {
        closed = true;
        drainIdle();
        onClose.run();
    }
}
