package io.hablock.cli.demo;

import java.io.IOException;

/** The node processes of the local cluster, as the demo needs to handle them. */
public interface LocalNodes {
    /** Sends SIGKILL to node {@code name} and waits until it is gone; returns its pid. */
    long kill(String name) throws IOException;

    /**
     * Starts node {@code name} again exactly as {@code cluster up} did ({@code cluster start}: same
     * command line, same data directory, output appended to its log), recorded so that
     * {@code cluster down} stops it; returns the new pid.
     */
    long restart(String name) throws IOException;
}
