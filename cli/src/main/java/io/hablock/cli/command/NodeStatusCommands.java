package io.hablock.cli.command;

import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock node cordon|uncordon|drain NODE}. */
final class NodeStatusCommands {
    private NodeStatusCommands() {
    }

    @Command(name = "cordon", mixinStandardHelpOptions = true,
            description = "Take no new copies on NODE (name or id); its current copies stay.")
    static final class Cordon implements Callable<Integer> {
        @Mixin
        ClusterOptions options;

        @Parameters(index = "0", paramLabel = "NODE", description = "Node name or id.")
        String node;

        @Override
        public Integer call() throws ClusterException {
            try (ClusterClient cluster = options.connect()) {
                Member m = new ClusterAdmin(cluster).setNodeStatus(node, NodeStatus.CORDONED);
                System.out.println("node " + m.name() + " (" + m.id() + ") cordoned: it takes no new copies");
            }
            return 0;
        }
    }

    @Command(name = "uncordon", mixinStandardHelpOptions = true,
            description = "Let NODE take copies again (ends a cordon or a drain).")
    static final class Uncordon implements Callable<Integer> {
        @Mixin
        ClusterOptions options;

        @Parameters(index = "0", paramLabel = "NODE", description = "Node name or id.")
        String node;

        @Override
        public Integer call() throws ClusterException {
            try (ClusterClient cluster = options.connect()) {
                Member m = new ClusterAdmin(cluster).setNodeStatus(node, NodeStatus.NORMAL);
                System.out.println("node " + m.name() + " (" + m.id() + ") is normal: it takes copies again");
            }
            return 0;
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = {"Cordon NODE and move every copy it holds to other nodes (volumes it owns are handed to "
                    + "another in-sync copy first). Waits until the node holds no copy, printing progress."})
    static final class Drain implements Callable<Integer> {
        @Mixin
        ClusterOptions options;

        @Parameters(index = "0", paramLabel = "NODE", description = "Node name or id.")
        String node;

        @Option(names = "--no-wait", description = "Return once the drain has started.")
        boolean noWait;

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m",
                description = "Give up waiting after this long (the drain goes on) (default ${DEFAULT-VALUE}).")
        String timeout;

        @Override
        public Integer call() throws Exception {
            Duration limit = Durations.parse(timeout, "--timeout");
            try (ClusterClient cluster = options.connect()) {
                Member m = new ClusterAdmin(cluster).setNodeStatus(node, NodeStatus.DRAINING);
                System.out.println("draining node " + m.name() + " (" + m.id() + ")");
                if (noWait) {
                    return 0;
                }
                long deadline = System.nanoTime() + limit.toNanos();
                String last = "";
                while (true) {
                    List<String> held = cluster.volumes().stream().map(Versioned::value)
                            .filter(v -> v.replicas().containsKey(m.id())).map(VolumeRecord::name).toList();
                    if (held.isEmpty()) {
                        System.out.println("node " + m.name() + " holds no copy any more; it stays cordoned "
                                + "(`hablock node uncordon " + m.name() + "` to use it again)");
                        return 0;
                    }
                    String now = "  still holds copies of: " + String.join(", ", held);
                    if (!now.equals(last)) {
                        System.out.println(now);
                        last = now;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new ClusterException("node " + m.name() + " still holds " + held.size() + " cop"
                                + (held.size() == 1 ? "y" : "ies") + " after " + limit.toMinutes() + " min; the drain goes on");
                    }
                    Thread.sleep(1000);
                }
            }
        }
    }
}
