package io.hablock.cli.command;

import io.hablock.cluster.AllowList;
import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.VolumeRecord;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume create NAME --size 10G [--copies 3] [--min-copies 2]}. */
@Command(name = "create", mixinStandardHelpOptions = true,
        description = {"Create a sparse volume with N copies on N different nodes; returns when every copy exists "
                + "and the owner serves it over NBD."})
public final class VolumeCreateCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name: letters, digits, '_', '.', '-' (max 64).")
    String name;

    @Option(names = {"-s", "--size"}, required = true, paramLabel = "SIZE",
            description = "Size with a binary unit: 512M, 10G, 1T (a multiple of 512 bytes).")
    String size;

    @Option(names = {"-c", "--copies"}, paramLabel = "N", defaultValue = "1",
            description = "Number of copies, each on its own node, 1 to " + ClusterAdmin.MAX_COPIES + " (default ${DEFAULT-VALUE}).")
    int copies;

    @Option(names = "--min-copies", paramLabel = "N",
            description = {"Fewest copies in sync (the owner's included) with which a write is still acknowledged; "
                    + "below it the volume is read-only (writes fail with EIO) until copies are rebuilt, rather than "
                    + "acknowledging writes kept on too few disks. 1 to --copies (default: 2 from 3 copies on, else 1)."})
    Integer minCopies;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "60s",
            description = "Give up (and withdraw the request) when not ready by then (default ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--allow", paramLabel = "CIDR[,CIDR...]|any", defaultValue = "any",
            description = "NBD clients that may attach it (default ${DEFAULT-VALUE}; see `volume allow`).")
    String allow;

    @Option(names = "--locality", paramLabel = "auto|off|node", defaultValue = "node",
            description = {"Whether the volume moves to the node where it is mounted (through the Docker plugin): "
                    + "auto, off, or node: as that node's `server --locality` says (default ${DEFAULT-VALUE}; "
                    + "see `volume locality`)."})
    String locality;

    @Option(names = "--json", description = "Print the new volume as JSON.")
    boolean json;

    @Override
    public Integer call() throws ClusterException {
        long bytes = ClusterAdmin.parseSize(size); // a bad size is refused before the cluster is asked
        Duration limit = Durations.parse(timeout, "--timeout");
        AllowList allowed = AllowList.parse(allow);
        String follows = VolumeLocalityCommand.parse(locality);
        try (ClusterClient cluster = options.connect()) {
            VolumeRecord r = new ClusterAdmin(cluster).createVolume(name, bytes, copies,
                    minCopies == null ? VolumeRecord.defaultMinCopies(copies) : minCopies, limit, allowed, follows);
            VolumeView v = VolumeView.of(r, cluster.members(), List.of());
            Output.print(v, json, () -> "volume " + v.name() + " (" + v.vdisk() + ") created: " + v.size() + ", "
                    + v.type() + " on " + v.copiesColumn() + ", owner " + v.owner() + ", uuid " + v.uuid());
        }
        return 0;
    }
}
