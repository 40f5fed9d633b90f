package io.hablock.cli.command;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code hablock cluster init|up|down|start}: a cluster's credentials, and a local cluster on this machine for demos and tests. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = "Make a cluster's credentials (init); start or stop a local cluster on this machine (loopback addresses, "
                + "one process per node).",
        subcommands = {ClusterInitCommand.class, ClusterCertCommand.class, ClusterUpCommand.class, ClusterDownCommand.class, ClusterStartCommand.class,
                CommandLine.HelpCommand.class})
public final class ClusterCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
