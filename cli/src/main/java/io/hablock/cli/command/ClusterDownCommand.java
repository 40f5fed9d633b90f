package io.hablock.cli.command;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code hablock cluster down}: stops the processes {@code cluster up} started, nothing else. */
@Command(name = "down", mixinStandardHelpOptions = true,
        description = {"Stop the local cluster started from DIR: SIGTERM to each node (they finish and sync), then to "
                + "ZooKeeper; SIGKILL for any still running after 30 s. Data and logs stay in DIR."})
public final class ClusterDownCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", defaultValue = LocalCluster.DEFAULT_DIR,
            description = "The directory given to `cluster up` (default ${DEFAULT-VALUE}).")
    Path dir;

    @Override
    public Integer call() throws Exception {
        Optional<LocalCluster> cluster = LocalCluster.read(dir.toAbsolutePath());
        if (cluster.isEmpty()) {
            throw new IllegalStateException("no local cluster was started from " + dir.toAbsolutePath());
        }
        int stopped = stop(cluster.get().processes(), System.out);
        LocalCluster.delete(dir.toAbsolutePath());
        System.out.println("local cluster down: " + stopped + " process(es) stopped");
        return 0;
    }

    /** Nodes first (in parallel), ZooKeeper last; returns how many were running. */
    static int stop(List<LocalCluster.Proc> procs, PrintStream out) {
        List<LocalCluster.Proc> nodes = new ArrayList<>();
        List<LocalCluster.Proc> zk = new ArrayList<>();
        for (LocalCluster.Proc p : procs) {
            (p.name().equals("zookeeper") ? zk : nodes).add(p);
        }
        return stopAll(nodes, out) + stopAll(zk, out);
    }

    private static int stopAll(List<LocalCluster.Proc> procs, PrintStream out) {
        List<ProcessHandle> running = new ArrayList<>();
        for (LocalCluster.Proc p : procs) {
            p.handle().ifPresent(h -> {
                h.destroy();
                running.add(h);
            });
        }
        for (ProcessHandle h : running) {
            try {
                h.onExit().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                out.println("process " + h.pid() + " did not stop within 30 s: killing it");
                h.destroyForcibly();
            }
        }
        return running.size();
    }
}
