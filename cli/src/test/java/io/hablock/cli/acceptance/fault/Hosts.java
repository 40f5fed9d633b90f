package io.hablock.cli.acceptance.fault;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The processes of the cluster under test: one ZooKeeper and nodes v1..vN, each a
 * {@code hablock} JVM in its own namespace with its own data directory under DIR, started with
 * the arguments {@code hablock cluster up} gives its nodes. A killed node is restarted with the
 * same arguments and data directory.
 */
final class Hosts {
    private final Testbed bed;
    private final String classpath;
    private final Duration sessionTimeout;
    private final Process[] nodes;
    private final boolean[] cut;
    private Process zookeeper;

    Hosts(Testbed bed, String classpath, int count, Duration sessionTimeout) {
        this.bed = bed;
        this.classpath = classpath;
        this.sessionTimeout = sessionTimeout;
        this.nodes = new Process[count + 1];
        this.cut = new boolean[count + 1];
    }

    int count() {
        return nodes.length - 1;
    }

    void startZooKeeper() {
        zookeeper = bed.start(bed.zkNs(), hablock("-Xmx128m", List.of("zookeeper", "--data-dir",
                bed.dir().resolve("zookeeper").toString(), "--listen", bed.zkAddress())), log("zookeeper"));
    }

    void start(int k) {
        nodes[k] = bed.start(bed.nodeNs(k), hablock("-Xmx256m", List.of("server", "--data-dir",
                bed.dir().resolve("v" + k).toString(), "--name", "v" + k, "--listen", bed.nodeIp(k) + ":10809",
                "--zk", bed.zkAddress(), "--session-timeout", sessionTimeout.toMillis() + "ms",
                // The probes check that a deposed owner itself refuses the volume; a forwarding
                // node would accept it and pass the write on to the new owner, which is correct.
                "--no-forward")), log("v" + k));
    }

    /** SIGKILL: the node gets no chance to say goodbye. */
    void kill(int k) {
        Process p = nodes[k];
        p.destroyForcibly();
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    boolean alive(int k) {
        return nodes[k] != null && nodes[k].isAlive();
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

    private List<String> hablock(String heap, List<String> args) {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                heap, "-XX:MaxDirectMemorySize=512m", "-cp", classpath, "io.hablock.cli.Main"));
        argv.addAll(args);
        return argv;
    }

    /** SIGTERM to every node and ZooKeeper, then SIGKILL to what is left. */
    void stopAll() {
        List<Process> all = new ArrayList<>();
        for (Process p : nodes) {
            if (p != null) {
                all.add(p);
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
