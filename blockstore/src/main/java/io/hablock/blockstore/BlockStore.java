package io.hablock.blockstore;

import io.hablock.nativeio.PosixFs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.UUID;

/**
 * A node's local volumes: one sparse {@code data.img} and one {@code volume.json} per volume under
 * {@code <dataDir>/volumes/<name>/}.
 *
 * <p>Crash safety: a volume is built in a staging directory and renamed into place; it is deleted
 * by renaming it aside first; metadata is written by temp file and rename; every rename is followed
 * by an fsync of the directory. {@link #open(Path)} removes what an interrupted operation left, so
 * after a crash each volume is in its old or its new state.
 *
 * <p>One process per data directory (enforced by a lock file). Thread-safe; catalogue operations
 * are serialised, volume I/O is not.
 */
public final class BlockStore implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(BlockStore.class);

    private final Layout layout;
    private final PosixFs fs;
    private final Step.Listener steps;
    private final SpaceReserve reserve;
    private final FileChannel lockChannel;
    private final Object lock = new Object();
    private final SortedMap<String, VolumeMetadata> volumes; // guarded by lock
    private final Map<String, VolumeFile> openFiles = new HashMap<>(); // guarded by lock
    private final Map<String, VolumeEpoch> epochs = new HashMap<>(); // guarded by lock
    private boolean closed; // guarded by lock

    private BlockStore(
            Layout layout,
            PosixFs fs,
            Step.Listener steps,
            SpaceReserve reserve,
            FileChannel lockChannel,
            SortedMap<String, MetadataCodec.Stored> stored) {
        this.layout = layout;
        this.fs = fs;
        this.steps = steps;
        this.reserve = reserve;
        this.lockChannel = lockChannel;
        this.volumes = new TreeMap<>();
        stored.forEach(
                (name, s) -> {
                    volumes.put(name, s.metadata());
                    epochs.put(name, newEpoch(s.metadata(), s.generation()));
                });
    }

    private VolumeEpoch newEpoch(VolumeMetadata m, Generation generation) {
        return new VolumeEpoch(m, layout.metadataFile(m.name()), generation);
    }

    /**
     * Opens (creating if missing) the store in {@code dataDir}, with native I/O from libc and the
     * default {@link SpaceReserve} (5 % of the file system, at most 1 GiB).
     */
    public static BlockStore open(Path dataDir) throws IOException {
        return open(dataDir, PosixFs.system());
    }

    /**
     * Opens (creating if missing) the store in {@code dataDir}, keeping {@code reserveBytes} free
     * on its file system (negative: the default).
     */
    public static BlockStore open(Path dataDir, long reserveBytes) throws IOException {
        return open(dataDir, PosixFs.system(), Step.Listener.NONE, reserveBytes);
    }

    /**
     * Opens (creating if missing) the store in {@code dataDir}, with native I/O from {@code fs}.
     */
    public static BlockStore open(Path dataDir, PosixFs fs) throws IOException {
        return open(dataDir, fs, Step.Listener.NONE);
    }

    static BlockStore open(Path dataDir, PosixFs fs, Step.Listener steps) throws IOException {
        return open(dataDir, fs, steps, -1);
    }

    private static BlockStore open(Path dataDir, PosixFs fs, Step.Listener steps, long reserveBytes)
            throws IOException {
        Layout layout = new Layout(dataDir.toAbsolutePath());
        Files.createDirectories(layout.volumesDir());
        SpaceReserve reserve = SpaceReserve.on(layout.volumesDir(), reserveBytes);
        FileChannel lockChannel = lockDataDir(layout);
        try {
            SortedMap<String, MetadataCodec.Stored> volumes = VolumeScanner.scan(layout);
            LOG.info("opened block store {} with {} volume(s), keeping {} free on its file system",
                    layout.dataDir(), volumes.size(), Sizes.format(reserve.reserveBytes()));
            return new BlockStore(layout, fs, steps, reserve, lockChannel, volumes);
        } catch (IOException | RuntimeException e) {
            lockChannel.close();
            throw e;
        }
    }

    /** Two stores on one directory would undo each other's staging: refuse the second. */
    private static FileChannel lockDataDir(Layout layout) throws IOException {
        FileChannel ch =
                FileChannel.open(
                        layout.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock fileLock;
        try {
            fileLock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            fileLock = null; // held by another BlockStore of this JVM
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (fileLock == null) {
            ch.close();
            throw new BlockStoreException(
                    "data directory " + layout.dataDir() + " is in use by another block store");
        }
        return ch;
    }

    /**
     * Creates a sparse volume of {@code sizeBytes}.
     *
     * @throws InvalidVolumeException bad name, or size not positive, not a multiple of 512, or
     *     above 2^62
     * @throws VolumeExistsException a volume (or an unreadable volume directory) of that name
     *     exists
     */
    public VolumeMetadata create(String name, long sizeBytes) throws IOException {
        return create(name, sizeBytes, UUID.randomUUID());
    }

    /**
     * Creates a sparse volume of {@code sizeBytes} with the given identity: every copy of a
     * cluster volume carries the cluster volume's uuid. Its generation starts at {@link Generation#ZERO}.
     *
     * @throws InvalidVolumeException bad name, or size not positive, not a multiple of 512, or
     *     above 2^62
     * @throws VolumeExistsException a volume (or an unreadable volume directory) of that name
     *     exists, or another volume of this store has that uuid
     */
    public VolumeMetadata create(String name, long sizeBytes, UUID uuid) throws IOException {
        VolumeNames.checkName(name);
        VolumeNames.checkSize(name, sizeBytes);
        Objects.requireNonNull(uuid, "uuid");
        synchronized (lock) {
            ensureOpen();
            Path target = layout.volumeDir(name);
            if (volumes.containsKey(name) || Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new VolumeExistsException(name);
            }
            Optional<VolumeMetadata> twin = findByUuidLocked(uuid);
            if (twin.isPresent()) {
                throw new VolumeExistsException(name, uuid, twin.get().name());
            }
            // A delete of an earlier copy with this uuid may have left its directory behind; the
            // staging and delete paths are named by uuid, so clear it first.
            DurableFiles.deleteRecursively(layout.doomed(uuid));
            VolumeMetadata m =
                    new VolumeMetadata(
                            name,
                            uuid,
                            sizeBytes,
                            Instant.now().truncatedTo(ChronoUnit.MILLIS),
                            VolumeMetadata.CURRENT_FORMAT);
            build(m, target);
            volumes.put(name, m);
            epochs.put(name, newEpoch(m, Generation.ZERO));
            LOG.info("created volume '{}' of {} ({})", name, Sizes.format(sizeBytes), m.uuid());
            return m;
        }
    }

    /** Stages the volume completely, then renames it into place; undoes itself on failure. */
    private void build(VolumeMetadata m, Path target) throws IOException {
        Path staging = layout.staging(m.uuid());
        boolean renamed = false;
        try {
            Files.createDirectory(staging);
            steps.reached(Step.CREATE_STAGING_DIR_MADE);
            try (RandomAccessFile data =
                    new RandomAccessFile(staging.resolve(Layout.DATA_FILE).toFile(), "rw")) {
                data.setLength(m.sizeBytes()); // sparse: ftruncate allocates nothing
                data.getFD().sync();
            }
            steps.reached(Step.CREATE_DATA_FILE_MADE);
            DurableFiles.writeAtomically(
                    staging.resolve(Layout.METADATA_FILE), MetadataCodec.toJson(m), steps);
            steps.reached(Step.CREATE_METADATA_WRITTEN);
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            renamed = true;
            steps.reached(Step.CREATE_RENAMED);
            DurableFiles.fsyncDirectory(layout.volumesDir());
            steps.reached(Step.CREATE_DONE);
        } catch (IOException | RuntimeException e) {
            discardQuietly(renamed ? target : staging, m.uuid(), e);
            throw e;
        }
    }

    private void discardQuietly(Path dir, UUID uuid, Exception cause) {
        try {
            Path doomed = layout.doomed(uuid);
            if (!dir.equals(layout.staging(uuid))) {
                Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
                dir = doomed;
            }
            DurableFiles.deleteRecursively(dir);
        } catch (IOException e) {
            cause.addSuppressed(e); // the next open() removes what is left
        }
    }

    /** All readable volumes, sorted by name. */
    public List<VolumeMetadata> list() {
        synchronized (lock) {
            ensureOpenUnchecked();
            return List.copyOf(volumes.values());
        }
    }

    public Optional<VolumeMetadata> find(String name) {
        synchronized (lock) {
            ensureOpenUnchecked();
            return Optional.ofNullable(volumes.get(name));
        }
    }

    /** The volume with that uuid (volumes of one store have distinct uuids). */
    public Optional<VolumeMetadata> findByUuid(UUID uuid) {
        synchronized (lock) {
            ensureOpenUnchecked();
            return findByUuidLocked(uuid);
        }
    }

    private Optional<VolumeMetadata> findByUuidLocked(UUID uuid) {
        for (VolumeMetadata m : volumes.values()) {
            if (m.uuid().equals(uuid)) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }

    /**
     * Opens a handle on the volume. All handles of a volume share one open file, which closes when
     * the last handle does.
     *
     * @throws NoSuchVolumeException no such volume
     */
    public LocalVolume open(String name) throws IOException {
        synchronized (lock) {
            ensureOpen();
            VolumeMetadata m = volumes.get(name);
            if (m == null) {
                throw new NoSuchVolumeException(name);
            }
            VolumeFile file = openFiles.get(name);
            if (file == null) {
                file = VolumeFile.open(m, layout.dataFile(name), fs, reserve);
                openFiles.put(name, file);
            }
            file.retain();
            return new LocalVolume(file, epochs.get(name), this);
        }
    }

    /** Called once per handle by {@link LocalVolume#close()}. */
    void release(VolumeFile file) {
        synchronized (lock) {
            String name = file.metadata().name();
            if (file.release() && openFiles.remove(name, file)) {
                closeQuietly(file);
            }
        }
    }

    private static void closeQuietly(VolumeFile file) {
        IOException e = file.close();
        if (e != null) {
            LOG.warn("closing volume '{}' failed: {}", file.metadata().name(), e.getMessage());
        }
    }

    /**
     * Deletes the volume and its data.
     *
     * @throws NoSuchVolumeException no such volume
     * @throws VolumeInUseException a handle on it is open
     */
    public void delete(String name) throws IOException {
        synchronized (lock) {
            ensureOpen();
            VolumeMetadata m = volumes.get(name);
            if (m == null) {
                throw new NoSuchVolumeException(name);
            }
            if (openFiles.containsKey(name)) {
                throw new VolumeInUseException(name);
            }
            Path doomed = layout.doomed(m.uuid());
            // Renamed aside first, so a crash never leaves a half-deleted volume under its name.
            Files.move(layout.volumeDir(name), doomed, StandardCopyOption.ATOMIC_MOVE);
            volumes.remove(name);
            // A late raise through a just-closed handle must never write this metadata again.
            epochs.remove(name).retire();
            steps.reached(Step.DELETE_RENAMED);
            DurableFiles.fsyncDirectory(layout.volumesDir());
            steps.reached(Step.DELETE_SYNCED);
            try {
                DurableFiles.deleteRecursively(doomed);
            } catch (IOException e) {
                LOG.warn(
                        "volume '{}' deleted, but removing {} failed ({}); it is removed at next"
                            + " open",
                        name,
                        doomed,
                        e.getMessage());
            }
            steps.reached(Step.DELETE_DONE);
            LOG.info("deleted volume '{}' ({})", name, m.uuid());
        }
    }

    /**
     * Bytes holding data in all volumes, from their extent maps (holes, and on some file systems
     * zeroed ranges, do not count). Computed on each call.
     *
     * @throws UncheckedIOException when a data file cannot be examined
     */
    public long usedBytes() {
        synchronized (lock) {
            ensureOpenUnchecked();
            long sum = 0;
            try {
                for (VolumeMetadata m : volumes.values()) {
                    VolumeFile open = openFiles.get(m.name());
                    sum += open != null ? open.dataBytes() : dataBytesOfClosed(m);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return sum;
        }
    }

    private long dataBytesOfClosed(VolumeMetadata m) throws IOException {
        int fd = fs.open(layout.dataFile(m.name()), false);
        try {
            return ExtentMapper.dataBytes(fs, fd, m.sizeBytes());
        } finally {
            fs.close(fd);
        }
    }

    /** The free space kept on the data directory's file system. */
    public SpaceReserve reserve() {
        return reserve;
    }

    /** The data directory, as an absolute path. */
    public Path dataDir() {
        return layout.dataDir();
    }

    /**
     * Closes the store and releases the data directory. Volumes still open are closed too (their
     * handles then fail with ClosedChannelException); a warning names them.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            epochs.values().forEach(VolumeEpoch::retire);
            if (!openFiles.isEmpty()) {
                LOG.warn(
                        "closing block store {} with open volumes {}",
                        layout.dataDir(),
                        openFiles.keySet());
                openFiles.values().forEach(BlockStore::closeQuietly);
                openFiles.clear();
            }
            try {
                lockChannel.close(); // releases the lock
            } catch (IOException e) {
                LOG.warn("releasing lock of {} failed: {}", layout.dataDir(), e.getMessage());
            }
        }
    }

    private void ensureOpen() throws BlockStoreException {
        if (closed) {
            throw new BlockStoreException("block store " + layout.dataDir() + " is closed");
        }
    }

    private void ensureOpenUnchecked() {
        if (closed) {
            throw new IllegalStateException("block store " + layout.dataDir() + " is closed");
        }
    }
}
