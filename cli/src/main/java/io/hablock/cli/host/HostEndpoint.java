package io.hablock.cli.host;

import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.VolumeRecord;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.Comparator;
import java.util.List;

/**
 * The NBD endpoint a host uses for a volume: the hablock node running on this host, which
 * serves the volume whoever owns it (forwarding to the owner) and follows it through a
 * failover.
 *
 * @param address where to connect
 * @param node the node behind it
 */
public record HostEndpoint(InetSocketAddress address, NodeInfo node) {

    /**
     * The node on this host; with several (a local test cluster), the volume's owner if it is one
     * of them, else the first by name.
     *
     * @throws ClusterException when the volume does not exist or no node runs on this host
     */
    public static HostEndpoint find(ClusterClient cluster, String volume) throws ClusterException {
        VolumeRecord v = cluster.volume(volume)
                .orElseThrow(() -> new ClusterException("no volume named '" + volume + "'")).value();
        List<NodeInfo> local = cluster.liveNodes().values().stream().filter(n -> isLocal(n.host()))
                .sorted(Comparator.comparing(NodeInfo::name)).toList();
        if (local.isEmpty()) {
            throw new ClusterException("no hablock node runs on this host: start `hablock server` here (it forwards to "
                    + "the owner and follows it through a failover), or give --endpoint HOST:PORT");
        }
        NodeInfo node = local.stream().filter(n -> n.id().equals(v.owner())).findFirst().orElse(local.get(0));
        return new HostEndpoint(new InetSocketAddress(node.host(), node.nbdPort()), node);
    }

    /** An explicit endpoint ({@code --endpoint}); the node is whichever advertises that address, if any. */
    public static HostEndpoint at(ClusterClient cluster, InetSocketAddress address) throws ClusterException {
        String host = address.getAddress() == null ? address.getHostString() : address.getAddress().getHostAddress();
        NodeInfo node = cluster.liveNodes().values().stream()
                .filter(n -> n.host().equals(host) && n.nbdPort() == address.getPort()).findFirst().orElse(null);
        return new HostEndpoint(address, node);
    }

    /** {@code v2 at 10.0.0.2:10809}. */
    public String describe() {
        String where = address.getHostString() + ":" + address.getPort();
        return node == null ? where : node.name() + " at " + where;
    }

    static boolean isLocal(String host) {
        try {
            InetAddress a = InetAddress.getByName(host);
            return a.isLoopbackAddress() || a.isAnyLocalAddress() || NetworkInterface.getByInetAddress(a) != null;
        } catch (UnknownHostException | SocketException e) {
            return false;
        }
    }
}
