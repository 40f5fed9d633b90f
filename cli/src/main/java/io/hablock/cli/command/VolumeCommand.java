package io.hablock.cli.command;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code hablock volume ...}: manage volumes. */
@Command(name = "volume", mixinStandardHelpOptions = true, description = "Create, list, inspect and remove volumes.",
        subcommands = {VolumeCreateCommand.class, VolumeLsCommand.class, VolumeInfoCommand.class,
                VolumeRmCommand.class, VolumeVerifyCommand.class, VolumeMoveCommand.class, VolumeAllowCommand.class, VolumeLocalityCommand.class,
                VolumeAttachCommand.class, VolumeDetachCommand.class, VolumeMountCommand.class,
                VolumeUnmountCommand.class, CommandLine.HelpCommand.class})
public final class VolumeCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
