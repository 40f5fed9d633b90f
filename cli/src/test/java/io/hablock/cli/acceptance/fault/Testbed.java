package io.hablock.cli.acceptance.fault;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The hosts of a fault run on one machine: one network namespace per host (ZooKeeper, nodes
 * v1..vN, the client) joined by a bridge that lives in a namespace of its own, addresses in a
 * private subnet that exists only inside them, no route anywhere else. Every namespace and
 * every process started is written to {@code DIR/testbed.state} first, so {@link #teardown}
 * can remove them even after the process that made them was killed.
 */
final class Testbed {
    static final String STATE_FILE = "testbed.state";
    /** The nftables table of a ZooKeeper-only cut, in the node's namespace. */
    private static final String NFT_TABLE = "faultcheck";

    private final Path dir;
    private final String prefix;
    private final String subnet;

    /**
     * @param prefix namespace names start with it (unique per run)
     * @param subnet the first three octets, {@code 10.99.0}
     */
    Testbed(Path dir, String prefix, String subnet) {
        this.dir = dir;
        this.prefix = prefix;
        this.subnet = subnet;
    }

    Path dir() {
        return dir;
    }

    String bridgeNs() {
        return prefix + "-br";
    }

    String zkNs() {
        return prefix + "-zk";
    }

    String clientNs() {
        return prefix + "-c";
    }

    String nodeNs(int k) {
        return prefix + "-n" + k;
    }

    String zkAddress() {
        return subnet + ".1:2181";
    }

    String nodeIp(int k) {
        return subnet + "." + (10 + k);
    }

    String clientIp() {
        return subnet + ".100";
    }

    /** Creates the bridge and one namespace per host; records each before it exists. */
    void createNetwork(int nodes) {
        String br = bridgeNs();
        netns(br);
        ip("-n", br, "link", "add", "br0", "type", "bridge");
        ip("-n", br, "link", "set", "br0", "up");
        attach(zkNs(), "pzk", subnet + ".1");
        attach(clientNs(), "pc", clientIp());
        for (int k = 1; k <= nodes; k++) {
            attach(nodeNs(k), "pn" + k, nodeIp(k));
        }
    }

    private void attach(String ns, String port, String address) {
        netns(ns);
        ip("link", "add", port, "netns", bridgeNs(), "type", "veth", "peer", "name", "eth0", "netns", ns);
        ip("-n", bridgeNs(), "link", "set", port, "master", "br0", "up");
        ip("-n", ns, "addr", "add", address + "/24", "dev", "eth0");
        ip("-n", ns, "link", "set", "eth0", "up");
        ip("-n", ns, "link", "set", "lo", "up");
    }

    private void netns(String ns) {
        remember("netns " + ns);
        ip("netns", "add", ns);
    }

    /** Cuts the host off: its packets vanish, as in a real partition. */
    void cut(int node) {
        ip("-n", nodeNs(node), "link", "set", "eth0", "down");
    }

    void heal(int node) {
        ip("-n", nodeNs(node), "link", "set", "eth0", "up");
    }

    /**
     * Drops only the host's ZooKeeper traffic (TCP to and from port 2181) with an nftables table
     * in its namespace: it still reaches its copies and its clients. The table goes with the
     * namespace at teardown.
     */
    void cutZooKeeper(int node) {
        nft(node, "add table inet " + NFT_TABLE + "; "
                + "add chain inet " + NFT_TABLE + " out { type filter hook output priority 0; }; "
                + "add rule inet " + NFT_TABLE + " out tcp dport 2181 drop; "
                + "add chain inet " + NFT_TABLE + " in { type filter hook input priority 0; }; "
                + "add rule inet " + NFT_TABLE + " in tcp sport 2181 drop");
    }

    void healZooKeeper(int node) {
        nft(node, "delete table inet " + NFT_TABLE);
    }

    private void nft(int node, String commands) {
        run(List.of("ip", "netns", "exec", nodeNs(node), "nft", commands), true);
    }

    /** {@code kill -SIG pid}: Java sends only SIGTERM and SIGKILL itself. */
    static void signal(long pid, String signal) {
        run(List.of("kill", "-" + signal, String.valueOf(pid)), true);
    }

    /** Starts {@code argv} inside namespace {@code ns}, output appended to {@code log}. */
    Process start(String ns, List<String> argv, Path log) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(argv);
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Process p = pb.start(); // `ip netns exec` execs the command: same pid
            remember("pid " + p.pid());
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", cmd), e);
        }
    }

    private synchronized void remember(String line) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(STATE_FILE), line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void ip(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        run(cmd, true);
    }

    private static String run(List<String> cmd, boolean check) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + ": timed out");
            }
            if (check && p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + ": exit " + p.exitValue() + ": " + out.strip());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** The whole command line (ProcessHandle.Info cuts long ones, such as a test class path). */
    private static String commandLine(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", String.valueOf(pid), "cmdline")), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * Removes what a run recorded in {@code DIR/testbed.state}: SIGKILL to each process it
     * started (only if that pid still runs a command naming DIR, so a reused pid is spared; a
     * SIGSTOPped process dies of SIGKILL too), then its namespaces, which takes the links and
     * nftables rules in them along. Safe to call twice.
     */
    static void teardown(Path dir) {
        Path state = dir.resolve(STATE_FILE);
        if (!Files.exists(state)) {
            return;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String mark = dir.toAbsolutePath().toString();
        List<ProcessHandle> killed = new ArrayList<>();
        for (String line : lines) {
            if (line.startsWith("pid ")) {
                long pid = Long.parseLong(line.substring(4));
                ProcessHandle.of(pid).filter(h -> commandLine(pid).contains(mark)).ifPresent(h -> {
                            h.destroyForcibly();
                            killed.add(h);
                        });
            }
        }
        for (ProcessHandle h : killed) {
            h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(t -> h).join();
        }
        List<String> namespaces = lines.stream().filter(l -> l.startsWith("netns ")).map(l -> l.substring(6)).toList();
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            run(List.of("ip", "netns", "delete", namespaces.get(i)), false);
        }
        try {
            Files.delete(state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
