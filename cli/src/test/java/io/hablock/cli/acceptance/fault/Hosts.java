package io.hablock.cli.acceptance.fault;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The processes of the cluster under test: one ZooKeeper and nodes v1..vN, each a
 * {@code hablock} JVM in its own namespace with its own data directory under DIR, started with
 * the arguments {@code hablock cluster up} gives its nodes. A killed node is restarted with the
 * same arguments and data directory. Hosts also remembers what was done to each node (cut,
 * paused, ZooKeeper cut) so that {@link #restore} can undo it whatever a cycle went through.
 */
final class Hosts {
    private final Testbed bed;
    private final String classpath;
    private final Duration sessionTimeout;
    private final List<String> testDelays;
    private final Process[] nodes;
    private final boolean[] cut;
    private final boolean[] paused;
    private final boolean[] zkCut;
    private Process zookeeper;

    /** @param testDelays {@code STEP=DURATION[xCOUNT]} items every node is started with (--test-delay) */
    Hosts(Testbed bed, String classpath, int count, Duration sessionTimeout, List<String> testDelays) {
        this.bed = bed;
        this.classpath = classpath;
        this.sessionTimeout = sessionTimeout;
        this.testDelays = List.copyOf(testDelays);
        this.nodes = new Process[count + 1];
        this.cut = new boolean[count + 1];
        this.paused = new boolean[count + 1];
        this.zkCut = new boolean[count + 1];
    }

    Duration sessionTimeout() {
        return sessionTimeout;
    }

    int count() {
        return nodes.length - 1;
    }

    void startZooKeeper() {
        zookeeper = bed.start(bed.zkNs(), hablock("-Xmx128m", List.of("zookeeper", "--data-dir",
                bed.dir().resolve("zookeeper").toString(), "--listen", bed.zkAddress())), log("zookeeper"));
    }

    void start(int k) {
        List<String> args = new ArrayList<>(List.of("server", "--data-dir",
                bed.dir().resolve("v" + k).toString(), "--name", "v" + k, "--listen", bed.nodeIp(k) + ":10809",
                "--zk", bed.zkAddress(), "--session-timeout", sessionTimeout.toMillis() + "ms",
                // The probes check that a deposed owner itself refuses the volume; a forwarding
                // node would accept it and pass the write on to the new owner, which is correct.
                "--no-forward"));
        testDelays.forEach(d -> args.addAll(List.of("--test-delay", d)));
        nodes[k] = bed.start(bed.nodeNs(k), hablock("-Xmx256m", args), log("v" + k));
    }

    /** SIGKILL: the node gets no chance to say goodbye. */
    void kill(int k) {
        Process p = nodes[k];
        p.destroyForcibly(); // a stopped JVM dies of SIGKILL too
        paused[k] = false;
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    boolean alive(int k) {
        return nodes[k] != null && nodes[k].isAlive();
    }

    /** SIGSTOP: the JVM freezes with its sockets open, as in a long GC pause or a frozen VM. */
    void pause(int k) {
        Testbed.signal(nodes[k].pid(), "STOP");
        paused[k] = true;
    }

    void resume(int k) {
        if (alive(k)) {
            Testbed.signal(nodes[k].pid(), "CONT");
        }
        paused[k] = false;
    }

    boolean isPaused(int k) {
        return paused[k];
    }

    /** Drops the node's ZooKeeper traffic only. */
    void cutZooKeeper(int k) {
        bed.cutZooKeeper(k);
        zkCut[k] = true;
    }

    void healZooKeeper(int k) {
        bed.healZooKeeper(k);
        zkCut[k] = false;
    }

    /** Whether the checker can talk to the node's NBD port: it runs, is not stopped, its link is up. */
    boolean answers(int k) {
        return alive(k) && !paused[k] && !cut[k];
    }

    /** Does {@code action} to node k. */
    void inject(Fault.Action action, int k) {
        switch (action) {
            case KILL -> kill(k);
            case CUT -> cut(k);
            case PAUSE -> pause(k);
            case ZK_CUT -> cutZooKeeper(k);
        }
    }

    /**
     * Undoes whatever was done to node k: SIGCONT, link up, ZooKeeper traffic back, a dead node
     * restarted. Does nothing to a node that is fine; called at the end of every cycle, also when
     * a check failed.
     */
    void restore(int k) {
        if (paused[k]) {
            resume(k);
        }
        if (cut[k]) {
            heal(k);
        }
        if (zkCut[k]) {
            healZooKeeper(k);
        }
        if (!alive(k)) {
            start(k);
        }
    }

    /** {@link #restore} for every node, trying each even when one fails. */
    void restoreAll() {
        RuntimeException first = null;
        for (int k = 1; k <= count(); k++) {
            try {
                restore(k);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    void cut(int k) {
        bed.cut(k);
        cut[k] = true;
    }

    void heal(int k) {
        bed.heal(k);
        cut[k] = false;
    }

    boolean isCut(int k) {
        return cut[k];
    }

    String ip(int k) {
        return bed.nodeIp(k);
    }

    /** v3 → 3. */
    static int number(String name) {
        return Integer.parseInt(name.substring(1));
    }

    Path log(String name) {
        return bed.dir().resolve(name + ".log");
    }

    /** How long node k's log is now: where to look for what it logs next. */
    long logSize(int k) {
        try {
            return Files.size(log("v" + k));
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * Waits until node k logs a line containing {@code text} after position {@code from} of its
     * log; returns that line, or null after {@code limit}. Polls every 20 ms, so that a fault
     * can be injected within a test delay of a few seconds.
     */
    String awaitLog(int k, long from, String text, Duration limit) {
        String[] found = new String[1];
        FaultCheck.poll(limit, () -> (found[0] = logLine(log("v" + k), from, text)) != null, 20);
        return found[0];
    }

    private static String logLine(Path log, long from, String text) {
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            if (f.length() <= from) {
                return null;
            }
            byte[] b = new byte[(int) Math.min(f.length() - from, 64 << 20)];
            f.seek(from);
            f.readFully(b);
            return new String(b, StandardCharsets.UTF_8).lines().filter(l -> l.contains(text)).findFirst().orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    private List<String> hablock(String heap, List<String> args) {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                heap, "-XX:MaxDirectMemorySize=512m", "-cp", classpath, "io.hablock.cli.Main"));
        argv.addAll(args);
        return argv;
    }

    /** SIGTERM to every node and ZooKeeper, then SIGKILL to what is left. */
    void stopAll() {
        List<Process> all = new ArrayList<>();
        for (int k = 1; k <= count(); k++) {
            if (paused[k]) {
                try {
                    resume(k); // a stopped JVM would not act on SIGTERM
                } catch (RuntimeException e) {
                    nodes[k].destroyForcibly();
                }
            }
            if (nodes[k] != null) {
                all.add(nodes[k]);
            }
        }
        all.forEach(Process::destroy);
        for (Process p : all) {
            try {
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (zookeeper != null) {
            zookeeper.destroyForcibly();
        }
    }
}
