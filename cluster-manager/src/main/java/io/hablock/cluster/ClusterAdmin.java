package io.hablock.cluster;

import io.hablock.blockstore.InvalidVolumeException;
import io.hablock.blockstore.Sizes;
import io.hablock.blockstore.VolumeNames;
import io.hablock.cluster.model.ClientSession;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The operator's requests, as the CLI makes them: validated up front, carried out by the
 * controller and the nodes, waited for here. A request that cannot be carried out leaves
 * nothing behind in ZooKeeper.
 */
public final class ClusterAdmin {
    /** Most copies a volume may have. */
    public static final int MAX_COPIES = 5;
    private static final long POLL_MS = 100;

    private final ClusterClient cluster;

    public ClusterAdmin(ClusterClient cluster) {
        this.cluster = cluster;
    }

    /** Creates a volume with the default minimum of in-sync copies ({@link VolumeRecord#defaultMinCopies}). */
    public VolumeRecord createVolume(String name, long sizeBytes, int copies, Duration timeout) throws ClusterException {
        return createVolume(name, sizeBytes, copies, VolumeRecord.defaultMinCopies(copies), timeout);
    }

    /**
     * Creates a volume anyone may attach and waits until every copy exists and the owner serves it.
     *
     * @param minCopies fewest in-sync copies with which writes are acknowledged (1 to {@code copies})
     */
    public VolumeRecord createVolume(String name, long sizeBytes, int copies, int minCopies, Duration timeout)
            throws ClusterException {
        return createVolume(name, sizeBytes, copies, minCopies, timeout, AllowList.ANYONE);
    }

    /**
     * Creates a volume that only clients in {@code allow} may attach, and waits until every copy
     * exists and the owner serves it.
     */
    public VolumeRecord createVolume(String name, long sizeBytes, int copies, int minCopies, Duration timeout,
            AllowList allow) throws ClusterException {
        return createVolume(name, sizeBytes, copies, minCopies, timeout, allow, null);
    }

    /**
     * Creates a volume as above, moved to where it is mounted or not as {@code locality} says
     * ({@code auto}, {@code off}, or null for the setting of the node that mounts it).
     */
    public VolumeRecord createVolume(String name, long sizeBytes, int copies, int minCopies, Duration timeout,
            AllowList allow, String locality) throws ClusterException {
        checkLocality(locality);
        try {
            VolumeNames.checkName(name);
            VolumeNames.checkSize(name, sizeBytes);
        } catch (InvalidVolumeException e) {
            throw new ClusterException(e.getMessage(), e);
        }
        if (copies < 1 || copies > MAX_COPIES) {
            throw new ClusterException("--copies must be between 1 and " + MAX_COPIES + ", not " + copies);
        }
        if (minCopies < 1 || minCopies > copies) {
            throw new ClusterException("--min-copies must be between 1 and the copy count " + copies + ", not " + minCopies);
        }
        if (cluster.volume(name).isPresent()) {
            throw new ClusterException("volume '" + name + "' already exists");
        }
        Map<String, NodeInfo> live = cluster.liveNodes();
        Map<String, Member> members = cluster.members();
        long normal = live.keySet().stream()
                .filter(id -> members.containsKey(id) && members.get(id).status() == NodeStatus.NORMAL
                        && live.get(id).capacityBytes() > 0) // a host endpoint with --no-copies takes none
                .count();
        if (normal < copies) {
            throw new ClusterException("cannot create a " + copies + "-copy volume: the cluster has " + normal
                    + " live node(s) taking copies, and every copy needs a node of its own");
        }
        // Right after the nodes start, the election may still be running.
        long electionDeadline = System.nanoTime() + Math.min(timeout.toNanos(), Duration.ofSeconds(15).toNanos());
        while (cluster.controllerId().isEmpty()) {
            if (System.nanoTime() > electionDeadline) {
                throw new ClusterException("the cluster has no controller right now; retry in a few seconds");
            }
            sleep();
        }
        VolumeRecord request = VolumeRecord.pending(name, cluster.nextVdisk(), sizeBytes, copies, minCopies)
                .withAllow(allow.blocks()).withLocality(locality);
        if (!cluster.createVolume(request)) {
            throw new ClusterException("volume '" + name + "' already exists");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Optional<Versioned<VolumeRecord>> v = cluster.volume(name);
            if (v.isEmpty() || !v.get().value().uuid().equals(request.uuid())) {
                throw new ClusterException("volume '" + name + "' was removed while being created");
            }
            VolumeRecord r = v.get().value();
            if (r.isServed()) {
                return r;
            }
            if (r.state() == VolumeState.FAILED) {
                cluster.deleteVolume(name, v.get().version());
                throw new ClusterException(r.error());
            }
            if (System.nanoTime() > deadline) {
                abandon(name, request);
                throw new ClusterException("volume '" + name + "' was not ready within " + timeout.toSeconds()
                        + " s (state " + r.health() + "); the request was withdrawn");
            }
            sleep();
        }
    }

    private void abandon(String name, VolumeRecord request) throws ClusterException {
        cluster.updateVolume(name, cur -> cur.uuid().equals(request.uuid()) && cur.state() != VolumeState.DELETING
                ? cur.withState(VolumeState.DELETING) : cur);
    }

    /**
     * Removes a volume and waits until every copy is deleted. Refused while an NBD client is
     * connected.
     */
    public void removeVolume(String name, Duration timeout) throws ClusterException {
        Versioned<VolumeRecord> v = cluster.volume(name)
                .orElseThrow(() -> new ClusterException("no volume named '" + name + "'"));
        List<String> clients = cluster.sessionsOf(name).stream().map(ClientSession::describe).toList();
        if (!clients.isEmpty()) {
            throw new ClusterException("volume '" + name + "' has " + clients.size() + " connected client(s) ("
                    + String.join(", ", clients) + "): disconnect them first");
        }
        VolumeRecord r = v.value();
        cluster.updateVolume(name, cur -> cur.uuid().equals(r.uuid()) && cur.state() != VolumeState.DELETING
                ? cur.withState(VolumeState.DELETING) : cur);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Optional<Versioned<VolumeRecord>> now = cluster.volume(name);
            if (now.isEmpty() || !now.get().value().uuid().equals(r.uuid())) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new ClusterException("volume '" + name + "' is being deleted but copies remain on "
                        + String.join(", ", now.get().value().replicas().keySet()) + " after " + timeout.toSeconds()
                        + " s; it will finish when those nodes answer");
            }
            sleep();
        }
    }

    /** A node by name or id. */
    public Member node(String nameOrId) throws ClusterException {
        Map<String, Member> members = cluster.members();
        Member byId = members.get(nameOrId);
        if (byId != null) {
            return byId;
        }
        List<Member> byName = members.values().stream().filter(m -> m.name().equals(nameOrId)).toList();
        if (byName.size() == 1) {
            return byName.get(0);
        }
        throw new ClusterException(byName.isEmpty() ? "no node named '" + nameOrId + "'"
                : "several nodes are named '" + nameOrId + "': use the node id");
    }

    /** Sets a node's status (cordon, uncordon, drain), checking the transition. */
    public Member setNodeStatus(String nameOrId, NodeStatus status) throws ClusterException {
        for (int attempt = 0; attempt < 20; attempt++) {
            Member m = node(nameOrId);
            var current = cluster.member(m.id()).orElseThrow(() -> new ClusterException("node " + nameOrId + " vanished"));
            if (current.value().status() == status) {
                return current.value();
            }
            if (current.value().status() == NodeStatus.MAINTENANCE && status == NodeStatus.NORMAL) {
                throw new ClusterException("node " + m.name() + " is unreachable (maintenance); it becomes normal when it returns");
            }
            Member next;
            try {
                next = current.value().withStatus(status);
            } catch (IllegalStateException e) {
                throw new ClusterException(e.getMessage(), e);
            }
            if (cluster.casMember(current, next)) {
                cluster.record(io.hablock.cluster.model.Event.info(Controller.SOURCE, "node " + m.name() + " (" + m.id()
                        + ") is now " + status.label() + " (operator)"));
                return next;
            }
        }
        throw new ClusterException("cannot update node " + nameOrId + ": too many concurrent changes");
    }

    /**
     * Asks for {@code volume} to be owned by {@code node}; when the node holds no copy, one is
     * built there first (locality rebuild). Refused while a client is connected.
     */
    public VolumeRecord requestMove(String volume, String nameOrId) throws ClusterException {
        return requestMove(volume, nameOrId, false);
    }

    /**
     * A locality move: {@code volume} to be owned by {@code nameOrId}, the node whose host uses it
     * (a copy built there first when it holds none). Clients that reach the volume through a
     * node's endpoint follow it ({@link ClientSession#follows()}), so only clients connected
     * straight to the owner of a node that does not forward, which would lose their connection,
     * hold it back.
     */
    public VolumeRecord requestLocalityMove(String volume, String nameOrId) throws ClusterException {
        return requestMove(volume, nameOrId, true);
    }

    private VolumeRecord requestMove(String volume, String nameOrId, boolean forwardedClientsFollow) throws ClusterException {
        Member target = node(nameOrId);
        VolumeRecord r = cluster.volume(volume).orElseThrow(() -> new ClusterException("no volume named '" + volume + "'"))
                .value();
        if (r.state() != VolumeState.READY) {
            throw new ClusterException("volume '" + volume + "' is " + r.health() + ", not ready to move");
        }
        if (target.id().equals(r.owner())) {
            throw new ClusterException("volume '" + volume + "' is already owned by node " + target.name());
        }
        if (!cluster.liveNodes().containsKey(target.id()) || target.status() != NodeStatus.NORMAL) {
            throw new ClusterException("node " + target.name() + " is " + target.status().label()
                    + (cluster.liveNodes().containsKey(target.id()) ? "" : " and not live") + ": it cannot take the volume");
        }
        List<String> clients = cluster.sessionsOf(volume).stream()
                .filter(s -> !forwardedClientsFollow || !s.follows())
                .map(ClientSession::describe).toList();
        if (!clients.isEmpty()) {
            throw new ClusterException("volume '" + volume + "' has " + clients.size() + " connected client(s) ("
                    + String.join(", ", clients) + "): disconnect them before moving it");
        }
        return cluster.updateVolume(volume, cur -> cur.withDesiredOwner(target.id()))
                .orElseThrow(() -> new ClusterException("volume '" + volume + "' vanished")).value();
    }

    /** The size, as the CLI accepts it ({@code 10G}), or a one-line error. */
    public static long parseSize(String size) throws ClusterException {
        try {
            return Sizes.parse(size);
        } catch (IllegalArgumentException e) {
            throw new ClusterException(e.getMessage(), e);
        }
    }

    private static void sleep() throws ClusterException {
        try {
            Thread.sleep(POLL_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClusterException("interrupted");
        }
    }

    /**
     * Sets who may attach a volume from now on (connections already open stay).
     *
     * @return the record as changed
     */
    public VolumeRecord allow(String name, AllowList allow) throws ClusterException {
        return cluster.updateVolume(name, cur -> cur.withAllow(allow.blocks()))
                .orElseThrow(() -> new ClusterException("no volume named '" + name + "'")).value();
    }

    /**
     * Sets whether the volume moves to the node where it is mounted: {@code auto}, {@code off},
     * or null for the setting of the node that mounts it. Applies to the next mount.
     *
     * @return the record as changed
     */
    public VolumeRecord locality(String name, String locality) throws ClusterException {
        checkLocality(locality);
        return cluster.updateVolume(name, cur -> cur.withLocality(locality))
                .orElseThrow(() -> new ClusterException("no volume named '" + name + "'")).value();
    }

    /**
     * Gives the root znode of the ZooKeeper at {@code connectString} the cluster's ACL alone, for
     * an ensemble that serves this cluster only: anonymous clients can then neither list nor
     * create anything in it (hablock's own znodes carry that ACL already).
     *
     * @return false when the root had it already
     */
    public static boolean lockZooKeeperRoot(String connectString, io.hablock.cluster.security.ClusterSecret secret)
            throws ClusterException {
        return ZkAcls.lockRoot(connectString, secret);
    }

    /** A one-line error unless {@code locality} is {@code auto}, {@code off} or null. */
    public static void checkLocality(String locality) throws ClusterException {
        if (locality != null && !locality.equals(VolumeRecord.LOCALITY_AUTO) && !locality.equals(VolumeRecord.LOCALITY_OFF)) {
            throw new ClusterException("locality must be auto or off, not '" + locality + "'");
        }
    }
}
