/**
 * A small blocking NBD client: fixed newstyle handshake, {@code NBD_OPT_GO}, simple replies,
 * one request at a time. For tools and tests that need to read and write a volume from Java
 * (the {@code hablock demo}), not for a data path that needs throughput.
 */
package io.hablock.nbd.client;
