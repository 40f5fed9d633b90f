package io.hablock.cluster;

import io.hablock.cluster.model.ClientSession;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.MountClaim;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.security.ClusterSecret;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * Reads and changes the cluster state in ZooKeeper: what the CLI and the nodes share. Every
 * change of a volume record is a compare-and-set on the znode's version. Failures are
 * one-line {@link ClusterException}s.
 */
public final class ClusterClient implements AutoCloseable {
    /** How long a client waits for ZooKeeper before giving up with an error. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Events kept in ZooKeeper; older ones are trimmed by the controller. */
    public static final int EVENT_HISTORY = 1000;

    private final CuratorFramework curator;
    private final ZkPaths paths;
    private final String connectString;

    private ClusterClient(CuratorFramework curator, ZkPaths paths, String connectString) {
        this.curator = curator;
        this.paths = paths;
        this.connectString = connectString;
    }

    /**
     * Connects, waiting at most {@code connectTimeout}, authenticated with the cluster's
     * credentials: what this client creates only they may read or change.
     *
     * @throws ClusterException when ZooKeeper cannot be reached in time
     */
    public static ClusterClient connect(String connectString, String cluster, Duration sessionTimeout,
            Duration connectTimeout, ClusterSecret secret) throws ClusterException {
        ZkPaths paths = new ZkPaths(cluster);
        CuratorFramework curator = CuratorFrameworkFactory.builder()
                .connectString(connectString)
                .authorization("digest", ZkAcls.auth(secret))
                .aclProvider(ZkAcls.provider(secret))
                .sessionTimeoutMs((int) sessionTimeout.toMillis())
                .connectionTimeoutMs((int) Math.min(connectTimeout.toMillis(), sessionTimeout.toMillis()))
                .retryPolicy(new ExponentialBackoffRetry(100, 3, 1000))
                .build();
        curator.start();
        try {
            if (!curator.blockUntilConnected((int) connectTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
                curator.close();
                throw new ClusterException("cannot reach ZooKeeper at " + connectString + " within "
                        + connectTimeout.toSeconds() + " s (is a hablock server or ZooKeeper running there? see --zk)");
            }
        } catch (InterruptedException e) {
            curator.close();
            Thread.currentThread().interrupt();
            throw new ClusterException("interrupted while connecting to ZooKeeper", e);
        }
        return new ClusterClient(curator, paths, connectString);
    }

    public CuratorFramework curator() {
        return curator;
    }

    public ZkPaths paths() {
        return paths;
    }

    public String connectString() {
        return connectString;
    }

    // ---- nodes ------------------------------------------------------------------------------

    /** Live nodes by id (their ephemeral znodes). */
    public Map<String, NodeInfo> liveNodes() throws ClusterException {
        Map<String, NodeInfo> out = new LinkedHashMap<>();
        for (String id : children(paths.nodes())) {
            byte[] data = dataOrNull(paths.node(id));
            if (data != null) {
                out.put(id, Json.read(data, NodeInfo.class, paths.node(id)));
            }
        }
        return out;
    }

    /** Every member that ever joined, by id. */
    public Map<String, Member> members() throws ClusterException {
        Map<String, Member> out = new LinkedHashMap<>();
        for (String id : children(paths.members())) {
            byte[] data = dataOrNull(paths.member(id));
            if (data != null) {
                out.put(id, Json.read(data, Member.class, paths.member(id)));
            }
        }
        return out;
    }

    public Optional<Versioned<Member>> member(String id) throws ClusterException {
        return readVersioned(paths.member(id), Member.class);
    }

    /** Creates or overwrites a member record. */
    public void putMember(Member m) throws ClusterException {
        String path = paths.member(m.id());
        try {
            try {
                curator.create().creatingParentsIfNeeded().forPath(path, Json.write(m));
            } catch (KeeperException.NodeExistsException e) {
                curator.setData().forPath(path, Json.write(m));
            }
        } catch (Exception e) {
            throw failure("cannot write member " + m.name(), e);
        }
    }

    /** Compare-and-set of a member record; false when someone changed it first. */
    public boolean casMember(Versioned<Member> old, Member next) throws ClusterException {
        try {
            curator.setData().withVersion(old.version()).forPath(paths.member(next.id()), Json.write(next));
            return true;
        } catch (KeeperException.BadVersionException | KeeperException.NoNodeException e) {
            return false;
        } catch (Exception e) {
            throw failure("cannot update member " + next.name(), e);
        }
    }

    /** The node id of the elected controller, if there is one. */
    public Optional<String> controllerId() throws ClusterException {
        List<String> locks = children(paths.controller());
        Optional<String> first = locks.stream()
                .filter(n -> n.contains("latch-"))
                .min(Comparator.comparingLong(ZkPaths::sequenceOf));
        if (first.isEmpty()) {
            return Optional.empty();
        }
        byte[] data = dataOrNull(paths.controller() + "/" + first.get());
        return data == null || data.length == 0 ? Optional.empty() : Optional.of(new String(data, java.nio.charset.StandardCharsets.UTF_8));
    }

    // ---- volumes ----------------------------------------------------------------------------

    public List<Versioned<VolumeRecord>> volumes() throws ClusterException {
        List<Versioned<VolumeRecord>> out = new ArrayList<>();
        for (String name : children(paths.volumes())) {
            readVersioned(paths.volume(name), VolumeRecord.class).ifPresent(out::add);
        }
        out.sort(Comparator.comparing(v -> v.value().name()));
        return out;
    }

    public Optional<Versioned<VolumeRecord>> volume(String name) throws ClusterException {
        return readVersioned(paths.volume(name), VolumeRecord.class);
    }

    /** Creates the record; false when a volume of that name exists. */
    public boolean createVolume(VolumeRecord v) throws ClusterException {
        try {
            curator.create().creatingParentsIfNeeded().forPath(paths.volume(v.name()), Json.write(v));
            return true;
        } catch (KeeperException.NodeExistsException e) {
            return false;
        } catch (Exception e) {
            throw failure("cannot create volume " + v.name(), e);
        }
    }

    /**
     * Applies {@code change} to the current record and writes it back with a compare-and-set,
     * retrying on a concurrent change. {@code change} returns the record unchanged (same
     * instance) to write nothing; it may throw {@link IllegalStateException} to give up.
     *
     * @return the record as stored afterwards, or empty when the volume is gone
     */
    public Optional<Versioned<VolumeRecord>> updateVolume(String name, UnaryOperator<VolumeRecord> change)
            throws ClusterException {
        for (int attempt = 0; attempt < 50; attempt++) {
            Optional<Versioned<VolumeRecord>> current = volume(name);
            if (current.isEmpty()) {
                return current;
            }
            VolumeRecord next = change.apply(current.get().value());
            if (next == current.get().value()) {
                return current;
            }
            try {
                Stat stat = curator.setData().withVersion(current.get().version())
                        .forPath(paths.volume(name), Json.write(next));
                return Optional.of(new Versioned<>(next, stat.getVersion()));
            } catch (KeeperException.BadVersionException e) {
                // someone else changed it: read again
            } catch (KeeperException.NoNodeException e) {
                return Optional.empty();
            } catch (Exception e) {
                throw failure("cannot update volume " + name, e);
            }
        }
        throw new ClusterException("cannot update volume " + name + ": too many concurrent changes");
    }

    /** Deletes the record if it still has {@code version}; false otherwise. */
    public boolean deleteVolume(String name, int version) throws ClusterException {
        try {
            curator.delete().withVersion(version).forPath(paths.volume(name));
            try {
                curator.delete().forPath(paths.mountSerial(name)); // counts claims of this volume only
            } catch (KeeperException.NoNodeException e) {
                // never mounted through a plugin
            }
            return true;
        } catch (KeeperException.BadVersionException | KeeperException.NoNodeException e) {
            return false;
        } catch (Exception e) {
            throw failure("cannot delete volume " + name, e);
        }
    }

    /** A new vdisk id, unique in the cluster: {@code vd1}, {@code vd2}, ... */
    public String nextVdisk() throws ClusterException {
        try {
            String path = curator.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                    .forPath(paths.vdiskPrefix());
            curator.delete().forPath(path);
            return "vd" + (ZkPaths.sequenceOf(path) + 1);
        } catch (Exception e) {
            throw failure("cannot allocate a vdisk id", e);
        }
    }

    /** The NBD connections to a volume, as the nodes that accepted them published them. */
    public List<ClientSession> sessionsOf(String volume) throws ClusterException {
        List<ClientSession> out = new ArrayList<>();
        for (String id : children(paths.clientsOf(volume))) {
            String path = paths.client(volume, id);
            byte[] data = dataOrNull(path);
            if (data != null) {
                out.add(Json.read(data, ClientSession.class, path));
            }
        }
        return out;
    }

    /**
     * Records where a client put the volume (a device, a mount point) in the session of the
     * connection from {@code clientAddress}; false when no such session exists (yet).
     */
    public boolean annotateSession(String volume, String clientAddress, String attachment) throws ClusterException {
        for (String id : children(paths.clientsOf(volume))) {
            String path = paths.client(volume, id);
            try {
                Stat stat = new Stat();
                byte[] data = curator.getData().storingStatIn(stat).forPath(path);
                ClientSession s = Json.read(data, ClientSession.class, path);
                if (s.client().equals(clientAddress)) {
                    curator.setData().withVersion(stat.getVersion()).forPath(path, Json.write(s.withAttachment(attachment)));
                    return true;
                }
            } catch (KeeperException.NoNodeException e) {
                // that connection ended meanwhile
            } catch (ClusterException e) {
                throw e;
            } catch (Exception e) {
                throw failure("cannot update " + path, e);
            }
        }
        return false;
    }

    /** Creates a persistent znode (and its parents) if it is missing. */
    public void ensurePath(String path) throws ClusterException {
        try {
            curator.create().creatingParentsIfNeeded().forPath(path);
        } catch (KeeperException.NodeExistsException e) {
            // already there
        } catch (Exception e) {
            throw failure("cannot create " + path, e);
        }
    }

    /** Deletes a znode and everything under it, if it exists. */
    public void deleteTree(String path) throws ClusterException {
        try {
            curator.delete().deletingChildrenIfNeeded().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            // already gone
        } catch (Exception e) {
            throw failure("cannot delete " + path, e);
        }
    }

    /** The volume's rebuild in progress, if any. */
    public Optional<io.hablock.cluster.model.RebuildProgress> rebuild(String volume) throws ClusterException {
        byte[] data = dataOrNull(paths.rebuild(volume));
        return data == null ? Optional.empty()
                : Optional.of(Json.read(data, io.hablock.cluster.model.RebuildProgress.class, paths.rebuild(volume)));
    }

    // ---- Docker mounts -----------------------------------------------------------------------

    /** Who holds the volume's file system mounted through a Docker plugin, if anyone. */
    public Optional<MountClaim> mountClaim(String volume) throws ClusterException {
        byte[] data = dataOrNull(paths.mount(volume));
        return data == null ? Optional.empty() : Optional.of(Json.read(data, MountClaim.class, paths.mount(volume)));
    }

    /**
     * A mount claim: {@code held} by this client's {@code session}, the claims of the volume
     * counted up to {@code serial} (this one included); else {@code other}, who holds it now
     * (empty: nobody, but the volume was claimed after the serial asked for).
     */
    public record MountHold(boolean held, Optional<MountClaim> other, long session, int serial) {
        static MountHold taken(Optional<MountClaim> by) {
            return new MountHold(false, by, 0, -1);
        }
    }

    /**
     * Claims the volume's file system for a mount, as an ephemeral znode of this client's
     * session, and counts the claim in the volume's serial in the same transaction. A claim of
     * this node left by one of its sessions that is gone (a restart, a lost session) is made
     * again in this session.
     *
     * @param expectedSerial -1 for any; else the serial this node's last claim had: the claim is
     *     made only if no other was made since (a host that lost its claim takes it back only if
     *     no other host mounted the volume meanwhile)
     */
    public MountHold claimMount(String volume, MountClaim claim, int expectedSerial) throws ClusterException {
        String path = paths.mount(volume);
        String serialPath = paths.mountSerial(volume);
        try {
            for (int attempt = 0; attempt < 20; attempt++) {
                Stat serial = curator.checkExists().forPath(serialPath);
                if (serial == null) {
                    try {
                        curator.create().creatingParentsIfNeeded().forPath(serialPath);
                    } catch (KeeperException.NodeExistsException e) {
                        // made meanwhile
                    }
                    continue;
                }
                if (expectedSerial >= 0 && serial.getVersion() != expectedSerial) {
                    return MountHold.taken(mountClaim(volume));
                }
                curator.createContainers(paths.mounts());
                try {
                    curator.transaction().forOperations(
                            curator.transactionOp().create().withMode(CreateMode.EPHEMERAL).forPath(path, Json.write(claim)),
                            curator.transactionOp().setData().withVersion(serial.getVersion()).forPath(serialPath, new byte[0]));
                } catch (KeeperException.NodeExistsException e) {
                    Stat held = new Stat();
                    byte[] data;
                    try {
                        data = curator.getData().storingStatIn(held).forPath(path);
                    } catch (KeeperException.NoNodeException released) {
                        continue;
                    }
                    MountClaim by = Json.read(data, MountClaim.class, path);
                    if (!by.node().equals(claim.node())) {
                        return MountHold.taken(Optional.of(by));
                    }
                    if (held.getEphemeralOwner() != sessionId()) {
                        try { // this node's, from a session that is gone: made again in this one
                            curator.delete().withVersion(held.getVersion()).forPath(path);
                        } catch (KeeperException.NoNodeException | KeeperException.BadVersionException gone) {
                            // expired or changed meanwhile: looked at again
                        }
                        continue;
                    }
                    // Ours in this session already (or a retried transaction that had gone through).
                } catch (KeeperException.NoNodeException | KeeperException.BadVersionException e) {
                    continue; // the mounts' container went away, or another claim counted meanwhile
                }
                Stat mine = curator.checkExists().forPath(path);
                Stat counted = curator.checkExists().forPath(serialPath);
                if (mine == null || counted == null) {
                    continue;
                }
                // While the claim is held no other can be counted: the serial now is this claim's.
                return new MountHold(true, Optional.empty(), mine.getEphemeralOwner(), counted.getVersion());
            }
            throw new ClusterException("cannot claim the mount of " + volume + ": too many concurrent changes");
        } catch (ClusterException e) {
            throw e;
        } catch (Exception e) {
            throw failure("cannot claim the mount of " + volume, e);
        }
    }

    /** This client's ZooKeeper session id now, 0 while it has none. */
    public long sessionId() {
        try {
            return curator.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) {
            return 0;
        }
    }

    /** Gives up the claim on the volume's mount, if this node holds it. */
    public void releaseMount(String volume, String node) throws ClusterException {
        try {
            Stat stat = new Stat();
            byte[] data = curator.getData().storingStatIn(stat).forPath(paths.mount(volume));
            if (Json.read(data, MountClaim.class, paths.mount(volume)).node().equals(node)) {
                curator.delete().withVersion(stat.getVersion()).forPath(paths.mount(volume));
            }
        } catch (KeeperException.NoNodeException | KeeperException.BadVersionException e) {
            // not claimed, or claimed anew meanwhile: not ours to release
        } catch (ClusterException e) {
            throw e;
        } catch (Exception e) {
            throw failure("cannot release the mount of " + volume, e);
        }
    }

    // ---- events -----------------------------------------------------------------------------

    /** Appends an event to the log. */
    public void record(Event e) throws ClusterException {
        try {
            curator.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                    .forPath(paths.eventPrefix(), Json.write(e));
        } catch (Exception ex) {
            throw failure("cannot record event", ex);
        }
    }

    /**
     * Appends an event, logging instead of failing when ZooKeeper cannot take it: an event is a
     * report, never a reason to stop the work it reports.
     */
    public void recordQuietly(Event e) {
        try {
            record(e);
        } catch (ClusterException ex) {
            org.slf4j.LoggerFactory.getLogger(ClusterClient.class)
                    .warn("event not recorded ({}): {}", ex.getMessage(), e.message());
        }
    }

    /** The last {@code n} events, oldest first. */
    public List<Event> events(int n) throws ClusterException {
        return eventsAfter(-1, n);
    }

    /** Events with a sequence number above {@code after}, at most the last {@code limit}, oldest first. */
    public List<Event> eventsAfter(long after, int limit) throws ClusterException {
        List<String> names = children(paths.events()).stream()
                .filter(n -> n.startsWith(ZkPaths.EVENT_PREFIX))
                .filter(n -> ZkPaths.sequenceOf(n) > after)
                .sorted(Comparator.comparingLong(ZkPaths::sequenceOf))
                .toList();
        List<Event> out = new ArrayList<>();
        for (String name : names.subList(Math.max(0, names.size() - limit), names.size())) {
            String path = paths.events() + "/" + name;
            byte[] data = dataOrNull(path);
            if (data != null) {
                out.add(Json.read(data, Event.class, path).withSeq(ZkPaths.sequenceOf(name)));
            }
        }
        return out;
    }

    /** Deletes all but the newest {@code keep} events. */
    public void trimEvents(int keep) throws ClusterException {
        List<String> names = children(paths.events()).stream()
                .filter(n -> n.startsWith(ZkPaths.EVENT_PREFIX))
                .sorted(Comparator.comparingLong(ZkPaths::sequenceOf))
                .toList();
        for (String name : names.subList(0, Math.max(0, names.size() - keep))) {
            try {
                curator.delete().forPath(paths.events() + "/" + name);
            } catch (KeeperException.NoNodeException e) {
                // trimmed by someone else
            } catch (Exception e) {
                throw failure("cannot trim events", e);
            }
        }
    }

    // ---- plumbing ---------------------------------------------------------------------------

    List<String> children(String path) throws ClusterException {
        try {
            return curator.getChildren().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return List.of();
        } catch (Exception e) {
            throw failure("cannot list " + path, e);
        }
    }

    private byte[] dataOrNull(String path) throws ClusterException {
        try {
            return curator.getData().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return null;
        } catch (Exception e) {
            throw failure("cannot read " + path, e);
        }
    }

    private <T> Optional<Versioned<T>> readVersioned(String path, Class<T> type) throws ClusterException {
        try {
            Stat stat = new Stat();
            byte[] data = curator.getData().storingStatIn(stat).forPath(path);
            return Optional.of(new Versioned<>(Json.read(data, type, path), stat.getVersion()));
        } catch (KeeperException.NoNodeException e) {
            return Optional.empty();
        } catch (ClusterException e) {
            throw e;
        } catch (Exception e) {
            throw failure("cannot read " + path, e);
        }
    }

    ClusterException failure(String what, Exception e) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
        String why = e instanceof KeeperException.ConnectionLossException || e instanceof KeeperException.SessionExpiredException
                ? "ZooKeeper at " + connectString + " is unreachable"
                : e instanceof InterruptedException ? "interrupted (stopping)"
                : e instanceof KeeperException.NoAuthException
                        ? "ZooKeeper refused: not authorized (is the cluster secret this cluster's? see --secret-file)"
                : e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        return new ClusterException(what + ": " + why, e);
    }

    @Override
    public void close() {
        curator.close();
    }
}
