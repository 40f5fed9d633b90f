package io.hablock.cluster;

import io.hablock.blockstore.Extent;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.client.NbdClient;
import io.hablock.nbd.client.NbdCommandException;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
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
 * client on this host sees a pause, not an error.
 *
 * <p>A request is sent again only when its earlier attempt can no longer land after it: the
 * owner answered it (with an error), closed the connection (an owner runs no queued request of
 * a closed connection), or the cluster named another owner or epoch (the new owner fenced every
 * in-sync copy before it served: nothing of the old epoch lands there). While the cluster still
 * names the owner it was sent to, a request waits for that owner's answer, up to
 * {@link #GIVE_UP}, and then fails without a second attempt: a write sent twice could otherwise
 * land after a newer write to the same place.
 */
final class ForwardingBlockDevice implements BlockDevice {
    private static final Logger log = LoggerFactory.getLogger(ForwardingBlockDevice.class);
    /**
     * Connections kept open to the owner: one per request in flight at once, which the server's
     * I/O threads bound (a request waits on its connection). Fewer would mean a connect and a
     * handshake for every request beyond them.
     */
    private static final int CONNECTIONS = 64;
    static final Duration GIVE_UP = Duration.ofSeconds(60);
    private static final long RETRY_MS = 200;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** At most one line per this interval about failing requests: one per outage, not one per request. */
    private static final long RETRY_LOG_NANOS = 10_000_000_000L;

    /** The node serving the volume, at an epoch: a connection belongs to one. */
    record Owner(InetSocketAddress address, long epoch) {
    }

    /** A connection to the owner it was made to. */
    private record Link(NbdClient client, Owner owner) {
    }

    private final String volume;
    private final long size;
    private final boolean readOnly;
    /** The node serving the volume now, if any. */
    private final Supplier<Optional<Owner>> owner;
    private final Runnable onClose;
    /** This node's advertised address: connections come from it, so the owner can tell them from applications'. */
    private volatile InetAddress localAddress;
    private final BlockingQueue<Link> idle = new ArrayBlockingQueue<>(CONNECTIONS);
    private volatile boolean closed;
    private volatile long lastRetryLog = System.nanoTime() - RETRY_LOG_NANOS;

    ForwardingBlockDevice(String volume, long size, boolean readOnly, Supplier<Optional<Owner>> owner,
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

    /**
     * Runs {@code call} on a connection to the current owner, reconnecting and sending it again
     * when that is safe (see the class comment), until it succeeds or {@link #GIVE_UP} passed.
     */
    private void forward(Call call) throws IOException {
        long deadline = System.nanoTime() + GIVE_UP.toNanos();
        IOException last = null;
        while (!closed) {
            Link link = idle.poll();
            try {
                Optional<Owner> now = owner.get();
                if (link != null && !now.equals(Optional.of(link.owner()))) {
                    link.client().close(); // made to an owner the cluster has replaced (a pause, a failover)
                    link = null;
                }
                if (link == null) {
                    link = connect(now);
                }
                call.run(link.client());
                if (!idle.offer(link)) {
                    link.client().close();
                }
                return;
            } catch (IOException e) {
                // The owner died, was cut off, or no longer serves the volume: find the next one.
                last = e;
                if (link != null) {
                    link.client().close();
                    if (!mayResend(link.owner(), e)) {
                        throw new IOException("volume " + volume + ": the owner did not answer within "
                                + GIVE_UP.toSeconds() + " s and still serves the volume: " + e.getMessage(), e);
                    }
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

    /**
     * Whether a request whose attempt on a connection to {@code sentTo} failed with {@code e} may
     * be sent again: when the owner answered, closed the connection, or is no longer the one the
     * cluster names. Not when the wait for its answer ran out while it still is.
     */
    private boolean mayResend(Owner sentTo, IOException e) {
        if (e instanceof NbdCommandException) {
            return true; // answered: that attempt is over
        }
        boolean timedOut = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
            timedOut |= t instanceof SocketTimeoutException;
        }
        return !timedOut || !owner.get().equals(Optional.of(sentTo));
    }

    private Link connect(Optional<Owner> now) throws IOException {
        Owner target = now.orElseThrow(() -> new IOException("volume " + volume + " has no serving owner right now"));
        InetSocketAddress address = target.address();
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
        // names another, and wait for it as long as it does not.
        client.replyTimeout(GIVE_UP);
        client.abandonWhen(() -> owner.get().filter(target::equals).isPresent() ? null
                : "the cluster no longer names " + address + " (epoch " + target.epoch() + ") the serving owner");
        return new Link(client, target);
    }

    private void drainIdle() {
        for (Link l; (l = idle.poll()) != null; ) {
            l.client().close();
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
