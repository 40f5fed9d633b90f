package io.hablock.cli.command;

import io.hablock.cli.admin.AdminClient;
import picocli.CommandLine.Option;

/** How a client command finds a node: {@code --node HOST:PORT} or {@code HABLOCK_NODE}. */
public final class NodeOptions {
    public static final String DEFAULT = "127.0.0.1:10810";

    @Option(names = "--node", paramLabel = "HOST:PORT", defaultValue = "${env:HABLOCK_NODE:-" + DEFAULT + "}",
            description = "Admin endpoint of a hablock node (env HABLOCK_NODE; default ${DEFAULT-VALUE}).")
    String node;

    AdminClient client() {
        return new AdminClient(node);
    }
}
