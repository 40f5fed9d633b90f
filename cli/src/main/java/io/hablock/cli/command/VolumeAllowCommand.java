package io.hablock.cli.command;

import io.hablock.cluster.AllowList;
import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.model.VolumeRecord;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code hablock volume allow NAME CIDR[,CIDR...]|any}. */
@Command(name = "allow", mixinStandardHelpOptions = true,
        description = {"Set which NBD clients may attach a volume: address blocks such as 10.0.1.0/24,192.168.1.7, "
                + "or 'any'. Other clients are told the volume does not exist, and it is not in their export list; "
                + "the cluster's nodes (which forward for their own clients, and check them) are always allowed. "
                + "Applies to new connections; connections already open stay."})
public final class VolumeAllowCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Parameters(index = "1", paramLabel = "CIDR[,CIDR...]|any", description = "Who may attach it.")
    String allow;

    @Override
    public Integer call() throws Exception {
        AllowList list = AllowList.parse(allow); // refused before the cluster is asked
        try (ClusterClient cluster = options.connect()) {
            VolumeRecord r = new ClusterAdmin(cluster).allow(name, list);
            System.out.println("volume " + name + " may be attached by " + (list.isAnyone() ? "any client"
                    : String.join(", ", r.allow())));
        }
        return 0;
    }
}
