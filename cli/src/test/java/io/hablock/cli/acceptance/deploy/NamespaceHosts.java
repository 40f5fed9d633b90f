package io.hablock.cli.acceptance.deploy;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.opentest4j.AssertionFailedError;

/**
 * Four hosts v1..v4 for Ansible on one machine: one network namespace each with its own
 * {@code sshd} (a throwaway host key, root login with a throwaway key), joined by a bridge in a
 * namespace of its own to a control namespace where Ansible and the test's clients run.
 * Addresses are in {@value #SUBNET}.0/24, which exists only inside these namespaces.
 *
 * <p>The hosts share the machine's file system, so each gets a root directory
 * ({@link #root(int)}) for the paths the roles write; what lives outside them (Debian's
 * packages, the {@code hablock} and {@code zookeeper} users) is shared. Every namespace, and
 * every other thing the test makes outside its directory, is written to
 * {@code DIR/}{@value #STATE_FILE} before it exists, so {@link #teardown(Path)} removes it
 * whatever happened: it kills every process inside the namespaces (sshd, what it started,
 * the daemons Ansible detached), then deletes them.
 */
final class NamespaceHosts implements AutoCloseable {
    static final String SUBNET = "10.98.0";
    static final int COUNT = 4;
    static final String STATE_FILE = "hosts.state";
    /** What every Debian host has, and the roles expect to exist. */
    private static final List<String> HOST_SKELETON = List.of("etc", "opt", "run", "tmp", "usr/local/bin",
            "usr/local/sbin", "var/lib", "var/log");
    private static final Duration SSHD_READY = Duration.ofSeconds(20);

    private final Path dir;
    private final String prefix;
    /** Tears down when the JVM is stopped mid-run (a build killed at its time limit). */
    private final Thread teardownAtExit;

    /** @param dir this run's directory: keys, host roots, logs, the state file */
    NamespaceHosts(Path dir) {
        this.dir = dir.toAbsolutePath();
        this.prefix = "hd" + Long.toHexString(ProcessHandle.current().pid());
        this.teardownAtExit = new Thread(() -> teardown(this.dir), "namespace-hosts-teardown");
    }

    Path dir() {
        return dir;
    }

    static String name(int k) {
        return "v" + k;
    }

    String ip(int k) {
        return SUBNET + "." + (10 + k);
    }

    /** The directory that stands for host k's {@code /}. */
    Path root(int k) {
        return dir.resolve("hosts").resolve(name(k));
    }

    Path privateKey() {
        return dir.resolve("ssh/id");
    }

    private String bridgeNs() {
        return prefix + "-br";
    }

    private String controlNs() {
        return prefix + "-ctl";
    }

    private String hostNs(int k) {
        return prefix + "-" + name(k);
    }

    /** Keys, namespaces, an sshd per host; returns when every sshd lets the control host in. */
    void create() throws IOException {
        Runtime.getRuntime().addShutdownHook(teardownAtExit);
        Path ssh = Files.createDirectories(dir.resolve("ssh"));
        keygen(ssh.resolve("host_key"));
        keygen(privateKey());
        Files.copy(ssh.resolve("id.pub"), ssh.resolve("authorized_keys"));
        Path privsep = Path.of("/run/sshd"); // Debian's sshd refuses to start without it
        if (!Files.isDirectory(privsep)) {
            remember("dir " + privsep);
            Files.createDirectories(privsep);
        }

        netns(bridgeNs());
        ip("-n", bridgeNs(), "link", "add", "br0", "type", "bridge");
        ip("-n", bridgeNs(), "link", "set", "br0", "up");
        attach(controlNs(), "pctl", SUBNET + ".100");
        for (int k = 1; k <= COUNT; k++) {
            attach(hostNs(k), "p" + name(k), ip(k));
            for (String d : HOST_SKELETON) {
                Files.createDirectories(root(k).resolve(d));
            }
            startSshd(k);
        }
        for (int k = 1; k <= COUNT; k++) {
            awaitSsh(k);
        }
    }

    private static void keygen(Path file) {
        Command.of("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hablock deploy test", "-f", file.toString())
                .runOk();
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

    private void startSshd(int k) {
        Path ssh = dir.resolve("ssh");
        List<String> argv = List.of("ip", "netns", "exec", hostNs(k), "/usr/sbin/sshd", "-D", "-f", "/dev/null",
                "-E", dir.resolve(name(k) + "-sshd.log").toString(),
                "-o", "ListenAddress=" + ip(k),
                "-o", "HostKey=" + ssh.resolve("host_key"),
                "-o", "AuthorizedKeysFile=" + ssh.resolve("authorized_keys"),
                "-o", "PermitRootLogin=prohibit-password",
                "-o", "PasswordAuthentication=no",
                "-o", "StrictModes=no",
                "-o", "PidFile=none",
                "-o", "Subsystem=sftp internal-sftp");
        try {
            new ProcessBuilder(argv).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name(k) + "-sshd.log").toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start sshd for " + name(k), e);
        }
    }

    private void awaitSsh(int k) {
        long deadline = System.nanoTime() + SSHD_READY.toNanos();
        CommandResult last;
        do {
            last = ssh(k, "true").timeout(Duration.ofSeconds(10)).run();
            if (last.succeeded()) {
                return;
            }
            sleepQuietly();
        } while (System.nanoTime() < deadline);
        throw new AssertionFailedError("sshd of " + name(k) + " did not let us in" + last.describe());
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(200);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionFailedError("interrupted");
        }
    }

    /** {@code argv} run on the control host. */
    Command onControl(List<String> argv) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", controlNs()));
        all.addAll(argv);
        return Command.of(all);
    }

    /** A shell command run on host k over ssh from the control host, as Ansible does. */
    Command ssh(int k, String command) {
        return onControl(List.of("ssh", "-i", privateKey().toString(), "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "root@" + ip(k), command));
    }

    /** Cuts host k off: its packets vanish, as in a real partition. */
    void cut(int k) {
        ip("-n", hostNs(k), "link", "set", "eth0", "down");
    }

    void heal(int k) {
        ip("-n", hostNs(k), "link", "set", "eth0", "up");
    }

    /** Records that the run made system user {@code name}, so teardown removes it. */
    void userMadeByThisRun(String name) {
        remember("user " + name);
    }

    /** Namespaces of this run that still exist. */
    List<String> namespacesLeft() {
        String out = Command.of("ip", "netns", "list").runOk().stdout();
        return out.lines().map(l -> l.split(" ")[0]).filter(n -> n.startsWith(prefix + "-")).toList();
    }

    @Override
    public void close() {
        teardown(dir);
        try {
            Runtime.getRuntime().removeShutdownHook(teardownAtExit);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook runs, and finds nothing left
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

    private static void ip(String... args) {
        List<String> argv = new ArrayList<>(List.of("ip"));
        argv.addAll(List.of(args));
        Command.of(argv).timeout(Duration.ofSeconds(30)).runOk();
    }

    /**
     * Removes what a run recorded in {@code DIR/hosts.state}: SIGKILL to every process inside
     * its namespaces (until none is left), the namespaces, then a system user or directory it
     * made. Safe to call twice.
     */
    static void teardown(Path dir) {
        Path state = dir.toAbsolutePath().resolve(STATE_FILE);
        if (!Files.exists(state)) {
            return;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> namespaces = lines.stream().filter(l -> l.startsWith("netns ")).map(l -> l.substring(6)).toList();
        for (int round = 0; round < 10; round++) {
            List<ProcessHandle> killed = new ArrayList<>();
            for (String ns : namespaces) {
                for (String pid : Command.of("ip", "netns", "pids", ns).run().stdout().split("\\s+")) {
                    if (!pid.isBlank()) {
                        ProcessHandle.of(Long.parseLong(pid)).ifPresent(h -> {
                            h.destroyForcibly();
                            killed.add(h);
                        });
                    }
                }
            }
            if (killed.isEmpty()) {
                break;
            }
            for (ProcessHandle h : killed) {
                h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(t -> h).join();
            }
        }
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            Command.of("ip", "netns", "delete", namespaces.get(i)).run();
        }
        for (String line : lines) {
            if (line.startsWith("user ")) {
                Command.of("userdel", line.substring(5)).run();
            } else if (line.startsWith("dir ")) {
                try {
                    Files.deleteIfExists(Path.of(line.substring(4))); // only if still empty
                } catch (IOException e) {
                    // something else uses it now: leave it
                }
            }
        }
        try {
            Files.delete(state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
