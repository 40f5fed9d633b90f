package io.hablock.cli.command;

import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.RebuildProgress;
import io.hablock.cluster.model.VolumeRecord;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume move NAME --to NODE}. */
@Command(name = "move", mixinStandardHelpOptions = true,
        description = {"Make NODE the owner of a volume (clients then connect there). When NODE holds no copy, one "
                + "is built there first (a locality rebuild), then a surplus copy is removed. Refused while a client "
                + "is connected. Waits until NODE serves the volume, printing progress."})
public final class VolumeMoveCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Option(names = "--to", required = true, paramLabel = "NODE", description = "Node name or id.")
    String to;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m",
            description = "Give up waiting after this long (the move goes on) (default ${DEFAULT-VALUE}).")
    String timeout;

    @Override
    public Integer call() throws Exception {
        Duration limit = Durations.parse(timeout, "--timeout");
        try (ClusterClient cluster = options.connect()) {
            ClusterAdmin admin = new ClusterAdmin(cluster);
            Member target = admin.node(to);
            VolumeRecord r = admin.requestMove(name, to);
            System.out.println("moving volume " + name + " (" + r.vdisk() + ") to node " + target.name()
                    + (r.replicas().containsKey(target.id()) ? "" : ": building a local copy there first"));
            long deadline = System.nanoTime() + limit.toNanos();
            int lastPct = -1;
            while (true) {
                VolumeRecord now = cluster.volume(name).orElseThrow(() -> new ClusterException("volume '" + name + "' vanished"))
                        .value();
                if (target.id().equals(now.owner()) && now.isServed()) {
                    System.out.println("volume " + name + " is now served by node " + target.name() + " (epoch " + now.epoch() + ")");
                    return 0;
                }
                if (now.desiredOwner() == null && !target.id().equals(now.owner())) {
                    throw new ClusterException("the move of volume '" + name + "' was abandoned (see `hablock events`)");
                }
                Optional<RebuildProgress> p = cluster.rebuild(name);
                if (p.isPresent() && p.get().percent() != lastPct) {
                    lastPct = p.get().percent();
                    System.out.println("  locality rebuild: " + lastPct + "%");
                }
                if (System.nanoTime() > deadline) {
                    throw new ClusterException("volume '" + name + "' is not on node " + target.name() + " after "
                            + limit.toMinutes() + " min; the move goes on");
                }
                Thread.sleep(500);
            }
        }
    }
}
