package io.hablock.cli.command;

import io.hablock.cli.HostPort;
import io.hablock.cli.host.HostEndpoint;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.nbd.server.NbdServerConfig;
import picocli.CommandLine.Option;

/** {@code --endpoint}: which NBD endpoint a host command connects to. */
public final class EndpointOption {
    @Option(names = "--endpoint", paramLabel = "HOST[:PORT]",
            description = "The NBD endpoint to use (default: the hablock node running on this host, which serves every "
                    + "volume and follows its owner through a failover).")
    String endpoint;

    HostEndpoint resolve(ClusterClient cluster, String volume) throws ClusterException {
        if (endpoint == null) {
            return HostEndpoint.find(cluster, volume);
        }
        cluster.volume(volume).orElseThrow(() -> new ClusterException("no volume named '" + volume + "'"));
        return HostEndpoint.at(cluster, HostPort.resolve(HostPort.parse(endpoint, "127.0.0.1", NbdServerConfig.DEFAULT_PORT)));
    }
}
