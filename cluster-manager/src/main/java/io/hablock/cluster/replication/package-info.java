/**
 * The replication channel between nodes: the owner of a volume sends every WRITE, TRIM,
 * WRITE_ZEROES and FLUSH to each in-sync copy ({@link io.hablock.cluster.replication.ReplicationClient})
 * and a node applies them to its local copies under generation fencing
 * ({@link io.hablock.cluster.replication.ReplicationServer}). The wire format is described in
 * {@link io.hablock.cluster.replication.WireFormat}.
 */
package io.hablock.cluster.replication;
