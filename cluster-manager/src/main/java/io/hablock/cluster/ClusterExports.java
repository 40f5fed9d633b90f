package io.hablock.cluster;

import io.hablock.blockstore.Sizes;
import io.hablock.blockstore.VolumeNames;
import io.hablock.cluster.metrics.MeteredBlockDevice;
import io.hablock.cluster.metrics.NodeMetrics;
import io.hablock.cluster.model.ClientSession;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.ExportProvider;
import io.hablock.nbd.ExportUnavailableException;
import java.net.SocketAddress;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.zookeeper.CreateMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The exports of a cluster node: the volumes it owns. A client asking for a volume owned
 * elsewhere is told where it is. Each client session is published as an ephemeral znode, so
 * {@code volume ls} shows who is connected and {@code volume rm} refuses while someone is.
 * Runs on Netty's threads: it reads cached state only and writes ZooKeeper asynchronously.
 */
final class ClusterExports implements ExportProvider {
    private static final Logger log = LoggerFactory.getLogger(ClusterExports.class);

    private final NodeAgent agent;
    private final boolean readOnly;
    private final NodeMetrics metrics;
    private final AtomicLong sessions = new AtomicLong();

    private final boolean forward;
    private final ForwardingLinks links;

    private final AllowList allow;
    /** The Docker plugin's mounts on this host, whose connections are gated by their claims; null without a plugin. */
    private volatile MountFence mounts;

    ClusterExports(NodeAgent agent, boolean readOnly, NodeMetrics metrics, boolean forward, ForwardingLinks links,
            AllowList allow) {
        this.allow = allow;
        this.forward = forward;
        this.links = links;
        this.agent = agent;
        this.readOnly = readOnly;
        this.metrics = metrics;
    }

    void gateMounts(MountFence fence) {
        this.mounts = fence;
    }

    @Override
    public List<ExportInfo> list() {
        return list(null);
    }

    /** The volumes {@code client} may attach (all of them for a null client, this node's own query). */
    @Override
    public List<ExportInfo> list(SocketAddress client) {
        java.util.stream.Stream<String> names = forward ? agent.cachedVolumeNames().stream()
                : agent.servedVolumes().stream().map(ReplicatedVolume::name);
        return names.sorted()
                .filter(n -> client == null || agent.cachedVolume(n).map(r -> mayAttach(r, client)).orElse(false))
                .map(n -> new ExportInfo(n, describe(n)))
                .toList();
    }

    @Override
    public boolean mayOpen(String export, SocketAddress client) {
        String name = volumeOf(export);
        return !VolumeNames.isValid(name) || agent.cachedVolume(name).map(r -> mayAttach(r, client)).orElse(true);
    }

    /**
     * Whether {@code client} may attach the volume: this node's allow list and the volume's, where
     * set, both name the client's address; or the client is a node of the cluster (a forwarder,
     * which checked its own client).
     */
    private boolean mayAttach(VolumeRecord r, SocketAddress client) {
        if (r.allow().isEmpty() && allow.isAnyone() || !(client instanceof java.net.InetSocketAddress a)
                || a.getAddress() == null) {
            return true;
        }
        if (allow.allows(a.getAddress()) && AllowList.of(r.allow()).allows(a.getAddress())) {
            return true;
        }
        return isPeer(a.getAddress());
    }

    @Override
    public BlockDevice open(String name) throws ExportUnavailableException {
        return open(name, null);
    }

    /**
     * The suffix a forwarder puts on the export name it asks an owner for: serve it only if you own
     * the volume, never send it on (no volume name holds an {@code @}).
     */
    static final String OWNER_ONLY = "@owner";

    /** The volume an export name asks for: the name, without a forwarder's {@link #OWNER_ONLY}. */
    private static String volumeOf(String export) {
        return export.endsWith(OWNER_ONLY) ? export.substring(0, export.length() - OWNER_ONLY.length()) : export;
    }

    @Override
    public BlockDevice open(String export, SocketAddress client) throws ExportUnavailableException {
        boolean ownerOnly = export.endsWith(OWNER_ONLY);
        String name = volumeOf(export);
        if (!VolumeNames.isValid(name)) {
            // Never looked up: ZooKeeper paths would turn "v1/" or "/v1" into v1's record, which
            // this node would then wait to serve under a name it never serves. Not echoed either.
            throw new ExportUnavailableException("no such volume: not a valid volume name");
        }
        Optional<ReplicatedVolume> served = agent.served(name);
        boolean servedHere = served.isPresent() && !served.get().isStopped();
        Optional<VolumeRecord> record = agent.cachedVolume(name);
        if (record.isPresent() && !mayAttach(record.get(), client)) {
            log.info("refused {} for volume {}: not in its allow list {}", address(client), name,
                    AllowList.of(record.get().allow()));
            throw new ExportUnavailableException("no such volume here"); // tells nothing it may not know
        }
        if (forward && !ownerOnly && record.isPresent()
                && (servedHere || record.get().state() == io.hablock.cluster.model.VolumeState.READY)) {
            // An application's connection follows the volume: served here while this node owns
            // it, sent to the owner otherwise, and to the next one after a failover or a move.
            // Another node's forwarder is served only by the owner, never sent on: it sends its
            // requests again itself, and a second attempt sent on from here could land after them.
            Runnable closeSession = client == null ? () -> {
            } : publishSession(name, client, true);
            MountFence fence = mounts;
            return new MeteredBlockDevice(new ForwardingBlockDevice(name, record.get().sizeBytes(), readOnly,
                    () -> route(name), links, localAddress(), closeSession, fence == null ? null : fence.gate(name)),
                    metrics, name);
        }
        if (!servedHere) {
            throw new ExportUnavailableException(whereIs(name));
        }
        Runnable onClose = () -> {
        };
        if (client != null) {
            onClose = publishSession(name, client, ownerOnly); // a forwarder's link is reopened to the next owner
        }
        return new MeteredBlockDevice(new ReplicatedBlockDevice(served.get(), readOnly, onClose), metrics, name);
    }

    /**
     * A live node of the cluster that advertises {@code client} (as an IP address): its host
     * endpoint forwards each of its clients' sessions on a connection of its own.
     */
    @Override
    public boolean isPeer(java.net.InetAddress client) {
        String address = client.getHostAddress();
        for (NodeInfo n : agent.cachedNodes().values()) {
            if (n.host().equals(address)) {
                return true;
            }
        }
        return false;
    }

    /** The address this node advertises, or null when it is not an IP address. */
    private java.net.InetAddress localAddress() {
        NodeInfo self = agent.cachedNodes().get(agent.nodeId());
        if (self == null) {
            return null;
        }
        try {
            return java.net.InetAddress.getByName(self.host());
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }

    /**
     * Where a forwarder sends the volume's requests now: to the node that serves it at its epoch
     * (once it has fenced the copies), straight to the volume when that is this node.
     */
    private ForwardingBlockDevice.Route route(String name) {
        Optional<VolumeRecord> r = agent.cachedVolume(name);
        if (r.isEmpty() || !r.get().isServed()) {
            return ForwardingBlockDevice.Route.NONE;
        }
        VolumeRecord v = r.get();
        if (v.owner().equals(agent.nodeId())) {
            Optional<ReplicatedVolume> served = agent.served(name);
            if (served.isEmpty() || served.get().isStopped() || served.get().epoch() != v.epoch()) {
                return ForwardingBlockDevice.Route.NONE; // named here, not serving yet
            }
            return new ForwardingBlockDevice.Route.Local(new ReplicatedBlockDevice(served.get(), readOnly, () -> {
            }), v.epoch());
        }
        Optional<NodeInfo> n = agent.cachedNode(v.owner());
        if (n.isEmpty()) {
            return ForwardingBlockDevice.Route.NONE;
        }
        RemoteRoute last = remoteRoutes.get(name);
        if (last == null || last.record() != v || last.node() != n.get()) {
            last = new RemoteRoute(v, n.get(), new ForwardingBlockDevice.Route.Remote(new ForwardingBlockDevice.Owner(
                    new java.net.InetSocketAddress(n.get().host(), n.get().nbdPort()), v.epoch())));
            remoteRoutes.put(name, last);
        }
        return last.route();
    }

    /** The route last made from a volume's record and its owner's (the same instances: the same route). */
    private record RemoteRoute(VolumeRecord record, NodeInfo node, ForwardingBlockDevice.Route.Remote route) {
    }

    private final java.util.Map<String, RemoteRoute> remoteRoutes = new java.util.concurrent.ConcurrentHashMap<>();

    private String whereIs(String name) {
        Optional<VolumeRecord> v = agent.cachedVolume(name);
        if (v.isEmpty()) {
            return "no volume named '" + name + "' in the cluster";
        }
        VolumeRecord r = v.get();
        if (r.owner() == null || !r.health().equals("healthy") && !r.health().equals("degraded")) {
            return "volume '" + name + "' is not ready (" + r.health() + ")";
        }
        NodeInfo owner = agent.cachedNodes().get(r.owner());
        if (owner == null) {
            return "volume '" + name + "' is owned by node " + r.owner() + ", which is not reachable now";
        }
        if (owner.id().equals(agent.nodeId())) {
            return "volume '" + name + "' is not served yet on this node; retry in a moment";
        }
        return "volume '" + name + "' is served by node " + owner.name() + " (" + owner.id() + ") at "
                + owner.host() + ":" + owner.nbdPort();
    }

    private Runnable publishSession(String volume, SocketAddress client, boolean follows) {
        ClusterClient cluster = agent.cluster();
        String id = agent.nodeId() + "-" + sessions.incrementAndGet();
        String path = cluster.paths().client(volume, id);
        byte[] data = Json.write(new ClientSession(id, address(client), agent.nodeId(), null, follows));
        try {
            // No creatingParentsIfNeeded: its retry could land after the delete below and leak the
            // znode. The parent exists while the volume is served; one session's requests run in order.
            cluster.curator().create().withMode(CreateMode.EPHEMERAL).inBackground().forPath(path, data);
        } catch (Exception e) {
            log.debug("cannot publish the session of {} on {}", client, volume, e);
        }
        return () -> {
            try {
                cluster.curator().delete().guaranteed().inBackground().forPath(path);
            } catch (Exception e) {
                log.debug("cannot unpublish {}", path, e);
            }
        };
    }

    /** {@code 10.0.0.5:43822}, {@code [fe80::1]:43822}. */
    static String address(SocketAddress client) {
        if (client instanceof java.net.InetSocketAddress a && a.getAddress() != null) {
            String host = a.getAddress().getHostAddress();
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
        }
        return client.toString();
    }

    @Override
    public String describe(String name) {
        return agent.cachedVolume(name)
                .map(r -> "hablock volume " + r.name() + " (" + r.vdisk() + ", " + Sizes.format(r.sizeBytes()) + ", "
                        + r.type() + ", uuid " + r.uuid() + ")")
                .orElse("");
    }
}
