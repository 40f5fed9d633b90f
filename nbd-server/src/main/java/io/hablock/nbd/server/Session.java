package io.hablock.nbd.server;

/**
 * What a connection negotiated during option haggling and carries into transmission.
 *
 * @param exportName the export the client chose
 * @param structuredReplies NBD_OPT_STRUCTURED_REPLY was acknowledged
 * @param baseAllocationContext the id of the selected {@code base:allocation} context, 0 if none
 * @param tls the connection goes through TLS: replies must be bytes the TLS layer can encrypt
 *     (no sendfile regions)
 */
record Session(String exportName, boolean structuredReplies, int baseAllocationContext, boolean tls) {
}
