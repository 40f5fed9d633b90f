package io.hablock.cli.acceptance.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real Docker engine of the test's own (Debian's {@code docker.io}): {@code dockerd} with its
 * data, exec root and socket in a directory, no bridge, no iptables, the vfs storage driver,
 * plus a busybox image made offline. It runs in the test's mount namespace, where it sees what
 * a hablock node the test started mounts; under {@code ip netns exec}, whose mount namespace has
 * a fresh {@code /sys} without the cgroup hierarchies, those are mounted there first. {@link #docker} runs the real {@code docker} CLI
 * against it. Closing removes the containers, stops the engine and unmounts what it left.
 */
public final class DockerEngine implements AutoCloseable {
    /** The image every test container runs: busybox-static, imported from a directory. */
    public static final String IMAGE = "hablock-test-busybox:1";
    private static final Duration READY = Duration.ofSeconds(60);

    private final Path dir;
    private final BackgroundProcess dockerd;

    private DockerEngine(Path dir) {
        this.dir = dir;
        this.dockerd = Command.of("dockerd", "--storage-driver=vfs",
                "--iptables=false", "--ip6tables=false", "--bridge=none", "--data-root", dir.resolve("root").toString(),
                "--exec-root", dir.resolve("exec").toString(), "-H", "unix://" + socket(), "--pidfile",
                dir.resolve("pid").toString()).start();
    }

    /** Starts an engine in {@code dir} and imports {@link #IMAGE}. */
    public static DockerEngine start(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        mountCgroupsIfMissing();
        DockerEngine engine = new DockerEngine(dir);
        try {
            Waits.until("dockerd answers on " + engine.socket(), READY,
                    () -> engine.docker("version").succeeded(), engine.dockerd::describe, () -> !engine.dockerd.isAlive());
            engine.importBusybox();
            return engine;
        } catch (RuntimeException | Error e) {
            engine.close();
            throw e;
        }
    }

    /**
     * {@code ip netns exec} remounts {@code /sys} for the namespace, without the cgroup
     * hierarchies dockerd needs ("Devices cgroup isn't mounted"): mounts them again, in the
     * test's own mount namespace only (the host's are not touched), as v1 controllers when the
     * kernel lists them, else as cgroup2.
     */
    public static void mountCgroupsIfMissing() {
        String script = "[ -d /sys/fs/cgroup/devices ] || [ -f /sys/fs/cgroup/cgroup.controllers ] && exit 0\n"
                + "mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup\n"
                + "controllers=$(awk 'NR > 1 && $4 == 1 { print $1 }' /proc/cgroups)\n"
                + "if [ -z \"$controllers\" ]; then umount /sys/fs/cgroup; exec mount -t cgroup2 none /sys/fs/cgroup; fi\n"
                + "for c in $controllers; do mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c; done\n"
                + "mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd\n";
        CommandResult r = Command.of("sh", "-c", script).timeout(Duration.ofSeconds(30)).run();
        assertThat(r.exitCode()).as("mounting the cgroup hierarchies%s", r.describe()).isZero();
    }

    public Path socket() {
        return dir.resolve("docker.sock");
    }

    /** {@code docker ARGS} against this engine. */
    public CommandResult docker(String... args) {
        List<String> argv = new ArrayList<>(List.of("docker", "-H", "unix://" + socket()));
        argv.addAll(List.of(args));
        return Command.of(argv).timeout(Duration.ofMinutes(3)).run();
    }

    /** Like {@link #docker} but fails the test unless it exits 0. */
    public CommandResult dockerOk(String... args) {
        CommandResult r = docker(args);
        assertThat(r.exitCode()).as("docker %s%s", String.join(" ", args), r.describe()).isZero();
        return r;
    }

    /** A directory holding busybox and its applets, imported as an image: no registry needed. */
    private void importBusybox() {
        Path rootfs = dir.resolve("busybox-rootfs");
        try {
            Files.createDirectories(rootfs.resolve("bin"));
            Files.copy(Path.of("/bin/busybox"), rootfs.resolve("bin/busybox"));
            for (String applet : List.of("sh", "cat", "echo", "ls", "dd", "sync", "md5sum", "sleep", "mount", "df", "stat")) {
                Files.createSymbolicLink(rootfs.resolve("bin").resolve(applet), Path.of("busybox"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        CommandResult r = Command.of("sh", "-c", "tar -C \"$1\" -c . | docker -H \"unix://$2\" import - \"$3\"", "import",
                rootfs.toString(), socket().toString(), IMAGE).timeout(Duration.ofMinutes(2)).run();
        assertThat(r.exitCode()).as("docker import%s", r.describe()).isZero();
    }

    @Override
    public void close() {
        try {
            CommandResult ids = docker("ps", "-aq");
            if (ids.succeeded() && !ids.stdout().isBlank()) {
                List<String> rm = new ArrayList<>(List.of("rm", "-f"));
                rm.addAll(ids.stdout().lines().toList());
                docker(rm.toArray(String[]::new));
            }
        } finally {
            dockerd.terminate(Duration.ofSeconds(30));
            // What the engine mounted under its roots (overlay-less vfs: the exec root's netns and shm files).
            Command.of("sh", "-c",
                    "grep -o \" $1[^ ]*\" /proc/self/mounts | sort -r | xargs -r -n1 umount -l", "umount", dir.toString())
                    .timeout(Duration.ofSeconds(30)).run();
        }
    }
}
