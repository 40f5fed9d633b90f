package io.hablock.cli.command;

import io.hablock.blockstore.Sizes;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.RebuildProgress;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A volume as {@code volume ls/info --json} print it: the catalogue record with node names.
 *
 * @param copyNodes node name to copy state ({@code in-sync}, {@code stale}, ...), the owner first
 */
record VolumeView(String name, String vdisk, String uuid, String type, long sizeBytes, String size, String state,
        String health, String owner, String ownerId, long epoch, Map<String, String> copyNodes, List<String> clients,
        String created, Integer rebuildPercent, boolean served) {

    static VolumeView of(VolumeRecord r, Map<String, Member> members, List<String> clients) {
        return of(r, members, clients, null);
    }

    static VolumeView of(VolumeRecord r, Map<String, Member> members, List<String> clients, RebuildProgress rebuild) {
        Map<String, String> copies = new LinkedHashMap<>();
        r.replicas().forEach((id, s) -> copies.put(nameOf(id, members),
                s == ReplicaState.REBUILDING && rebuild != null && rebuild.target().equals(id)
                        ? s.label() + ":" + rebuild.percent() + "%" : s.label()));
        return new VolumeView(r.name(), r.vdisk(), r.uuid().toString(), r.type(), r.sizeBytes(), Sizes.format(r.sizeBytes()),
                r.state().label(), r.health(), r.owner() == null ? "-" : nameOf(r.owner(), members), r.owner(), r.epoch(),
                copies, clients, Instant.ofEpochMilli(r.created()).toString(), rebuild == null ? null : rebuild.percent(),
                r.isServed());
    }

    private static String nameOf(String id, Map<String, Member> members) {
        Member m = members.get(id);
        return m == null ? id : m.name();
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
