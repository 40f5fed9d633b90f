package io.hablock.cli.command;

import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume rm NAME}. */
@Command(name = "rm", aliases = "remove", mixinStandardHelpOptions = true,
        description = "Delete a volume and all its copies. Refused while an NBD client is connected.")
public final class VolumeRmCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "60s",
            description = "How long to wait for every copy to be deleted (default ${DEFAULT-VALUE}).")
    String timeout;

    @Override
    public Integer call() throws ClusterException {
        try (ClusterClient cluster = options.connect()) {
            new ClusterAdmin(cluster).removeVolume(name, Durations.parse(timeout, "--timeout"));
        }
        System.out.println("volume " + name + " removed");
        return 0;
    }
}
