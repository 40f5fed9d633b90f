package io.hablock.cluster;

import io.hablock.cluster.security.ClusterSecret;
import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * Who may read and change hablock's znodes: the cluster's digest identity
 * ({@link ClusterSecret#ZK_USER} and the password derived from the secret) and no one else.
 * {@code /hablock} itself also lets anyone create a child and list them, so that clusters with other
 * secrets can share an ensemble (ZooKeeper asks for READ to tell whether a znode exists): the
 * clusters' names are all it tells.
 */
final class ZkAcls {
    private ZkAcls() {
    }

    /** The credentials a client adds to its session. */
    static byte[] auth(ClusterSecret secret) {
        return (ClusterSecret.ZK_USER + ":" + secret.zooKeeperPassword()).getBytes(StandardCharsets.US_ASCII);
    }

    /** All rights for the cluster's identity, none for anyone else. */
    static List<ACL> cluster(ClusterSecret secret) {
        try {
            String digest = DigestAuthenticationProvider.generateDigest(ClusterSecret.ZK_USER + ":" + secret.zooKeeperPassword());
            // A mutable list: ZooKeeper's client asks it contains(null), which List.of refuses.
            return new ArrayList<>(List.of(new ACL(Perms.ALL, new Id("digest", digest))));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The ACL of every znode a client with these credentials creates. */
    static ACLProvider provider(ClusterSecret secret) {
        List<ACL> own = cluster(secret);
        List<ACL> shared = new ArrayList<>(List.of(own.get(0), new ACL(Perms.CREATE | Perms.READ, Ids.ANYONE_ID_UNSAFE)));
        return new ACLProvider() {
            @Override
            public List<ACL> getDefaultAcl() {
                return own;
            }

            @Override
            public List<ACL> getAclForPath(String path) {
                return ZkPaths.ROOT.equals(path) ? shared : own;
            }
        };
    }

    /**
     * Gives every znode under {@code root} the cluster's ACL if {@code root} does not carry it yet:
     * a cluster made before hablock set ACLs (its znodes open to anyone) is closed when its first
     * node with credentials starts. Nothing to do, one read, otherwise.
     *
     * @return how many znodes were changed
     */
    static int secureTree(CuratorFramework curator, String root, ClusterSecret secret) throws Exception {
        List<ACL> own = cluster(secret);
        if (curator.checkExists().forPath(root) == null || curator.getACL().forPath(root).equals(own)) {
            return 0;
        }
        int changed = 0;
        java.util.ArrayDeque<String> todo = new java.util.ArrayDeque<>(List.of(root));
        while (!todo.isEmpty()) {
            String path = todo.pop();
            try {
                for (String child : curator.getChildren().forPath(path)) {
                    todo.push(org.apache.curator.utils.ZKPaths.makePath(path, child));
                }
                if (!curator.getACL().forPath(path).equals(own)) {
                    curator.setACL().withACL(own).forPath(path);
                    changed++;
                }
            } catch (org.apache.zookeeper.KeeperException.NoNodeException gone) {
                // deleted meanwhile (an ephemeral node, a trimmed event)
            }
        }
        return changed;
    }

    /**
     * Takes the root znode of a ZooKeeper that belongs to this cluster alone (the embedded one, or
     * an ensemble deployed for it), and {@code /hablock}: anonymous clients can then neither list
     * nor create anything.
     *
     * @return false when both carried the cluster's ACL already
     */
    static boolean lockRoot(String connectString, ClusterSecret secret) throws ClusterException {
        try (CuratorFramework c = CuratorFrameworkFactory.builder().connectString(connectString)
                .authorization("digest", auth(secret)).retryPolicy(new RetryOneTime(100)).build()) {
            c.start();
            if (!c.blockUntilConnected(10, TimeUnit.SECONDS)) {
                throw new ClusterException("cannot reach ZooKeeper at " + connectString + " to set its root's ACL");
            }
            List<ACL> own = cluster(secret);
            boolean changed = false;
            if (!c.getACL().forPath("/").equals(own)) {
                c.setACL().withACL(own).forPath("/");
                changed = true;
            }
            // /hablock too: on a shared ensemble anyone may list it and add a cluster to it; here
            // no one else may (made now, with that ACL, when no node has made it yet).
            try {
                c.create().withACL(own).forPath(ZkPaths.ROOT);
                changed = true;
            } catch (org.apache.zookeeper.KeeperException.NodeExistsException e) {
                if (!c.getACL().forPath(ZkPaths.ROOT).equals(own)) {
                    c.setACL().withACL(own).forPath(ZkPaths.ROOT);
                    changed = true;
                }
            }
            return changed;
        } catch (ClusterException e) {
            throw e;
        } catch (org.apache.zookeeper.KeeperException.NoAuthException e) {
            throw new ClusterException("ZooKeeper at " + connectString + " refused to change its root's ACL: it is held by "
                    + "another identity (another cluster's secret?)", e);
        } catch (Exception e) {
            throw new ClusterException("cannot set the root ACL of ZooKeeper at " + connectString + ": " + e.getMessage(), e);
        }
    }
}
