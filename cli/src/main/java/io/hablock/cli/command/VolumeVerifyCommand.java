package io.hablock.cli.command;

import io.hablock.blockstore.Sizes;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.replication.ReplicationClient;
import io.hablock.cluster.security.ClusterTls;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume verify NAME}: are the in-sync copies identical? */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Compare every in-sync copy of a volume chunk by chunk (XXHash64 checksums computed on each node; "
                + "holes count as zeros) and name the byte ranges that differ. Exit 0 when all agree, 1 otherwise. "
                + "Chunks that differ are checked again, so writes in flight do not count as differences."})
public final class VolumeVerifyCommand implements Callable<Integer> {
    private static final int ATTEMPTS = 3;

    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Option(names = "--chunk", paramLabel = "SIZE", defaultValue = "1M", description = "Checksum granularity (default ${DEFAULT-VALUE}).")
    String chunk;

    @Override
    public Integer call() throws Exception {
        long chunkSize = Sizes.parse(chunk);
        if (chunkSize < (64 << 10) || chunkSize > (64 << 20)) {
            throw new IllegalArgumentException("--chunk must be between 64K and 64M (copies hash no smaller chunks but for the owner)");
        }
        try (ClusterClient cluster = options.connect(); ReplicationClient replication = new ReplicationClient(Duration.ofMinutes(10),
                ClusterTls.forAdmin(options.secret(), "hablock volume verify"))) {
            VolumeRecord r = cluster.volume(name).orElseThrow(() -> new ClusterException("no volume named '" + name + "'")).value();
            Map<String, Member> members = cluster.members();
            Map<String, NodeInfo> live = cluster.liveNodes();
            Map<String, InetSocketAddress> copies = new LinkedHashMap<>();
            List<String> skipped = new ArrayList<>();
            for (Map.Entry<String, ReplicaState> e : r.replicas().entrySet()) {
                String node = nameOf(e.getKey(), members);
                if (e.getValue() != ReplicaState.IN_SYNC) {
                    skipped.add(node + " (" + e.getValue().label() + ")");
                } else if (!live.containsKey(e.getKey())) {
                    throw new ClusterException("the in-sync copy on node " + node + " cannot be checked: the node is not live");
                } else {
                    NodeInfo n = live.get(e.getKey());
                    copies.put(node, new InetSocketAddress(n.host(), n.replicationPort()));
                }
            }
            System.out.println("volume " + r.name() + " (" + r.vdisk() + "): comparing " + copies.size() + " in-sync cop"
                    + (copies.size() == 1 ? "y" : "ies") + " (" + String.join(", ", copies.keySet()) + ") in "
                    + Sizes.format(chunkSize) + " chunks" + (skipped.isEmpty() ? "" : "; not compared: " + String.join(", ", skipped)));
            List<long[]> diffs = List.of();
            for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                Map<String, long[]> sums = new LinkedHashMap<>();
                for (Map.Entry<String, InetSocketAddress> c : copies.entrySet()) {
                    try {
                        sums.put(c.getKey(), replication.checksums(c.getValue(), r.uuid(), chunkSize).get());
                    } catch (ExecutionException e) {
                        throw new ClusterException("cannot read checksums of the copy on " + c.getKey() + ": "
                                + e.getCause().getMessage(), e.getCause());
                    }
                }
                diffs = differences(sums, chunkSize, r.sizeBytes());
                if (diffs.isEmpty()) {
                    break;
                }
            }
            if (diffs.isEmpty()) {
                System.out.println("ok: all compared copies are identical (" + Sizes.format(r.sizeBytes()) + ")");
                return 0;
            }
            for (long[] d : diffs) {
                System.out.println("differs: bytes " + d[0] + "-" + (d[1] - 1) + " (" + Sizes.format(d[1] - d[0]) + ")");
            }
            System.out.println("MISMATCH: " + diffs.size() + " range(s) differ between the copies");
            return 1;
        }
    }

    /** Byte ranges [start, end) where the copies' checksums do not all agree, adjacent chunks merged. */
    static List<long[]> differences(Map<String, long[]> sums, long chunkSize, long size) {
        List<long[]> out = new ArrayList<>();
        List<long[]> all = new ArrayList<>(sums.values());
        if (all.isEmpty()) {
            return out;
        }
        int chunks = all.stream().mapToInt(a -> a.length).max().orElse(0);
        for (int i = 0; i < chunks; i++) {
            boolean same = true;
            for (long[] a : all) {
                same &= a.length == all.get(0).length && i < a.length && a[i] == all.get(0)[i];
            }
            if (!same) {
                long start = i * chunkSize;
                long end = Math.min(size, start + chunkSize);
                if (!out.isEmpty() && out.get(out.size() - 1)[1] == start) {
                    out.get(out.size() - 1)[1] = end;
                } else {
                    out.add(new long[] {start, end});
                }
            }
        }
        return out;
    }

    private static String nameOf(String id, Map<String, Member> members) {
        Member m = members.get(id);
        return m == null ? id : m.name();
    }
}
