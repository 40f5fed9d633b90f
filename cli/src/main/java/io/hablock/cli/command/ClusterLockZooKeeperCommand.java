package io.hablock.cli.command;

import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code hablock cluster lock-zookeeper}: the ensemble's root ACL to the cluster's identity. */
@Command(name = "lock-zookeeper", mixinStandardHelpOptions = true,
        description = {"Give the root znode of the ZooKeeper ensemble (--zk) the cluster's ACL alone, for an ensemble that "
                + "serves this hablock cluster only (as the Ansible role deploys it): anonymous clients can then neither "
                + "list nor create anything in it. hablock's own znodes carry the cluster's ACL already, and the embedded "
                + "ZooKeeper of `hablock server` locks its root by itself. Do not use it on an ensemble other "
                + "applications share. Prints 'locked' or 'already locked'."})
public final class ClusterLockZooKeeperCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Override
    public Integer call() throws ClusterException {
        boolean changed = ClusterAdmin.lockZooKeeperRoot(options.zk, options.secret());
        System.out.println(changed ? "locked" : "already locked");
        return 0;
    }
}
