package io.hablock.cli.docker;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.host.FsMount;
import io.hablock.cli.host.HostEndpoint;
import io.hablock.cluster.AllowList;
import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.MountFence;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.MountClaim;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nativeio.nbd.KernelNbd;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a node's Docker volume plugin does with hablock volumes: creates and removes them, and
 * mounts their file systems on this host for containers, through this node's NBD endpoint (which
 * follows the volume through a failover). A volume's file system is mounted on one host at a
 * time: the mount is claimed in the cluster with an ephemeral znode of this node's session, so a
 * second host is refused while the first node is live and allowed once it is gone. Containers on
 * this host share one mount; it is undone when the last of them unmounts.
 *
 * <p>Each volume's calls run one at a time; errors are one line, which Docker shows the user.
 */
public final class DockerVolumes {
    private static final Logger log = LoggerFactory.getLogger(DockerVolumes.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How long a create waits for every copy and the owner to serve. */
    private static final Duration CREATE_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration REMOVE_TIMEOUT = Duration.ofSeconds(60);
    /** How long a mount waits for an owner to serve the volume (Docker gives a Mount 2 minutes). */
    private static final Duration SERVED_TIMEOUT = Duration.ofSeconds(90);
    private static final Set<String> OPTIONS = Set.of("size", "copies", "min-copies", "allow", "locality");

    private final ClusterClient cluster;
    private final String clusterName;
    private final String nodeId;
    private final String nodeName;
    private final InetSocketAddress endpoint;
    private final Path runDir;
    private final Consumer<String> localityMover;
    private final boolean locality;
    private final MountFence fence;
    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    /**
     * @param endpoint this node's NBD address, as a client on this host reaches it
     * @param runDir where mounts are recorded ({@link FsMount}) and Docker's mount points made
     * @param localityMover asked to make this node the owner of a volume just mounted here
     * @param locality whether it is asked for volumes that leave it to the node (their own
     *     {@linkplain VolumeRecord#locality() setting} comes first)
     * @param fence where this host's mounts are registered, so that their I/O stays within their claims
     */
    public DockerVolumes(ClusterClient cluster, String clusterName, String nodeId, String nodeName,
            InetSocketAddress endpoint, Path runDir, Consumer<String> localityMover, boolean locality, MountFence fence) {
        this.fence = fence;
        this.cluster = cluster;
        this.clusterName = clusterName;
        this.nodeId = nodeId;
        this.nodeName = nodeName;
        this.endpoint = endpoint;
        this.runDir = runDir;
        this.localityMover = localityMover;
        this.locality = locality;
    }

    /** A volume and where it is mounted on this host ("" when it is not). */
    public record Volume(String name, String mountpoint, Map<String, String> status) {
    }

    /**
     * After a restart: claims again the mounts this node made before (its old session, and the
     * claims with it, ended) that still work, and drops those that cannot be used any more (their
     * nbdfuse died with the node) or that another host took over meanwhile (the failover case:
     * the container runs there now).
     */
    public void reclaim() {
        try {
            for (FsMount.State s : mounts().list()) {
                if (!s.cluster().equals(clusterName) || !Path.of(s.path()).startsWith(mountRoot())) {
                    continue;
                }
                ClusterClient.MountHold hold = FsMount.alive(s) ? cluster.claimMount(s.volume(), claim(s.path()), -1) : null;
                if (hold != null && hold.held()) {
                    fence.mounted(s.volume(), hold.session(), hold.serial());
                } else {
                    log.warn("docker: dropping the mount of volume {} at {} kept from before this node restarted: {}",
                            s.volume(), s.path(), hold == null ? "its nbdfuse is gone"
                                    : "it is mounted on " + hold.other().map(MountClaim::describe).orElse("another host") + " now");
                    mounts().forget(s);
                    Files.deleteIfExists(refsFile(s.volume()));
                }
            }
        } catch (IOException e) {
            log.warn("cannot claim again the Docker mounts of this host: {}", e.getMessage());
        }
    }

    /**
     * Claims again, in the plugin's current ZooKeeper session, every mount whose claim was lost
     * with an earlier session (this host was cut off from ZooKeeper for longer than the session
     * timeout): taken back if no other host claimed the volume meanwhile, and then its held I/O
     * goes on; fenced for good otherwise (see {@link MountFence}). Run on reconnection and now and
     * then.
     */
    public void reclaimLost() {
        for (String name : fence.volumes()) {
            try {
                synchronized (lock(name)) {
                    reclaimIfLost(name);
                }
            } catch (IOException e) {
                log.debug("docker: cannot claim the mount of {} again yet: {}", name, e.getMessage());
            }
        }
    }

    /** {@link #reclaimLost} for one volume, under its lock. */
    private void reclaimIfLost(String name) throws IOException {
        int serial = fence.stale(name);
        if (serial < 0) {
            return;
        }
        Optional<FsMount.State> here = mounts().list().stream().filter(s -> s.volume().equals(name)).findFirst();
        String path = here.map(FsMount.State::path).orElse(mountRoot().resolve(name).toString());
        ClusterClient.MountHold hold = cluster.claimMount(name, claim(path), serial);
        if (hold.held()) {
            fence.mounted(name, hold.session(), hold.serial());
            log.info("docker: claimed the mount of volume {} again after this host's ZooKeeper session was lost: no other "
                    + "host mounted it meanwhile; its I/O goes on", name);
        } else {
            fence.taken(name);
            log.warn("docker: the mount of volume {} at {} is fenced: this host's claim was lost with its ZooKeeper session "
                    + "and the volume was mounted {} since; its I/O fails until its containers stop", name, path,
                    hold.other().map(c -> "on " + c.describe()).orElse("elsewhere"));
        }
    }

    /**
     * Asks for the move of every volume this plugin has mounted here, owned elsewhere, whose
     * locality says it should follow its mount: run now and then, so that a volume whose owner
     * changed since it was mounted (a failover, a move) or whose setting was turned to auto
     * comes back here.
     */
    public void checkLocality() {
        try {
            for (FsMount.State s : mounts().list()) {
                if (!s.cluster().equals(clusterName) || !Path.of(s.path()).startsWith(mountRoot())) {
                    continue;
                }
                Optional<VolumeRecord> v = cluster.volume(s.volume()).map(r -> r.value());
                if (v.isPresent() && v.get().owner() != null && !nodeId.equals(v.get().owner())
                        && v.get().followsMounts(locality)) {
                    localityMover.accept(s.volume());
                }
            }
        } catch (IOException e) {
            log.debug("locality check: {}", e.getMessage());
        }
    }

    /** {@code docker volume create -d hablock --opt size=10G --opt copies=3 NAME}. */
    public void create(String name, Map<String, String> opts) throws ClusterException {
        for (String key : opts.keySet()) {
            if (!OPTIONS.contains(key)) {
                throw new ClusterException("unknown option '" + key + "' (hablock takes " + String.join(", ", new TreeSet<>(OPTIONS))
                        + ")");
            }
        }
        long size = ClusterAdmin.parseSize(opts.getOrDefault("size", "10G"));
        int copies = integer(opts, "copies", 1);
        int minCopies = integer(opts, "min-copies", VolumeRecord.defaultMinCopies(copies));
        AllowList allow = AllowList.parse(opts.getOrDefault("allow", "any"));
        String follows = opts.get("locality");
        ClusterAdmin.checkLocality(follows); // also when the volume exists already
        synchronized (lock(name)) {
            Optional<VolumeRecord> existing = cluster.volume(name).map(v -> v.value());
            if (existing.isPresent()) {
                if (opts.containsKey("size") && existing.get().sizeBytes() != size) {
                    throw new ClusterException("volume '" + name + "' exists with another size ("
                            + io.hablock.blockstore.Sizes.format(existing.get().sizeBytes()) + ")");
                }
                return; // a volume made by `hablock volume create`, or by this plugin on another node
            }
            new ClusterAdmin(cluster).createVolume(name, size, copies, minCopies, CREATE_TIMEOUT, allow, follows);
            log.info("docker: created volume {} ({} bytes, {} copies)", name, size, copies);
        }
    }

    /** {@code docker volume rm NAME}: refused while the volume is mounted on any host. */
    public void remove(String name) throws ClusterException, IOException {
        synchronized (lock(name)) {
            Optional<MountClaim> claim = cluster.mountClaim(name);
            if (claim.isPresent()) {
                throw new ClusterException("volume '" + name + "' is mounted on " + claim.get().describe());
            }
            if (cluster.volume(name).isEmpty()) {
                return; // removed already (`hablock volume rm`, or Docker asking again): nothing to do
            }
            new ClusterAdmin(cluster).removeVolume(name, REMOVE_TIMEOUT);
            Files.deleteIfExists(refsFile(name));
            log.info("docker: removed volume {}", name);
        }
    }

    /**
     * Mounts the volume's file system for container {@code id}, making it first when the volume
     * is blank: at once when another container of this host has it mounted already.
     */
    public String mount(String name, String id) throws ClusterException, IOException {
        synchronized (lock(name)) {
            VolumeRecord v = volume(name);
            Path path = mountRoot().resolve(name);
            Optional<FsMount.State> here = mounts().list().stream().filter(s -> s.volume().equals(name)).findFirst();
            if (here.isPresent() && here.get().path().equals(path.toString()) && !FsMount.alive(here.get())) {
                log.warn("docker: the mount of volume {} at {} is dead (its nbdfuse is gone): mounting it again", name, path);
                mounts().forget(here.get());
                Files.deleteIfExists(refsFile(name));
                here = Optional.empty();
            }
            if (here.isPresent() && !here.get().path().equals(path.toString())) {
                throw new IOException("volume '" + name + "' is mounted on this host at " + here.get().path()
                        + " by `hablock volume mount`: unmount it first");
            }
            Set<String> refs = refs(name);
            if (here.isPresent() && !fence.isRegistered(name) && !fence.isFenced(name)) {
                // Kept from before a restart whose claim could not be made again then: now or never.
                ClusterClient.MountHold hold = cluster.claimMount(name, claim(path.toString()), -1);
                if (!hold.held()) {
                    throw new ClusterException("volume '" + name + "' is mounted on "
                            + hold.other().map(MountClaim::describe).orElse("another host") + "; its mount on this host at "
                            + path + " is left from before this node restarted: unmount it (umount " + path + ")");
                }
                fence.mounted(name, hold.session(), hold.serial());
            }
            if (here.isPresent()) {
                reclaimIfLost(name);
                if (fence.isFenced(name)) {
                    if (!refs.isEmpty()) {
                        throw new ClusterException("volume '" + name + "' was mounted on another host after this host lost its "
                                + "claim (ZooKeeper unreachable): its mount here is fenced; stop the containers that use it ("
                                + String.join(", ", refs) + ") first");
                    }
                    mounts().unmount(name); // nobody uses it: made again below, if this host may
                    fence.unmounted(name);
                    here = Optional.empty();
                }
            }
            if (here.isEmpty()) {
                ClusterClient.MountHold hold = cluster.claimMount(name, claim(path.toString()), -1);
                if (!hold.held()) {
                    throw new ClusterException("volume '" + name + "' is mounted on "
                            + hold.other().map(MountClaim::describe).orElse("another host")
                            + ": unmount it there first (it is released by itself if that node goes down)");
                }
                fence.mounted(name, hold.session(), hold.serial()); // before the mount's connection opens
                try {
                    awaitServed(name); // a failover under way (the host that had it mounted died)
                    mountHere(v, path);
                } catch (IOException | RuntimeException e) {
                    fence.unmounted(name);
                    cluster.releaseMount(name, nodeId);
                    throw e;
                }
            }
            refs.add(id);
            writeRefs(name, refs);
            if (!nodeId.equals(v.owner()) && v.followsMounts(locality)) {
                localityMover.accept(name);
            }
            return path.toString();
        }
    }

    /** Waits until an owner serves the volume: a new one is named within seconds of a failure. */
    private void awaitServed(String name) throws ClusterException, IOException {
        long deadline = System.nanoTime() + SERVED_TIMEOUT.toNanos();
        while (!volume(name).isServed()) {
            if (System.nanoTime() > deadline) {
                throw new ClusterException("volume '" + name + "' has no owner serving it after " + SERVED_TIMEOUT.toSeconds()
                        + " s (see `hablock volume info " + name + "`)");
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
    }

    private void mountHere(VolumeRecord v, Path path) throws IOException, ClusterException {
        KernelNbd kernel = null;
        FsMount.Via via = FsMount.Via.FUSE;
        String fs = "ext4"; // made on a blank volume; a volume with a file system is mounted as it is
        try {
            kernel = FsMount.preflight(FsMount.Via.KERNEL, fs);
            via = FsMount.Via.KERNEL;
        } catch (IOException e) {
            FsMount.preflight(FsMount.Via.FUSE, fs); // no nbd module here: nbdfuse and a loop device
        }
        ByteArrayOutputStream said = new ByteArrayOutputStream();
        FsMount.State s = new FsMount(runDir, new PrintStream(said, true, StandardCharsets.UTF_8)).mount(cluster, clusterName,
                v.name(), path, fs, via, kernel, HostEndpoint.at(cluster, endpoint), OptionalInt.empty(), Duration.ofSeconds(30));
        log.info("docker: mounted volume {} at {} ({} on {}{}) {}", v.name(), s.path(), s.fsType(), s.device(),
                via == FsMount.Via.FUSE ? " over nbdfuse" : "", said.toString(StandardCharsets.UTF_8).strip());
    }

    /** Container {@code id} is done with the volume; the last one's unmount undoes the mount. */
    public void unmount(String name, String id) throws ClusterException, IOException {
        synchronized (lock(name)) {
            Set<String> refs = refs(name);
            refs.remove(id);
            if (!refs.isEmpty()) {
                writeRefs(name, refs);
                return;
            }
            if (mounts().list().stream().anyMatch(s -> s.volume().equals(name))) {
                FsMount.State s = mounts().unmount(name);
                log.info("docker: unmounted volume {} from {}", name, s.path());
            }
            Files.deleteIfExists(refsFile(name));
            boolean fenced = fence.isFenced(name);
            fence.unmounted(name);
            if (!fenced) { // a fenced mount's claim is another host's now
                cluster.releaseMount(name, nodeId);
            }
        }
    }

    /** Where the volume is mounted on this host, or "". */
    public String path(String name) throws IOException {
        return mounts().list().stream().filter(s -> s.volume().equals(name)).map(FsMount.State::path).findFirst().orElse("");
    }

    /** The volume, with what {@code docker volume inspect} shows under Status. */
    public Volume get(String name) throws ClusterException, IOException {
        VolumeRecord v = volume(name);
        Map<String, String> status = new LinkedHashMap<>();
        status.put("vdisk", v.vdisk());
        status.put("size", io.hablock.blockstore.Sizes.format(v.sizeBytes()));
        status.put("copies", Integer.toString(v.replicas().size()));
        status.put("health", v.health());
        Map<String, Member> members = cluster.members();
        status.put("owner", v.owner() == null ? "-" : nameOf(members, v.owner()));
        Optional<MountClaim> claim = cluster.mountClaim(name);
        status.put("mounted", claim.map(c -> nameOf(members, c.node()) + ":" + c.path()).orElse("-"));
        status.put("local", claim.map(c -> c.node().equals(v.owner()) ? "yes" : "no").orElse("-"));
        status.put("locality", v.locality() == null ? "node (" + (locality ? "auto" : "off") + " here)" : v.locality());
        status.put("io", fence.describe(name)); // this host's mount: open, held or fenced
        return new Volume(name, path(name), status);
    }

    /** Every volume of the cluster. */
    public List<Volume> list() throws ClusterException, IOException {
        Map<String, String> mounted = new LinkedHashMap<>();
        for (FsMount.State s : mounts().list()) {
            mounted.put(s.volume(), s.path());
        }
        return cluster.volumes().stream().map(v -> new Volume(v.value().name(), mounted.getOrDefault(v.value().name(), ""),
                Map.of())).toList();
    }

    private VolumeRecord volume(String name) throws ClusterException {
        return cluster.volume(name).orElseThrow(() -> new ClusterException("no volume named '" + name + "'")).value();
    }

    private MountClaim claim(String path) {
        return new MountClaim(nodeId, nodeName, path, System.currentTimeMillis());
    }

    private FsMount mounts() {
        return new FsMount(runDir, new PrintStream(PrintStream.nullOutputStream()));
    }

    private Path mountRoot() {
        return runDir.resolve("docker");
    }

    private Object lock(String name) {
        return locks.computeIfAbsent(name, n -> new Object());
    }

    // Which containers use a mount, kept beside it so that a restarted node still knows.

    private Path refsFile(String name) {
        return runDir.resolve("docker-refs").resolve(name + ".json");
    }

    private Set<String> refs(String name) throws IOException {
        Path f = refsFile(name);
        if (!Files.exists(f)) {
            return new TreeSet<>();
        }
        return new TreeSet<>(List.of(JSON.readValue(f.toFile(), String[].class)));
    }

    private void writeRefs(String name, Set<String> refs) throws IOException {
        Path f = refsFile(name);
        Files.createDirectories(f.getParent());
        Path tmp = f.resolveSibling(name + ".json.tmp");
        JSON.writeValue(tmp.toFile(), refs.toArray(String[]::new));
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static int integer(Map<String, String> opts, String key, int otherwise) throws ClusterException {
        String value = opts.get(key);
        if (value == null) {
            return otherwise;
        }
        try {
            return Integer.parseInt(value.strip());
        } catch (NumberFormatException e) {
            throw new ClusterException(key + " must be a number, not '" + value + "'");
        }
    }

    private static String nameOf(Map<String, Member> members, String id) {
        Member m = members.get(id);
        return m == null ? id : m.name();
    }
}
