package io.hablock.cli.command;

import io.hablock.cli.admin.AdminClient.AdminException;
import io.hablock.cli.admin.VolumeView;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hablock volume ls}. */
@Command(name = "ls", aliases = "list", mixinStandardHelpOptions = true, description = "List volumes.")
public final class VolumeLsCommand implements Callable<Integer> {
    @Mixin
    NodeOptions node;

    @Option(names = "--json", description = "Print a JSON array.")
    boolean json;

    @Override
    public Integer call() throws AdminException {
        List<VolumeView> volumes = node.client().list();
        Output.print(volumes, json, () -> {
            Output.Table t = new Output.Table("VOLUMENAME", "SIZE", "UUID", "CREATED");
            volumes.forEach(v -> t.row(v.name(), v.size(), v.uuid(), v.created()));
            return t.toString();
        });
        return 0;
    }
}
