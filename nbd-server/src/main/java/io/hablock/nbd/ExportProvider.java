package io.hablock.nbd;

import java.util.List;

/**
 * The exports a server offers. The single-node server lists the volumes of its block store;
 * a cluster node lists the volumes it owns and explains where the others are.
 */
public interface ExportProvider {

    /** An export as NBD_OPT_LIST shows it. */
    record ExportInfo(String name, String description) {
    }

    /** Exports a client may connect to, in a stable order. */
    List<ExportInfo> list();

    /** The exports {@code client} may connect to (a provider may hide the others), in a stable order. */
    default List<ExportInfo> list(java.net.SocketAddress client) {
        return list();
    }

    /**
     * Whether {@code client} may see and open the export: the server answers INFO, GO and
     * EXPORT_NAME for another as for an export that does not exist.
     */
    default boolean mayOpen(String name, java.net.SocketAddress client) {
        return true;
    }

    /**
     * Opens a handle on an export; each connection gets its own handle and closes it.
     *
     * @throws ExportUnavailableException when there is no such export here; its message is
     *     sent to the client (for example, the address of the node that owns the volume)
     */
    BlockDevice open(String name) throws ExportUnavailableException;

    /**
     * Like {@link #open(String)}, for a client starting a session on the export; a provider may
     * publish who is connected.
     *
     * @param client the client's address, or null when the handle only answers a query
     */
    default BlockDevice open(String name, java.net.SocketAddress client) throws ExportUnavailableException {
        return open(name);
    }

    /** A human description of an export for NBD_INFO_DESCRIPTION, or empty. */
    default String describe(String name) {
        return "";
    }
}
