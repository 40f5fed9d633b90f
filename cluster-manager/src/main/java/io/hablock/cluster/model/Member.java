package io.hablock.cluster.model;

/**
 * The persistent record of a node that ever joined: it outlives the node's session.
 *
 * @param id node id
 * @param name node name
 * @param host last known address
 * @param status member status
 * @param capacityBytes last known capacity (placement counts provisioned sizes against it)
 */
public record Member(String id, String name, String host, NodeStatus status, long capacityBytes) {
    public Member withStatus(NodeStatus next) {
        return new Member(id, name, host, status.checkTransition(next), capacityBytes);
    }
}
