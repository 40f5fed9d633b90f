package io.hablock.cli.command;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock cluster start NODE}: starts a stopped (or killed) node of the local cluster again. */
@Command(name = "start", mixinStandardHelpOptions = true,
        description = {"Start node NODE (v1, v2, ...) of the local cluster again, exactly as `cluster up` did (same "
                + "address, same data directory): after a kill, it rejoins."})
public final class ClusterStartCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NODE", description = "Node name (v1, v2, ...) or zookeeper.")
    String name;

    @Option(names = "--dir", paramLabel = "DIR", defaultValue = LocalCluster.DEFAULT_DIR,
            description = "The directory given to `cluster up` (default ${DEFAULT-VALUE}).")
    Path dir;

    @Override
    public Integer call() throws Exception {
        Path d = dir.toAbsolutePath();
        LocalCluster cluster = LocalCluster.read(d)
                .orElseThrow(() -> new IllegalStateException("no local cluster was started from " + d));
        Optional<LocalCluster.Proc> proc = cluster.processes().stream().filter(p -> p.name().equals(name)).findFirst();
        if (proc.isEmpty()) {
            throw new IllegalArgumentException("the local cluster in " + d + " has no node " + name);
        }
        if (proc.get().handle().isPresent()) {
            throw new IllegalStateException(name + " is already running (pid " + proc.get().pid() + ")");
        }
        if (proc.get().command() == null) {
            throw new IllegalStateException("cluster.json in " + d + " predates `cluster start`: restart the cluster");
        }
        LocalCluster.Proc started = LocalCluster.launch(name, proc.get().command(), Path.of(proc.get().log()));
        cluster.with(started).write(d);
        System.out.println(name + " started again (pid " + started.pid() + ", log " + started.log() + ")");
        return 0;
    }
}
