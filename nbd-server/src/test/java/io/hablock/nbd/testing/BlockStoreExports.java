package io.hablock.nbd.testing;

import io.hablock.blockstore.BlockStore;
import io.hablock.blockstore.NoSuchVolumeException;
import io.hablock.blockstore.Sizes;
import io.hablock.blockstore.VolumeMetadata;
import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.ExportProvider;
import io.hablock.nbd.ExportUnavailableException;
import java.io.IOException;
import java.util.List;

/** Every volume of a local block store is an export of the same name. */
final class BlockStoreExports implements ExportProvider {
    private final BlockStore store;
    private final boolean readOnly;

    BlockStoreExports(BlockStore store, boolean readOnly) {
        this.store = store;
        this.readOnly = readOnly;
    }

    @Override
    public List<ExportInfo> list() {
        return store.list().stream().map(m -> new ExportInfo(m.name(), description(m))).toList();
    }

    @Override
    public BlockDevice open(String name) throws ExportUnavailableException {
        try {
            return new LocalBlockDevice(store.open(name), readOnly);
        } catch (NoSuchVolumeException e) {
            throw new ExportUnavailableException("no volume named '" + name + "' on this node");
        } catch (IOException e) {
            throw new ExportUnavailableException("volume '" + name + "' cannot be opened: " + e.getMessage(), e);
        }
    }

    @Override
    public String describe(String name) {
        return store.find(name).map(BlockStoreExports::description).orElse("");
    }

    private static String description(VolumeMetadata m) {
        return "hablock volume " + m.name() + " (" + Sizes.format(m.sizeBytes()) + ", uuid " + m.uuid() + ")";
    }
}
