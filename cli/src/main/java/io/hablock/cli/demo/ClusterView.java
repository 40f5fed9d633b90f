package io.hablock.cli.demo;

import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import io.hablock.nbd.client.NbdClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/** The cluster as the demo reads it: volume records, node names instead of ids, owners' NBD addresses. */
final class ClusterView {
    private final ClusterClient cluster;

    ClusterView(ClusterClient cluster) {
        this.cluster = cluster;
    }

    /** A connection to the volume's current owner. */
    NbdClient connectToOwner(String volume) throws IOException {
        return NbdClient.connect(ownerAddress(volume), volume, Duration.ofSeconds(10));
    }

    InetSocketAddress ownerAddress(String volume) throws IOException {
        VolumeRecord r = record(volume);
        NodeInfo owner = cluster.liveNodes().get(r.owner());
        if (owner == null) {
            throw new IOException("the owner " + name(r.owner()) + " of " + volume + " is not live");
        }
        return new InetSocketAddress(owner.host(), owner.nbdPort());
    }

    VolumeRecord record(String volume) throws ClusterException {
        return cluster.volume(volume).map(Versioned::value)
                .orElseThrow(() -> new ClusterException("volume " + volume + " disappeared"));
    }

    /** Every volume not being deleted, by name. */
    Map<String, VolumeRecord> records() throws ClusterException {
        Map<String, VolumeRecord> out = new LinkedHashMap<>();
        for (Versioned<VolumeRecord> v : cluster.volumes()) {
            if (v.value().state() != VolumeState.DELETING) {
                out.put(v.value().name(), v.value());
            }
        }
        return out;
    }

    /** {@code v4 in-sync, v3 stale, v1 in-sync}. */
    String copies(VolumeRecord r) {
        return r.replicas().entrySet().stream().map(e -> name(e.getKey()) + " " + e.getValue().label())
                .collect(Collectors.joining(", "));
    }

    /** {@code v1,v2}. */
    String names(Collection<String> ids) {
        return ids.stream().map(this::name).collect(Collectors.joining(","));
    }

    /** The node's name ({@code v3}), or its id if it cannot be read. */
    String name(String id) {
        try {
            return cluster.member(id).map(m -> m.value().name()).orElse(id);
        } catch (ClusterException e) {
            return id;
        }
    }
}
