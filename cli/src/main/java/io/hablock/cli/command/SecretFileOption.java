package io.hablock.cli.command;

import io.hablock.cluster.ClusterException;
import io.hablock.cluster.security.ClusterSecret;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --secret-file}: the cluster's credentials, which every node and the CLI read. */
public final class SecretFileOption {
    @Option(names = "--secret-file", paramLabel = "FILE",
            defaultValue = "${env:HABLOCK_SECRET_FILE:-" + ClusterSecret.DEFAULT_FILE + "}",
            description = {"The cluster's credentials: ZooKeeper's digest secret and the cluster CA (env HABLOCK_SECRET_FILE; "
                    + "default ${DEFAULT-VALUE}). Made by `hablock cluster init` or by the first node of a cluster; "
                    + "copy it to every node (mode 0600)."})
    Path file;

    /** The file when no --secret-file is given: HABLOCK_SECRET_FILE, else {@value ClusterSecret#DEFAULT_FILE}. */
    static Path defaultFile() {
        String env = System.getenv("HABLOCK_SECRET_FILE");
        return Path.of(env == null || env.isBlank() ? ClusterSecret.DEFAULT_FILE : env);
    }

    /** The credentials; a one-line error when the file is missing or not a cluster secret. */
    ClusterSecret load() throws ClusterException {
        return ClusterSecret.load(file);
    }

    /** The credentials, made first if the file does not exist (a new cluster). */
    ClusterSecret createIfAbsent() throws ClusterException {
        return ClusterSecret.createIfAbsent(file);
    }

    Path file() {
        return file;
    }
}
