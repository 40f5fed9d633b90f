package io.hablock.cli.acceptance.support;

import io.hablock.cluster.ClusterException;
import io.hablock.cluster.security.ClusterSecret;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The cluster credentials the tests' nodes use: the default file, which the first cluster a test
 * starts on this machine creates ({@code cluster up}, a server with its embedded ZooKeeper).
 */
public final class TestCredentials {
    private TestCredentials() {
    }

    public static Path file() {
        return Path.of(ClusterSecret.DEFAULT_FILE);
    }

    /** The credentials, made now if no cluster made them yet. */
    public static ClusterSecret secret() {
        try {
            return ClusterSecret.createIfAbsent(file());
        } catch (ClusterException e) {
            throw new UncheckedIOException(e);
        }
    }
}
