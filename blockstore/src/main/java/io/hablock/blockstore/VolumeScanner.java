package io.hablock.blockstore;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Recovers the store's state at open: finishes what a crash interrupted (removes staging,
 * half-deleted and temp entries) and reads each volume's metadata. A volume whose metadata is
 * unreadable is skipped with one warning; it never stops the store from opening.
 */
final class VolumeScanner {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeScanner.class);

    private VolumeScanner() {}

    static SortedMap<String, MetadataCodec.Stored> scan(Layout layout) throws IOException {
        Path volumesDir = layout.volumesDir();
        boolean cleaned = false;
        SortedMap<String, MetadataCodec.Stored> volumes = new TreeMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(volumesDir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (isLeftover(name)) {
                    // A create that never reached its rename, a delete that never finished, a temp
                    // file.
                    LOG.info("removing leftover {} from an interrupted operation", entry);
                    DurableFiles.deleteRecursively(entry);
                    cleaned = true;
                } else if (Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)
                        && VolumeNames.isValid(name)) {
                    cleanTempFiles(entry);
                    MetadataCodec.Stored m = load(entry, name);
                    if (m != null) {
                        volumes.put(name, m);
                    }
                } else {
                    LOG.warn("ignoring unexpected entry {} in the volumes directory", entry);
                }
            }
        }
        if (cleaned) {
            DurableFiles.fsyncDirectory(volumesDir);
        }
        return volumes;
    }

    private static boolean isLeftover(String name) {
        return name.startsWith(Layout.CREATING_PREFIX)
                || name.startsWith(Layout.DELETING_PREFIX)
                || name.endsWith(DurableFiles.TMP_SUFFIX);
    }

    private static void cleanTempFiles(Path volumeDir) throws IOException {
        boolean cleaned = false;
        try (DirectoryStream<Path> tmps =
                Files.newDirectoryStream(volumeDir, "*" + DurableFiles.TMP_SUFFIX)) {
            for (Path tmp : tmps) {
                LOG.info("removing leftover {} from an interrupted metadata write", tmp);
                Files.deleteIfExists(tmp);
                cleaned = true;
            }
        }
        if (cleaned) {
            DurableFiles.fsyncDirectory(volumeDir);
        }
    }

    /** The volume's metadata and epoch, or null (logged) when it cannot be used. */
    private static MetadataCodec.Stored load(Path volumeDir, String dirName) {
        Path metadataFile = volumeDir.resolve(Layout.METADATA_FILE);
        try {
            MetadataCodec.Stored stored = MetadataCodec.decode(Files.readAllBytes(metadataFile));
            VolumeMetadata m = stored.metadata();
            if (!m.name().equals(dirName)) {
                throw new IOException("it names volume '" + m.name() + "'");
            }
            Path data = volumeDir.resolve(Layout.DATA_FILE);
            long length = Files.size(data);
            if (length != m.sizeBytes()) {
                throw new IOException(
                        data.getFileName() + " is " + length + " bytes, expected " + m.sizeBytes());
            }
            return stored;
        } catch (IOException e) {
            LOG.warn("skipping volume '{}': cannot use {}: {}", dirName, metadataFile, describe(e));
            return null;
        }
    }

    private static String describe(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "missing " + ((NoSuchFileException) e).getFile();
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied on " + ((AccessDeniedException) e).getFile();
        }
        return String.valueOf(e.getMessage()).replaceAll("\\s*\\R\\s*", " ");
    }
}
