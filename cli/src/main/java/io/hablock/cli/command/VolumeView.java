package io.hablock.cli.command;

import io.hablock.blockstore.Sizes;
import io.hablock.cluster.model.ClientSession;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.MountClaim;
import io.hablock.cluster.model.RebuildProgress;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A volume as {@code volume ls/info --json} print it: the catalogue record with node names.
 *
 * @param health {@code healthy}, {@code degraded} (fewer copies in sync than asked, at least
 *     {@code minCopies}), {@code read-only} (fewer than {@code minCopies}: writes refused), or the state
 * @param minCopies fewest in-sync copies with which writes are acknowledged
 * @param copyNodes node name to copy state ({@code in-sync}, {@code stale}, ...), the owner first
 * @param clients every NBD connection to the volume, forwarding nodes' included
 * @param allow who may attach it (address blocks), empty for anyone
 * @param attached where applications have it: {@code NODE:DEVICE-OR-MOUNT-POINT} when the client
 *     said, else {@code NODE:CLIENT-ADDRESS}, NODE being the node whose endpoint they use
 * @param mounted {@code NODE:MOUNT-POINT} where a Docker plugin has its file system mounted, else null
 * @param local whether the data is local to the applications: true when every application (and
 *     the Docker mount) is on the owner's node, false when one is elsewhere (its I/O is forwarded
 *     to the owner), null when none has the volume
 * @param locality {@code auto}, {@code off}, or {@code node}: whether a Docker mount elsewhere
 *     moves the volume there ({@code volume locality})
 */
record VolumeView(String name, String vdisk, String uuid, String type, long sizeBytes, String size, String state,
        String health, String owner, String ownerId, long epoch, int minCopies, Map<String, String> copyNodes,
        List<String> clients, List<String> attached, String created, Integer rebuildPercent, boolean served,
        List<String> allow, String mounted, Boolean local, String locality) {

    static VolumeView of(VolumeRecord r, Map<String, Member> members, List<ClientSession> sessions) {
        return of(r, members, sessions, null, null);
    }

    static VolumeView of(VolumeRecord r, Map<String, Member> members, List<ClientSession> sessions, RebuildProgress rebuild,
            MountClaim claim) {
        Map<String, String> hosts = new LinkedHashMap<>();
        members.values().forEach(m -> hosts.put(m.id(), m.host()));
        List<ClientSession> applications = ClientSession.applications(sessions, hosts);
        Set<String> users = new HashSet<>();
        applications.forEach(s -> users.add(s.node()));
        if (claim != null) {
            users.add(claim.node());
        }
        Boolean local = users.isEmpty() ? null : users.size() == 1 && users.contains(r.owner());
        List<String> attached = applications.stream()
                .map(s -> nameOf(s.node(), members) + ":" + (s.attachment() != null ? s.attachment() : s.client()))
                .distinct().sorted().toList(); // a mount through nbdfuse has several connections
        List<String> clients = sessions.stream().map(s -> s.client() + " on " + nameOf(s.node(), members)
                + (s.attachment() == null ? "" : " (" + s.attachment() + ")")).sorted().toList();
        Map<String, String> copies = new LinkedHashMap<>();
        r.replicas().forEach((id, s) -> copies.put(nameOf(id, members),
                s == ReplicaState.REBUILDING && rebuild != null && rebuild.target().equals(id)
                        ? s.label() + ":" + rebuild.percent() + "%" : s.label()));
        return new VolumeView(r.name(), r.vdisk(), r.uuid().toString(), r.type(), r.sizeBytes(), Sizes.format(r.sizeBytes()),
                r.state().label(), r.health(), r.owner() == null ? "-" : nameOf(r.owner(), members), r.owner(), r.epoch(),
                r.minCopies(), copies, clients, attached, Instant.ofEpochMilli(r.created()).toString(), rebuild == null ? null : rebuild.percent(),
                r.isServed(), r.allow(), claim == null ? null : nameOf(claim.node(), members) + ":" + claim.path(), local,
                r.locality() == null ? "node" : r.locality());
    }

    private static String nameOf(String id, Map<String, Member> members) {
        Member m = id == null ? null : members.get(id);
        return m == null ? id : m.name();
    }

    /** {@code v2:/dev/nbd0,v3:10.0.0.9:43822}, or {@code -}. */
    String attachedColumn() {
        return attached.isEmpty() ? "-" : String.join(",", attached);
    }

    /** {@code yes}, {@code no} or {@code -}: see {@link #local}. */
    String localColumn() {
        return local == null ? "-" : local ? "yes" : "no";
    }

    /** {@code v1,v2,v3(stale)}: the nodes of the copies, with the state of those not in sync. */
    String copiesColumn() {
        StringBuilder out = new StringBuilder();
        copyNodes.forEach((node, state) -> {
            if (out.length() > 0) {
                out.append(',');
            }
            out.append(node);
            if (!state.equals("in-sync")) {
                out.append('(').append(state).append(')');
            }
        });
        return out.length() == 0 ? "-" : out.toString();
    }
}
