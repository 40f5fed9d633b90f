package io.hablock.cluster.model;

import java.util.Objects;

/**
 * A volume's file system mounted on a host by a node's Docker volume plugin: an ephemeral znode
 * of that node's session, so that a second host cannot mount the same file system while the
 * first holds it, and can once the first node is gone (its session ends with it).
 *
 * @param node id of the node whose plugin mounted it
 * @param nodeName that node's name
 * @param path the mount point on that node's host
 * @param since when it was mounted (ms since the epoch)
 */
public record MountClaim(String node, String nodeName, String path, long since) {

    public MountClaim {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(path, "path");
    }

    /** {@code v2 (6a41aeba) at /run/hablock/docker/data}. */
    public String describe() {
        return (nodeName == null ? node : nodeName + " (" + node + ")") + " at " + path;
    }
}
