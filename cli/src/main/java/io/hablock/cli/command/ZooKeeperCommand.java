package io.hablock.cli.command;

import io.hablock.cli.HostPort;
import io.hablock.cluster.EmbeddedZooKeeper;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/** {@code hablock zookeeper}: a standalone ZooKeeper server, as {@code cluster up} runs it. */
@Command(name = "zookeeper", mixinStandardHelpOptions = true,
        description = {"Run a standalone ZooKeeper server (for a local cluster or a test; production clusters use "
                + "a ZooKeeper ensemble). Only the cluster's credentials (--secret-file, made if missing) may read or change "
                + "anything in it. Stops on SIGTERM/SIGINT."})
public final class ZooKeeperCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ZooKeeperCommand.class);

    @Option(names = {"-d", "--data-dir"}, required = true, paramLabel = "DIR", description = "Snapshots and transaction log.")
    Path dataDir;

    @Option(names = {"-l", "--listen"}, paramLabel = "ADDR:PORT", defaultValue = "127.0.0.1:2181",
            description = "Client address (default ${DEFAULT-VALUE}).")
    String listen;

    @Mixin
    SecretFileOption secret;

    @Override
    public Integer call() throws Exception {
        InetSocketAddress address = HostPort.resolve(HostPort.parse(listen, "127.0.0.1", ServerCommand.DEFAULT_ZK_PORT));
        CountDownLatch stop = new CountDownLatch(1);
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        Signal.handle(new Signal("INT"), s -> stop.countDown());
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dataDir, address, 60_000, secret.createIfAbsent())) {
            log.info("ZooKeeper ready on {}", zk.connectString());
            stop.await();
        }
        return 0;
    }
}
