package io.hablock.cli.command;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code hablock cluster init|cert|lock-zookeeper|up|down|start}: a cluster's credentials, and a local cluster on this machine for demos and tests. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = "Make a cluster's credentials (init) and certificates (cert); lock a dedicated ZooKeeper ensemble to the "
                + "cluster (lock-zookeeper); start or stop a local cluster on this machine (loopback addresses, one process per node).",
        subcommands = {ClusterInitCommand.class, ClusterCertCommand.class, ClusterLockZooKeeperCommand.class, ClusterUpCommand.class, ClusterDownCommand.class, ClusterStartCommand.class,
                CommandLine.HelpCommand.class})
public final class ClusterCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
