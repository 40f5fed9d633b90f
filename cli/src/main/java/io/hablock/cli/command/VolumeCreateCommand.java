package io.hablock.cli.command;

import io.hablock.blockstore.Sizes;
import io.hablock.cli.admin.AdminClient.AdminException;
import io.hablock.cli.admin.VolumeView;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume create NAME --size 10G}. */
@Command(name = "create", mixinStandardHelpOptions = true, description = "Create a sparse volume.")
public final class VolumeCreateCommand implements Callable<Integer> {
    @Mixin
    NodeOptions node;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name: letters, digits, '_', '.', '-' (max 64).")
    String name;

    @Option(names = {"-s", "--size"}, required = true, paramLabel = "SIZE",
            description = "Size with a binary unit: 512M, 10G, 1T (a multiple of 512 bytes).")
    String size;

    @Option(names = "--json", description = "Print the new volume as JSON.")
    boolean json;

    @Override
    public Integer call() throws AdminException {
        Sizes.parse(size); // a bad size is refused here, before the node is asked
        VolumeView v = node.client().create(name, size);
        Output.print(v, json, () -> "volume " + v.name() + " created: " + v.size() + ", uuid " + v.uuid());
        return 0;
    }
}
