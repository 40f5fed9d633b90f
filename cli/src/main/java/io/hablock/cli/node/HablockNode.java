package io.hablock.cli.node;

import io.hablock.blockstore.BlockStore;
import io.hablock.cli.admin.AdminServer;
import io.hablock.nbd.local.BlockStoreExports;
import io.hablock.nbd.server.NbdServer;
import io.hablock.nbd.server.NbdServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running hablock node: the block store, the NBD server over it and the admin endpoint.
 * {@link #close()} stops taking work, finishes and flushes what is in flight, then releases
 * the store.
 */
public final class HablockNode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HablockNode.class);

    /**
     * @param dataDir where the volumes live
     * @param nbd the NBD listener's settings
     * @param admin address of the admin endpoint
     * @param readOnly serve every export read-only
     */
    public record Config(Path dataDir, NbdServerConfig nbd, InetSocketAddress admin, boolean readOnly) {
    }

    private final BlockStore store;
    private final NbdServer nbd;
    private final AdminServer admin;

    private HablockNode(BlockStore store, NbdServer nbd, AdminServer admin) {
        this.store = store;
        this.nbd = nbd;
        this.admin = admin;
    }

    public static HablockNode start(Config config) throws IOException {
        BlockStore store = BlockStore.open(config.dataDir());
        NbdServer nbd = null;
        try {
            nbd = new NbdServer(config.nbd(), new BlockStoreExports(store, config.readOnly())).start();
            AdminServer admin = AdminServer.start(store, config.admin());
            log.info("hablock node serving {} volume(s) from {}", store.list().size(), config.dataDir());
            return new HablockNode(store, nbd, admin);
        } catch (IOException | RuntimeException e) {
            if (nbd != null) {
                nbd.close();
            }
            store.close();
            throw e;
        }
    }

    public InetSocketAddress nbdAddress() {
        return nbd.localAddress();
    }

    public InetSocketAddress adminAddress() {
        return admin.localAddress();
    }

    public BlockStore store() {
        return store;
    }

    @Override
    public void close() {
        admin.close();
        nbd.close();
        store.close();
    }
}
