package io.hablock.cluster;

import java.util.Objects;
import java.util.regex.Pattern;
import org.apache.curator.utils.ZKPaths;

/**
 * Every znode path of a cluster, built in this one class.
 *
 * <pre>
 * /hablock/CLUSTER/nodes/NODE_ID        ephemeral: a live node's addresses and capacity
 * /hablock/CLUSTER/members/NODE_ID      persistent: name, ip, status
 * /hablock/CLUSTER/controller           LeaderLatch (one controller)
 * /hablock/CLUSTER/volumes/NAME         persistent: the volume record, changed by versioned CAS
 * /hablock/CLUSTER/clients/NAME/ID      ephemeral: an NBD client connected to the volume's owner
 * /hablock/CLUSTER/rebuilds/NAME        ephemeral: progress of the volume's rebuild, by its owner
 * /hablock/CLUSTER/mounts/NAME          ephemeral: the node whose Docker plugin mounted the volume
 * /hablock/CLUSTER/mount-serials/NAME   persistent: its data version counts the volume's mount claims
 * /hablock/CLUSTER/events/evt-SEQ       persistent sequential: the event log (bounded)
 * /hablock/CLUSTER/seq/vd-SEQ           transient: allocates vdisk numbers
 * </pre>
 */
public final class ZkPaths {
    /** The cluster name when none is given. */
    public static final String DEFAULT_CLUSTER = "default";
    /** The parent of every cluster's root. */
    static final String ROOT = "/hablock";
    private static final Pattern CLUSTER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    static final String EVENT_PREFIX = "evt-";
    static final String VDISK_PREFIX = "vd-";

    private final String root;

    public ZkPaths(String cluster) {
        Objects.requireNonNull(cluster, "cluster");
        if (!CLUSTER_NAME.matcher(cluster).matches()) {
            throw new IllegalArgumentException("invalid cluster name '" + cluster
                    + "': use letters, digits, '.', '_' or '-' (at most 64)");
        }
        this.root = ROOT + "/" + cluster;
    }

    public String root() {
        return root;
    }

    public String nodes() {
        return root + "/nodes";
    }

    public String node(String nodeId) {
        return ZKPaths.makePath(nodes(), nodeId);
    }

    public String members() {
        return root + "/members";
    }

    public String member(String nodeId) {
        return ZKPaths.makePath(members(), nodeId);
    }

    public String controller() {
        return root + "/controller";
    }

    public String volumes() {
        return root + "/volumes";
    }

    public String volume(String name) {
        return ZKPaths.makePath(volumes(), name);
    }

    public String clients() {
        return root + "/clients";
    }

    public String clientsOf(String volume) {
        return ZKPaths.makePath(clients(), volume);
    }

    public String client(String volume, String connectionId) {
        return ZKPaths.makePath(clientsOf(volume), connectionId);
    }

    public String rebuilds() {
        return root + "/rebuilds";
    }

    public String rebuild(String volume) {
        return ZKPaths.makePath(rebuilds(), volume);
    }

    public String mounts() {
        return root + "/mounts";
    }

    public String mount(String volume) {
        return ZKPaths.makePath(mounts(), volume);
    }

    public String mountSerials() {
        return root + "/mount-serials";
    }

    public String mountSerial(String volume) {
        return ZKPaths.makePath(mountSerials(), volume);
    }

    public String events() {
        return root + "/events";
    }

    public String eventPrefix() {
        return events() + "/" + EVENT_PREFIX;
    }

    public String vdiskPrefix() {
        return root + "/seq/" + VDISK_PREFIX;
    }

    /** The sequence number ZooKeeper appended to a sequential znode's name. */
    public static long sequenceOf(String path) {
        String name = path.substring(path.lastIndexOf('/') + 1);
        int i = name.length();
        while (i > 0 && Character.isDigit(name.charAt(i - 1))) {
            i--;
        }
        if (i == name.length()) {
            throw new IllegalArgumentException("not a sequential znode: " + path);
        }
        return Long.parseLong(name.substring(i));
    }
}
