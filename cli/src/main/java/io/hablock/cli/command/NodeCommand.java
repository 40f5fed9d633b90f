package io.hablock.cli.command;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code hablock node ...}: the cluster's nodes. */
@Command(name = "node", mixinStandardHelpOptions = true, description = "Show and manage the nodes of the cluster.",
        subcommands = {NodeLsCommand.class, NodeStatusCommands.Cordon.class, NodeStatusCommands.Uncordon.class,
                NodeStatusCommands.Drain.class, CommandLine.HelpCommand.class})
public final class NodeCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
