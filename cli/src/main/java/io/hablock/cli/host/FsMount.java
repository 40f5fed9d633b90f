package io.hablock.cli.host;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.nativeio.nbd.KernelNbd;
import io.hablock.nativeio.nbd.NbdUnavailableException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A volume mounted on this host: attached (kernel {@code /dev/nbdN}, or a FUSE file through
 * {@code nbdfuse} and a loop device where the kernel has no nbd module), given a file system if
 * it is blank, mounted. What was done is kept in a state file under the run directory, so
 * {@code volume unmount} undoes exactly that, also from another shell.
 */
public final class FsMount {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private static final Duration FUSE_READY = Duration.ofSeconds(30);
    /** Bytes read at the start of a volume without a file system signature to decide it is blank. */
    private static final int BLANK_CHECK = 4 << 20;

    /** How the volume becomes a block device here. */
    public enum Via { KERNEL, FUSE }

    /**
     * What {@code volume mount} did, for {@code volume unmount}.
     *
     * @param device the block device mounted ({@code /dev/nbd0}, {@code /dev/loop3})
     * @param nbdIndex the nbd device number (kernel), or -1
     * @param fuseDir the nbdfuse mount directory (fuse), or null
     * @param nbdfusePid the nbdfuse process (fuse), or 0
     */
    public record State(String cluster, String volume, String path, String via, String fsType, String device, int nbdIndex,
            String fuseDir, long nbdfusePid, String endpoint) {
    }

    private final Path runDir;
    private final PrintStream out;

    public FsMount(Path runDir, PrintStream out) {
        this.runDir = runDir;
        this.out = out;
    }

    /** {@code $HABLOCK_RUN_DIR}, by default {@code /run/hablock}. */
    public static Path defaultRunDir() {
        return Path.of(System.getenv().getOrDefault("HABLOCK_RUN_DIR", "/run/hablock"));
    }

    /**
     * Checks, before anything is done, that this host has what a mount {@code via} needs: the
     * tools, and for the kernel the nbd module with its netlink interface.
     *
     * @return the kernel's nbd driver for {@link Via#KERNEL}, else null
     */
    public static KernelNbd preflight(Via via, String fs) throws IOException {
        Exec.require("mkfs." + fs, fs.equals("xfs") ? "xfsprogs" : "e2fsprogs");
        Exec.require("blkid", "util-linux");
        if (via == Via.FUSE) {
            Exec.require("nbdfuse", "libnbd-bin");
            Exec.require("losetup", "mount");
            Exec.require("fusermount3", "fuse3");
            return null;
        }
        KernelNbd kernel = KernelNbd.system();
        KernelNbd.Interface api;
        try {
            api = kernel.checkAvailable();
        } catch (NbdUnavailableException e) {
            throw new IOException(e.getMessage() + " (or mount through FUSE: --via fuse)", e);
        }
        if (api != KernelNbd.Interface.NETLINK) {
            throw new IOException("this kernel's nbd driver has no netlink interface: attach with `hablock volume "
                    + "attach` (it stays in the foreground) and mount the device yourself, or use --via fuse");
        }
        return kernel;
    }

    /**
     * Attaches, makes a file system of type {@code fs} when the volume is blank, and mounts it at
     * {@code path}. On any failure, undoes what it did.
     *
     * @param kernel what {@link #preflight} returned
     */
    public State mount(ClusterClient cluster, String clusterName, String volume, Path path, String fs, Via via,
            KernelNbd kernel, HostEndpoint endpoint, OptionalInt nbdIndex, Duration ioTimeout)
            throws IOException, ClusterException {
        String mkfs = "mkfs." + fs;
        path = path.toAbsolutePath().normalize();
        Optional<State> mounted = stateOf(volume);
        if (mounted.isPresent()) {
            throw new IOException("volume '" + volume + "' is already mounted on this host at " + mounted.get().path()
                    + " (hablock volume unmount " + volume + ")");
        }
        if (isMountPoint(path)) {
            throw new IOException(path + " is already a mount point");
        }
        long size = cluster.volume(volume).orElseThrow(() -> new ClusterException("no volume named '" + volume + "'"))
                .value().sizeBytes();
        Files.createDirectories(stateDir());

        List<Runnable> undo = new ArrayList<>();
        try {
            String device;
            int index = -1;
            String fuseDir = null;
            long pid = 0;
            Set<String> clients;
            if (via == Via.KERNEL) {
                KernelAttach.Attached a = KernelAttach.attach(kernel, endpoint.address(), clusterName, volume, nbdIndex, ioTimeout);
                index = a.index();
                int attached = index;
                undo.add(() -> quietly(() -> kernel.detach(attached)));
                device = kernel.device(index).toString();
                clients = a.client().map(Set::of).orElse(Set.of());
            } else {
                Path dir = stateDir().resolve(volume + ".fuse");
                Files.createDirectories(dir);
                undo.add(() -> quietly(() -> {
                    Files.deleteIfExists(dir);
                    Files.deleteIfExists(dir.resolveSibling(volume + ".fuse.log"));
                }));
                Process nbdfuse = startNbdfuse(dir, endpoint, volume);
                pid = nbdfuse.pid();
                undo.add(() -> quietly(() -> stopNbdfuse(dir, nbdfuse.toHandle())));
                awaitFuseDisk(dir.resolve("disk"), size, nbdfuse);
                clients = ProcSockets.localAddresses(pid);
                device = Exec.runOk("losetup " + dir.resolve("disk"), List.of("losetup", "--find", "--show",
                        dir.resolve("disk").toString())).strip();
                String loop = device;
                undo.add(() -> quietly(() -> Exec.run(List.of("losetup", "-d", loop))));
                fuseDir = dir.toString();
            }

            Optional<String> existing = fileSystemOn(device);
            String fsType;
            if (existing.isPresent()) {
                fsType = existing.get();
                out.println(volume + " has a file system already (" + fsType + "): mounting it as it is");
            } else {
                if (!startsBlank(Path.of(device))) {
                    throw new IOException("volume '" + volume + "' holds data but no file system blkid recognizes: "
                            + "not formatting it (mount its device yourself, or remove and create the volume again)");
                }
                out.println(volume + " is blank: making an " + fs + " file system (" + mkfs + ")");
                Exec.runOk(mkfs + " on " + device, fs.equals("xfs") ? List.of(mkfs, "-q", device)
                        : List.of(mkfs, "-q", "-F", device));
                fsType = fs;
            }
            Files.createDirectories(path);
            Exec.runOk("mount " + device + " " + path, List.of("mount", device, path.toString()));
            State s = new State(clusterName, volume, path.toString(), via.name().toLowerCase(Locale.ROOT), fsType, device,
                    index, fuseDir, pid, endpoint.describe());
            write(s);
            recordAttachment(cluster, volume, clients, path + (via == Via.FUSE ? " (fuse)" : " (" + device + ")"), out);
            return s;
        } catch (IOException | RuntimeException e) {
            for (int i = undo.size() - 1; i >= 0; i--) {
                undo.get(i).run();
            }
            throw e;
        }
    }

    /** Unmounts and detaches what {@link #mount} did for {@code volumeOrPath}. */
    public State unmount(String volumeOrPath) throws IOException {
        State s = find(volumeOrPath).orElseThrow(() -> new IOException(volumeOrPath
                + " is not a volume mounted with `hablock volume mount` on this host"));
        if (isMountPoint(Path.of(s.path()))) {
            Exec.runOk("umount " + s.path(), List.of("umount", s.path()));
        }
        if (s.via().equals("kernel")) {
            KernelNbd.system().detach(s.nbdIndex());
        } else {
            Exec.run(List.of("losetup", "-d", s.device()));
            Path dir = Path.of(s.fuseDir());
            stopNbdfuse(dir, ProcessHandle.of(s.nbdfusePid()).orElse(null));
            Files.deleteIfExists(dir);
            Files.deleteIfExists(dir.resolveSibling(s.volume() + ".fuse.log"));
        }
        Files.deleteIfExists(stateFile(s.volume()));
        return s;
    }

    /**
     * Whether a FUSE mount's nbdfuse still runs (a kernel one is taken to be alive): when it died
     * with its node (a power cycle of the node's namespace, say), the mount above it is dead.
     */
    public static boolean alive(State s) {
        return !s.via().equals("fuse") || ProcessHandle.of(s.nbdfusePid()).map(ProcessHandle::isAlive).orElse(false);
    }

    /**
     * Drops a mount that can no longer be used, or that another host has taken over: lazy unmount
     * (nothing can be flushed through it), detach, and forget it. Best effort, step by step.
     */
    public void forget(State s) throws IOException {
        Exec.run(List.of("umount", "-l", s.path()));
        if (s.via().equals("kernel")) {
            quietly(() -> KernelNbd.system().detach(s.nbdIndex()));
        } else {
            Exec.run(List.of("losetup", "-d", s.device()));
            Path dir = Path.of(s.fuseDir());
            Exec.run(List.of("fusermount3", "-u", "-z", dir.toString()));
            ProcessHandle.of(s.nbdfusePid()).ifPresent(ProcessHandle::destroyForcibly);
            Files.deleteIfExists(dir.resolveSibling(s.volume() + ".fuse.log"));
            quietly(() -> Files.deleteIfExists(dir));
        }
        Files.deleteIfExists(stateFile(s.volume()));
    }

    /** The mounts made on this host. */
    public List<State> list() throws IOException {
        List<State> out = new ArrayList<>();
        if (Files.isDirectory(stateDir())) {
            try (var files = Files.list(stateDir())) {
                for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
                    out.add(JSON.readValue(f.toFile(), State.class));
                }
            }
        }
        return out;
    }

    private Optional<State> find(String volumeOrPath) throws IOException {
        String asPath = volumeOrPath.startsWith("/") || volumeOrPath.startsWith(".")
                ? Path.of(volumeOrPath).toAbsolutePath().normalize().toString() : null;
        return list().stream().filter(s -> s.volume().equals(volumeOrPath) || s.path().equals(asPath)).findFirst();
    }

    private Optional<State> stateOf(String volume) throws IOException {
        Path f = stateFile(volume);
        return Files.exists(f) ? Optional.of(JSON.readValue(f.toFile(), State.class)) : Optional.empty();
    }

    private Path stateDir() {
        return runDir.resolve("mounts");
    }

    private Path stateFile(String volume) {
        return stateDir().resolve(volume + ".json");
    }

    private void write(State s) throws IOException {
        Path tmp = stateDir().resolve(s.volume() + ".json.tmp");
        JSON.writeValue(tmp.toFile(), s);
        Files.move(tmp, stateFile(s.volume()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** nbdfuse in a session of its own: it outlives this command and the shell that ran it. */
    private static Process startNbdfuse(Path dir, HostEndpoint endpoint, String volume) throws IOException {
        String host = endpoint.address().getHostString();
        String uri = "nbd://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + endpoint.address().getPort() + "/" + volume;
        return new ProcessBuilder("setsid", "nbdfuse", dir.resolve("disk").toString(), uri)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolveSibling(volume + ".fuse.log").toFile()))
                .redirectErrorStream(true)
                .start();
    }

    private static void awaitFuseDisk(Path disk, long size, Process nbdfuse) throws IOException {
        long deadline = System.nanoTime() + FUSE_READY.toNanos();
        while (System.nanoTime() < deadline) {
            if (!nbdfuse.isAlive()) {
                Path log = disk.getParent().resolveSibling(disk.getParent().getFileName() + ".log");
                String last = Files.exists(log) ? Files.readAllLines(log).stream().filter(l -> !l.isBlank())
                        .reduce((a, b) -> b).orElse("") : "";
                throw new IOException("nbdfuse exited (status " + nbdfuse.exitValue() + ")" + (last.isEmpty() ? "" : ": " + last));
            }
            try {
                if (Files.isRegularFile(disk) && Files.size(disk) == size) {
                    return;
                }
                Thread.sleep(50);
            } catch (IOException e) {
                // not mounted yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        throw new IOException("nbdfuse did not show the volume within " + FUSE_READY.toSeconds() + " s");
    }

    /** Unmounting the FUSE directory ends nbdfuse; waits for it, kills it if it lingers. */
    private static void stopNbdfuse(Path dir, ProcessHandle nbdfuse) throws IOException {
        if (isMountPoint(dir)) {
            Exec.Result r = Exec.run(List.of("fusermount3", "-u", dir.toString()));
            if (!r.ok()) {
                Exec.run(List.of("fusermount3", "-u", "-z", dir.toString()));
            }
        }
        if (nbdfuse != null) {
            try {
                nbdfuse.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                nbdfuse.destroyForcibly();
            }
        }
    }

    /** The file system type blkid finds on {@code device}, if any signature at all. */
    private static Optional<String> fileSystemOn(String device) throws IOException {
        Exec.Result r = Exec.run(List.of("blkid", "-p", "-o", "value", "-s", "TYPE", device));
        if (r.exit() == 2 || r.ok() && r.stdout().isBlank()) {
            // 2: nothing found; a partition table alone prints no TYPE
            return r.ok() ? Optional.of("partition table") : Optional.empty();
        }
        if (!r.ok()) {
            throw new IOException("blkid " + device + ": " + r.reason());
        }
        return Optional.of(r.stdout().strip());
    }

    private static boolean startsBlank(Path device) throws IOException {
        byte[] buf = new byte[BLANK_CHECK];
        int n;
        try (InputStream in = Files.newInputStream(device)) {
            n = in.readNBytes(buf, 0, buf.length);
        }
        for (int i = 0; i < n; i++) {
            if (buf[i] != 0) {
                return false;
            }
        }
        return true;
    }

    static boolean isMountPoint(Path path) throws IOException {
        String target = path.toAbsolutePath().normalize().toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 1 && f[1].replace("\\040", " ").equals(target)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Records in the cluster, in the sessions of the connections from {@code clients}, where the
     * volume went on this host; best effort (a note on {@code out} when it cannot).
     */
    public static void recordAttachment(ClusterClient cluster, String volume, Set<String> clients, String attachment,
            PrintStream out) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        for (String client : clients) {
            try {
                // The endpoint publishes the session asynchronously: it may not be there yet.
                while (!cluster.annotateSession(volume, client, attachment) && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
            } catch (ClusterException e) {
                out.println("note: cannot record the attachment in the cluster: " + e.getMessage());
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private interface Step {
        void run() throws Exception;
    }

    private static void quietly(Step step) {
        try {
            step.run();
        } catch (Exception e) {
            // undoing after a failure: the first error is the one reported
        }
    }
}
