package io.hablock.cli.command;

import io.hablock.cli.admin.AdminClient.AdminException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code hablock volume rm NAME}. */
@Command(name = "rm", aliases = "remove", mixinStandardHelpOptions = true,
        description = "Remove a volume and its data. Refused while a client is connected to it.")
public final class VolumeRmCommand implements Callable<Integer> {
    @Mixin
    NodeOptions node;

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws AdminException {
        node.client().delete(name);
        System.out.println("volume " + name + " removed");
        return 0;
    }
}
