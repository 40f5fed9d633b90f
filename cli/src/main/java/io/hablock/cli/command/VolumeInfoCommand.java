package io.hablock.cli.command;

import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.VolumeRecord;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume info NAME [--json]}. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show one volume: owner, copies, epoch, clients.")
public final class VolumeInfoCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() throws ClusterException {
        VolumeView v;
        try (ClusterClient cluster = options.connect()) {
            VolumeRecord r = cluster.volume(name).orElseThrow(() -> new ClusterException("no volume named '" + name + "'"))
                    .value();
            v = VolumeView.of(r, cluster.members(), cluster.sessionsOf(name), cluster.rebuild(name).orElse(null),
                    cluster.mountClaim(name).orElse(null));
        }
        Output.print(v, json, () -> String.join("\n",
                "name:     " + v.name() + " (" + v.vdisk() + ")",
                "uuid:     " + v.uuid(),
                "size:     " + v.size() + " (" + v.sizeBytes() + " bytes)",
                "type:     " + v.type(),
                "state:    " + v.state() + ", " + v.health(),
                "owner:    " + v.owner() + (v.ownerId() == null ? "" : " (" + v.ownerId() + ")") + ", epoch " + v.epoch(),
                "copies:   " + v.copiesColumn() + " (writes need " + v.minCopies() + " in sync)",
                "allow:    " + (v.allow().isEmpty() ? "any client" : String.join(", ", v.allow())),
                "attached: " + (v.attached().isEmpty() ? "nowhere" : String.join(", ", v.attached())),
                "mounted:  " + (v.mounted() == null ? "not through Docker" : v.mounted() + " (Docker)")
                        + ", data local: " + v.localColumn() + ", locality " + v.locality(),
                "clients:  " + (v.clients().isEmpty() ? "none" : String.join(", ", v.clients())),
                "created:  " + v.created()));
        return 0;
    }
}
