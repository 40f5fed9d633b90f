/**
 * NBD clients on one handshake ({@link io.hablock.nbd.client.NbdHandshake}): a small blocking
 * one ({@link io.hablock.nbd.client.NbdClient}: simple replies, one request at a time, for tools
 * and tests such as the {@code hablock demo}), and a pipelined one on a Netty event loop
 * ({@link io.hablock.nbd.client.NbdPipelinedClient}: structured replies and block status, many
 * requests in flight, for a data path that forwards requests to another server).
 */
package io.hablock.nbd.client;
