package io.hablock.cluster;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.curator.framework.state.ConnectionState;

/**
 * Keeps the I/O of the file systems this host mounted through its Docker plugin within their
 * mount claims. A claim is an ephemeral znode of the plugin's ZooKeeper session: when this host
 * loses ZooKeeper (and only ZooKeeper) for longer than the session timeout, the claim expires and
 * another host may mount the volume, while the file system here still has writes to send, made
 * from what it last read. Those must never land on the volume the other host now uses.
 *
 * <p>So a mount's requests run only while the plugin's session is confirmed alive: a
 * {@link Lease} on that session, renewed every tenth of the session timeout, holds for half of
 * it after each answer, well before ZooKeeper could expire the session and let the claim go.
 * Without the lease, requests wait (a ZooKeeper outage shorter than the session timeout is a
 * pause, nothing more); once the session is lost, they wait until the plugin claims the mount
 * again in its next session, which it may only if no other host claimed it in between (the
 * claim's serial, {@link ClusterClient#claimMount}). If one did, the mount is fenced for good:
 * every request of its connections fails, queued ones included, and the file system sees I/O
 * errors instead of overwriting another host's data.
 *
 * <p>A mount's connections are the application connections this node opens for the volume
 * while the mount is registered ({@link #mounted}); a node's forwarder asking this node as
 * the owner is another host's client and is not gated.
 */
public final class MountFence implements AutoCloseable {
    /** What a mount's requests may do now. */
    enum State {
        /** Run. */
        OPEN,
        /** Wait: the session is not confirmed alive now, or it was lost and the mount not claimed again yet. */
        HELD,
        /** Fail: another host claimed the volume since this host's claim was lost. */
        FENCED
    }

    /** The gate of one mount: the session its claim belongs to now, and the claim's serial. */
    final class Gate {
        private volatile long session;
        private volatile int serial;
        private volatile boolean fenced;
        private volatile boolean released;

        private Gate(long session, int serial) {
            this.session = session;
            this.serial = serial;
        }

        State state() {
            if (fenced) {
                return State.FENCED;
            }
            return released || lease.holds(session) ? State.OPEN : State.HELD;
        }
    }

    private final Lease lease;
    private volatile Runnable onReconnect = () -> {
    };
    private final Map<String, Gate> gates = new ConcurrentHashMap<>();
    private final java.util.Set<String> fenced = ConcurrentHashMap.newKeySet();

    /** @param client the plugin's ZooKeeper session, the one its claims are made in */
    public MountFence(ClusterClient client, Duration sessionTimeout) {
        this.lease = new Lease(client.curator(), null, sessionTimeout, System::nanoTime);
        client.curator().getConnectionStateListenable().addListener((c, state) -> {
            if (state == ConnectionState.LOST) {
                lease.sessionLost();
            } else if (state == ConnectionState.RECONNECTED) {
                onReconnect.run();
            }
        });
        lease.start();
    }

    /**
     * Run (on Curator's event thread: hand the work to another) when the session reconnects: the
     * time to claim again the mounts whose session was lost ({@link #stale}).
     */
    public MountFence onReconnect(Runnable task) {
        this.onReconnect = task;
        return this;
    }

    /** The claim of {@code volume} is held by {@code session} at {@code serial}: its mount's I/O follows that session. */
    public void mounted(String volume, long session, int serial) {
        Gate g = gates.get(volume);
        if (g == null) {
            gates.put(volume, new Gate(session, serial));
        } else {
            g.serial = serial;
            g.session = session; // claimed again in a new session: what waited goes on
        }
        fenced.remove(volume);
    }

    /**
     * Another host claimed the volume after this host's claim was lost: its mount here is fenced,
     * until it is unmounted.
     */
    public void taken(String volume) {
        Gate g = gates.remove(volume);
        if (g != null) {
            g.fenced = true;
        }
        fenced.add(volume);
    }

    /** The mount is gone: its connections, if any are left, are no longer gated. */
    public void unmounted(String volume) {
        Gate g = gates.remove(volume);
        if (g != null) {
            g.released = true;
        }
        fenced.remove(volume);
    }

    /** Whether the volume's mount here is registered (its I/O gated by its claim). */
    public boolean isRegistered(String volume) {
        return gates.containsKey(volume);
    }

    /** Whether the volume's mount here was fenced (and not unmounted since). */
    public boolean isFenced(String volume) {
        return fenced.contains(volume);
    }

    /**
     * The serial the volume's claim had when it was last held, for a mount whose claim belongs to
     * a session that is gone (to claim it again, {@link ClusterClient#claimMount}), or -1 when
     * the mount's session is the current one or the volume is not mounted here.
     */
    public int stale(String volume) {
        Gate g = gates.get(volume);
        return g != null && lease.gone(g.session) ? g.serial : -1;
    }

    /** The volumes mounted here through the plugin (fenced ones excepted). */
    public java.util.Set<String> volumes() {
        return java.util.Set.copyOf(gates.keySet());
    }

    /** The gate for a connection to {@code volume} opened now, or null when the volume has no mount here. */
    Gate gate(String volume) {
        return gates.get(volume);
    }

    /**
     * What the volume's mount on this host may do now, for {@code docker volume inspect}: "-"
     * (not mounted here), "open", "held" (its claim not confirmed: ZooKeeper unreachable, or the
     * session lost and the claim not made again yet) or "fenced".
     */
    public String describe(String volume) {
        if (isFenced(volume)) {
            return "fenced (another host mounted the volume after this host lost its claim)";
        }
        Gate g = gates.get(volume);
        if (g == null) {
            return "-";
        }
        return g.state() == State.OPEN ? "open" : "held (this host's claim is not confirmed: ZooKeeper unreachable)";
    }

    @Override
    public void close() {
        lease.close();
    }
}
