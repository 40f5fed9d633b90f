/**
 * The cluster: ZooKeeper (through Curator) as the only source of truth about live nodes,
 * volume placement, ownership and epochs; the elected controller; the replication channel
 * between nodes; and the replicated {@link io.hablock.nbd.BlockDevice} an owner serves.
 */
package io.hablock.cluster;
