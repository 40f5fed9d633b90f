package io.hablock.cli.command;

import io.hablock.blockstore.Sizes;
import io.hablock.cli.admin.AdminClient.AdminException;
import io.hablock.cli.admin.VolumeView;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume info NAME [--json]}. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show one volume.")
public final class VolumeInfoCommand implements Callable<Integer> {
    @Mixin
    NodeOptions node;

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() throws AdminException {
        VolumeView v = node.client().info(name);
        Output.print(v, json, () -> String.join("\n",
                "name:        " + v.name(),
                "uuid:        " + v.uuid(),
                "size:        " + v.size() + " (" + v.sizeBytes() + " bytes)",
                "allocated:   " + (v.allocatedBytes() == 0 ? "0" : Sizes.format(v.allocatedBytes()))
                        + " (" + v.allocatedBytes() + " bytes)",
                "created:     " + v.created(),
                "format:      " + v.formatVersion()));
        return 0;
    }
}
