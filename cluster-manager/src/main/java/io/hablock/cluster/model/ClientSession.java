package io.hablock.cluster.model;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * An NBD connection to a volume, as the node that accepted it publishes it (an ephemeral znode
 * that lives as long as the connection).
 *
 * @param id the znode's name
 * @param client the client's address as the node sees it ({@code ip:port})
 * @param node id of the node that accepted the connection
 * @param attachment where the client put the volume on its host, when it said so: a device
 *     ({@code /dev/nbd0}) or a mount point; null otherwise
 * @param follows the connection follows the volume when its owner changes (an application's
 *     connection at a forwarding node, or a forwarder's link to the owner, which it reopens to
 *     the next one); false for a connection straight to the owner of a node that does not
 *     forward, which a move would leave with errors
 */
public record ClientSession(String id, String client, String node, String attachment, boolean follows) {

    public ClientSession {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(client, "client");
    }

    /** A session that does not follow the volume (as every session recorded before there was the field). */
    public ClientSession(String id, String client, String node, String attachment) {
        this(id, client, node, attachment, false);
    }

    public ClientSession withAttachment(String where) {
        return new ClientSession(id, client, node, where, follows);
    }

    /** {@code 10.0.0.5:43822 on node 6a41aeba (/dev/nbd0)}. */
    public String describe() {
        return client + (node == null ? "" : " on node " + node) + (attachment == null ? "" : " (" + attachment + ")");
    }

    /** The client's IP address, without the port. */
    public String clientHost() {
        int colon = client.lastIndexOf(':');
        String host = colon < 0 ? client : client.substring(0, colon);
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /**
     * The sessions of applications: without the connections a forwarding node opened to the owner
     * on behalf of its own clients. Such a connection comes from another node's address while that
     * node has a session of its own on the volume.
     *
     * @param nodeHosts node id to the address it advertises
     */
    public static List<ClientSession> applications(Collection<ClientSession> sessions, Map<String, String> nodeHosts) {
        Set<String> nodesWithSessions = sessions.stream().map(ClientSession::node).filter(Objects::nonNull)
                .collect(Collectors.toSet());
        return sessions.stream().filter(s -> !isForwarder(s, nodeHosts, nodesWithSessions)).toList();
    }

    private static boolean isForwarder(ClientSession s, Map<String, String> nodeHosts, Set<String> nodesWithSessions) {
        return nodeHosts.entrySet().stream().anyMatch(n -> !n.getKey().equals(s.node()) && n.getValue().equals(s.clientHost())
                && nodesWithSessions.contains(n.getKey()));
    }
}
