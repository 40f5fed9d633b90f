/**
 * What a host does with a volume: find its local NBD endpoint, attach, make a file system and
 * mount it, and say so in the cluster (the session's attachment shown by {@code volume ls}).
 */
package io.hablock.cli.host;
