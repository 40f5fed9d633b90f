package io.hablock.blockstore;

import java.nio.file.Path;
import java.util.UUID;

/** Where things live under a data directory. */
record Layout(Path dataDir) {
    static final String DATA_FILE = "data.img";
    static final String METADATA_FILE = "volume.json";
    static final String CREATING_PREFIX = ".creating-";
    static final String DELETING_PREFIX = ".deleting-";

    Path lockFile() {
        return dataDir.resolve(".lock");
    }

    Path volumesDir() {
        return dataDir.resolve("volumes");
    }

    Path volumeDir(String name) {
        return volumesDir().resolve(name);
    }

    Path dataFile(String name) {
        return volumeDir(name).resolve(DATA_FILE);
    }

    Path metadataFile(String name) {
        return volumeDir(name).resolve(METADATA_FILE);
    }

    Path staging(UUID uuid) {
        return volumesDir().resolve(CREATING_PREFIX + uuid);
    }

    Path doomed(UUID uuid) {
        return volumesDir().resolve(DELETING_PREFIX + uuid);
    }
}
