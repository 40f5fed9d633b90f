package io.hablock.cli.command;

import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.VolumeRecord;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code hablock volume locality NAME auto|off|node}. */
@Command(name = "locality", mixinStandardHelpOptions = true,
        description = {"Set whether a volume moves to the node where it is mounted through the Docker plugin "
                + "(a locality move, with a local copy built first when that node has none): auto, off, or node "
                + "(as the mounting node's `server --locality` says, the default). Applies to the next mount."})
public final class VolumeLocalityCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Parameters(index = "1", paramLabel = "auto|off|node", description = "The setting.")
    String locality;

    @Override
    public Integer call() throws ClusterException {
        String value = parse(locality); // refused before the cluster is asked
        try (ClusterClient cluster = options.connect()) {
            new ClusterAdmin(cluster).locality(name, value);
        }
        System.out.println("volume " + name + (value == null ? " follows the locality setting of the node that mounts it"
                : value.equals(VolumeRecord.LOCALITY_AUTO) ? " moves to the node where it is mounted"
                : " stays where it is when mounted elsewhere"));
        return 0;
    }

    /** {@code auto} and {@code off} as they are, {@code node} as null. */
    static String parse(String option) throws ClusterException {
        return switch (option) {
            case "auto" -> VolumeRecord.LOCALITY_AUTO;
            case "off" -> VolumeRecord.LOCALITY_OFF;
            case "node" -> null;
            default -> throw new ClusterException("locality must be auto, off or node, not '" + option + "'");
        };
    }
}
