package io.hablock.cli.command;

import io.hablock.blockstore.Sizes;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hablock node ls}. */
@Command(name = "ls", aliases = "list", mixinStandardHelpOptions = true,
        description = {"List the cluster's nodes: name, address, id, role (the controller makes every placement "
                + "and ownership decision), status (normal, maintenance when unreachable, cordoned), and capacity "
                + "(bytes allocated by copies / space offered)."})
public final class NodeLsCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Option(names = "--json", description = "Print a JSON array.")
    boolean json;

    /** One row of the table. */
    record NodeRow(String name, String ip, String id, String role, String status, boolean live, int nbdPort,
            int replicationPort, long usedBytes, long capacityBytes) {
    }

    @Override
    public Integer call() throws ClusterException {
        List<NodeRow> rows = new ArrayList<>();
        try (ClusterClient cluster = options.connect()) {
            Map<String, NodeInfo> live = cluster.liveNodes();
            Map<String, Member> members = cluster.members();
            Optional<String> controller = cluster.controllerId();
            for (Member m : members.values()) {
                NodeInfo n = live.get(m.id());
                rows.add(new NodeRow(m.name(), n == null ? m.host() : n.host(), m.id(),
                        controller.filter(m.id()::equals).isPresent() ? "controller" : "member", m.status().label(),
                        n != null, n == null ? 0 : n.nbdPort(), n == null ? 0 : n.replicationPort(),
                        n == null ? 0 : n.usedBytes(), n == null ? m.capacityBytes() : n.capacityBytes()));
            }
        }
        rows.sort(Comparator.comparing(NodeRow::name).thenComparing(NodeRow::id));
        Output.print(rows, json, () -> {
            Output.Table t = new Output.Table("NODENAME", "IP", "NODE_ID", "ROLE", "STATUS", "CAPACITY");
            rows.forEach(r -> t.row(r.name(), r.ip(), r.id(), r.role(), r.status(),
                    Sizes.format(r.usedBytes()) + " / " + Sizes.format(r.capacityBytes())));
            return t.toString();
        });
        return 0;
    }
}
