package io.hablock.blockstore;

import static io.hablock.blockstore.StoreFixture.MIB;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.nativeio.PosixFs;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** Volumes created with a given uuid (copies of a cluster volume) and found by it. */
class ClusterIdentityTest {
    @TempDir Path dataDir;
    private BlockStore store;

    @BeforeEach
    void open() throws IOException {
        store = BlockStore.open(dataDir, PosixFs.system());
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void createWithUuidKeepsItAcrossReopen() throws IOException {
        UUID uuid = UUID.randomUUID();
        VolumeMetadata m = store.create("copy", MIB, uuid);
        assertThat(m.uuid()).isEqualTo(uuid);
        store.close();
        store = BlockStore.open(dataDir, PosixFs.system());
        assertThat(store.find("copy").orElseThrow().uuid()).isEqualTo(uuid);
        assertThat(store.findByUuid(uuid)).contains(store.find("copy").orElseThrow());
    }

    @Test
    void findByUuid() throws IOException {
        VolumeMetadata a = store.create("a", MIB);
        VolumeMetadata b = store.create("b", MIB, UUID.randomUUID());
        assertThat(store.findByUuid(a.uuid())).contains(a);
        assertThat(store.findByUuid(b.uuid())).contains(b);
        assertThat(store.findByUuid(UUID.randomUUID())).isEmpty();
        store.delete("a");
        assertThat(store.findByUuid(a.uuid())).isEmpty();
    }

    @Test
    void uuidIsUniqueInAStore() throws IOException {
        UUID uuid = UUID.randomUUID();
        store.create("a", MIB, uuid);
        assertThatThrownBy(() -> store.create("b", MIB, uuid))
                .isInstanceOf(VolumeExistsException.class)
                .hasMessage("cannot create volume 'b': volume 'a' already has uuid " + uuid);
        assertThat(dataDir.resolve("volumes/b")).doesNotExist();
    }

    @Test
    void uuidCanBeReusedAfterDeleteEvenWithALeftover() throws IOException {
        UUID uuid = UUID.randomUUID();
        store.create("a", MIB, uuid);
        store.delete("a");
        // what a delete that crashed before removing its renamed directory leaves
        Files.createDirectories(dataDir.resolve("volumes/.deleting-" + uuid));
        store.create("b", MIB, uuid);
        store.delete("b");
        assertThat(store.list()).isEmpty();
    }

    @Test
    void nullUuidIsRejected() {
        assertThatThrownBy(() -> store.create("a", MIB, null))
                .isInstanceOf(NullPointerException.class);
    }
}
