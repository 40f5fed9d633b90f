package io.hablock.cli.command;

import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hablock volume ls}. */
@Command(name = "ls", aliases = "list", mixinStandardHelpOptions = true,
        description = {"List volumes: the owner node (NODENAME) that serves it over NBD, the nodes of its copies "
                + "(those not in sync marked), health (healthy: every copy in sync; degraded: fewer), and where applications have it (ATTACHED: "
                + "NODE:DEVICE or NODE:MOUNT-POINT when attached with `volume attach|mount`, else NODE:CLIENT-ADDRESS, "
                + "NODE being the node whose NBD endpoint the client uses), and whether the data is local to them "
                + "(LOCAL: yes when every application and the Docker mount are on the owner's node, no when one is "
                + "elsewhere and its I/O is forwarded, - when none has it)."})
public final class VolumeLsCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Option(names = "--json", description = "Print a JSON array.")
    boolean json;

    @Override
    public Integer call() throws ClusterException {
        List<VolumeView> views = new ArrayList<>();
        try (ClusterClient cluster = options.connect()) {
            Map<String, Member> members = cluster.members();
            for (Versioned<VolumeRecord> v : cluster.volumes()) {
                views.add(VolumeView.of(v.value(), members, cluster.sessionsOf(v.value().name()),
                        cluster.rebuild(v.value().name()).orElse(null), cluster.mountClaim(v.value().name()).orElse(null)));
            }
        }
        Output.print(views, json, () -> {
            Output.Table t = new Output.Table("NODENAME", "VDISK", "TYPE", "SIZE", "UUID", "VOLUMENAME", "COPIES",
                    "HEALTH", "ATTACHED", "LOCAL");
            views.forEach(v -> t.row(v.owner(), v.vdisk(), v.type(), v.size(), v.uuid().substring(0, 8), v.name(),
                    v.copiesColumn(), v.health(), v.attachedColumn(), v.localColumn()));
            return t.toString();
        });
        return 0;
    }
}
