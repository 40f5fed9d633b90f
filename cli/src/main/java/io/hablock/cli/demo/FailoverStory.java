package io.hablock.cli.demo;

import io.hablock.blockstore.Sizes;
import io.hablock.cluster.ClusterAdmin;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.Member;
import io.hablock.cluster.model.NodeInfo;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.RebuildProgress;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The walkthrough of issue 4 on a running local cluster: two volumes written through NBD, the
 * owner of {@code wp_mysql-data} killed, failover, writes through the new owner, rebuild, the
 * node back, events, every byte read back. Facts are checked, not assumed; what did not happen
 * is said and counted in {@link Checks}.
 */
public final class FailoverStory {
    static final String PORTAINER = "portainer";
    static final String DATABASE = "wp_mysql-data";
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Pattern REBUILT = Pattern.compile(
            "volume (\\S+) \\((vd\\d+)\\) volume rebuild completed on node (\\S+), .*?([0-9.]+ [KM]iB) sent in ([0-9.]+) s \\(([0-9.]+) MB/s\\)");

    private final ClusterClient cluster;
    private final ClusterView view;
    private final LocalNodes nodes;
    private final Narrator say;
    private final Tables tables;
    private final Checks checks;
    private final Duration sessionTimeout;
    private final Map<String, CheckedBlocks> data = new LinkedHashMap<>();

    /** What the summary reports. */
    /**
     * @param appHost the node whose host endpoint the application wrote through during the failover
     * @param appPause the longest time one of its requests waited
     * @param appError the I/O error it got, or null
     */
    public record Outcome(Duration failover, String failedNode, String newOwner, List<String> rebuilds,
            long bytesVerified, int badBlocks, String appHost, Duration appPause, String appError) {
    }

    public FailoverStory(ClusterClient cluster, String zk, LocalNodes nodes, Narrator narrator, Checks checks,
            Duration sessionTimeout, long bytesPerVolume, long seed) {
        this.cluster = cluster;
        this.view = new ClusterView(cluster);
        this.nodes = nodes;
        this.say = narrator;
        this.tables = new Tables(zk, narrator);
        this.checks = checks;
        this.sessionTimeout = sessionTimeout;
        data.put(PORTAINER, new CheckedBlocks(PORTAINER, bytesPerVolume, seed));
        data.put(DATABASE, new CheckedBlocks(DATABASE, bytesPerVolume, seed + 1));
    }

    public Outcome run() throws DemoFailure, ClusterException, IOException, InterruptedException {
        say.step("Create the volumes (sparse: no space is taken until written)");
        ClusterAdmin admin = new ClusterAdmin(cluster);
        for (String[] v : new String[][] {{PORTAINER, "20G", "2"}, {DATABASE, "10G", "3"}}) {
            VolumeRecord r = admin.createVolume(v[0], Sizes.parse(v[1]), Integer.parseInt(v[2]), Duration.ofSeconds(60));
            say.say(r.name() + " (" + r.vdisk() + "): " + r.type() + " " + v[1] + ", owner " + view.name(r.owner())
                    + ", copies on " + view.names(r.replicas().keySet()));
        }

        say.step("Write through NBD: " + Sizes.format(data.get(DATABASE).bytes())
                + " of checksummed 64 KiB blocks to each volume, at its owner");
        for (CheckedBlocks blocks : data.values()) {
            writeAtOwner(blocks, 0, blocks.blocks(), 1);
        }
        tables.nodes();
        tables.volumes();

        VolumeRecord before = view.record(DATABASE);
        String victim = view.name(before.owner());
        CheckedBlocks db = data.get(DATABASE);
        NodeInfo host = hostEndpoint(before.owner());
        InetSocketAddress hostAddress = new InetSocketAddress(host.host(), host.nbdPort());
        say.step("An application on " + host.name() + " opens " + DATABASE + " at its host's endpoint nbd://"
                + host.host() + ":" + host.nbdPort() + "/" + DATABASE);
        try (NbdClient app = NbdClient.connect(hostAddress, DATABASE, Duration.ofSeconds(10))) {
            CheckedBlocks.Verification first = db.verify(app, 0, 16);
            if (!first.ok()) {
                throw new DemoFailure("a read through " + host.name() + "'s endpoint returned wrong data: " + first.problems().get(0));
            }
            say.say(host.name() + " does not own " + DATABASE + " (" + victim + " does): it forwards every request to the "
                    + "owner; the first 1 MiB read through it matches");

            say.step("Kill the owner of " + DATABASE + ", node " + victim + ", with SIGKILL (no goodbye to anyone), while the "
                    + "application keeps writing");
            Map<String, VolumeRecord> beforeAll = view.records();
            AppWriter writer = new AppWriter(app, db);
            Thread writing = new Thread(writer, "demo-app-writer");
            writing.start();
            long pid = nodes.kill(victim);
            long killedAt = System.nanoTime();
            say.say("killed " + victim + " (pid " + pid + "); its ZooKeeper session expires after " + seconds(sessionTimeout));
            Duration failover;
            try {
                failover = awaitFailover(before, killedAt);
            } finally {
                writer.stop();
                writing.join();
            }
            VolumeRecord moved = view.record(DATABASE);
            say.print("");
            tables.nodes();
            tables.volumes();

            say.step("The application on " + host.name() + " during the failover");
            if (writer.failure != null) {
                say.say("the application got an I/O error: " + writer.failure.getMessage());
                checks.fail("host endpoint", "a write through " + host.name() + " failed during the failover: " + writer.failure.getMessage());
            } else {
                say.say("wrote and flushed " + Sizes.format(writer.bytes) + " (generation 2) through "
                        + host.name() + " without an error; its longest wait was " + seconds(writer.longestNanos)
                        + " (the failover), now served by " + view.name(moved.owner()));
                checks.pass("host endpoint", "no I/O error through " + host.name() + ", longest pause " + seconds(writer.longestNanos));
            }
            Outcome o = afterFailover(victim, before, beforeAll, killedAt, failover, moved);
            return new Outcome(o.failover(), o.failedNode(), o.newOwner(), o.rebuilds(), o.bytesVerified(), o.badBlocks(),
                    host.name(), Duration.ofNanos(writer.longestNanos), writer.failure == null ? null : writer.failure.getMessage());
        }
    }

    /** A node that is live and does not own the volume: the host the application runs on. */
    private NodeInfo hostEndpoint(String ownerId) throws ClusterException, DemoFailure {
        return cluster.liveNodes().values().stream().filter(n -> !n.id().equals(ownerId))
                .min(java.util.Comparator.comparing(NodeInfo::name))
                .orElseThrow(() -> new DemoFailure("no node other than the owner is live"));
    }

    /**
     * Writes generation 2 (1 MiB in every 4, after the first) through one connection, over and
     * over, timing each request, until told to stop; then finishes a whole pass and flushes.
     */
    private static final class AppWriter implements Runnable {
        private final NbdClient client;
        private final CheckedBlocks blocks;
        private volatile boolean stop;
        volatile IOException failure;
        volatile long longestNanos;
        volatile long bytes;

        AppWriter(NbdClient client, CheckedBlocks blocks) {
            this.client = client;
            this.blocks = blocks;
        }

        void stop() {
            stop = true;
        }

        @Override
        public void run() {
            try {
                boolean last = false;
                while (!last) {
                    last = stop;
                    for (int b = 64; b < blocks.blocks(); b += 64) {
                        int first = b;
                        timed(() -> blocks.write(client, first, 16, 2));
                        bytes += 16L * CheckedBlocks.BLOCK;
                        Thread.sleep(20); // an application's pace, not a benchmark's
                    }
                }
                timed(client::flush);
            } catch (IOException e) {
                failure = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private interface Io {
            void run() throws IOException;
        }

        private void timed(Io io) throws IOException {
            long start = System.nanoTime();
            io.run();
            longestNanos = Math.max(longestNanos, System.nanoTime() - start);
        }
    }

    private Outcome afterFailover(String victim, VolumeRecord before, Map<String, VolumeRecord> beforeAll, long killedAt, Duration failover,
            VolumeRecord moved) throws DemoFailure, ClusterException, IOException, InterruptedException {
        say.step("Rebuild: copies lost with " + victim + " are made again from the survivors");
        List<String> degraded = beforeAll.values().stream().filter(r -> r.replicas().containsKey(before.owner()))
                .map(VolumeRecord::name).toList();
        say.say("volumes that had a copy on " + victim + ": " + String.join(", ", degraded));
        awaitHealthy("rebuild", "every volume has all its copies in sync again without " + victim, killedAt,
                Duration.ofSeconds(60));
        rebuildRates().forEach(r -> say.say("rebuild completed: " + r));
        tables.volumes();

        say.step("Restart " + victim + " with its data directory, as `cluster up` started it");
        long restartedAt = System.nanoTime();
        long restartedMillis = System.currentTimeMillis();
        say.say("started " + victim + " again (pid " + nodes.restart(victim) + ")");
        awaitNormal(victim, before.owner(), restartedAt);
        tables.nodes();
        awaitCopiesSettled(before.owner(), degraded, restartedMillis, Duration.ofSeconds(45));
        tables.volumes();

        say.step("What happened, as the cluster's event log tells it");
        tables.events(60);

        say.step("Read back every byte through the current owners and check it");
        long verified = 0;
        int bad = 0;
        for (CheckedBlocks blocks : data.values()) {
            try (NbdClient client = view.connectToOwner(blocks.volume())) {
                long start = System.nanoTime();
                CheckedBlocks.Verification v = blocks.verifyAll(client);
                verified += v.bytes();
                bad += v.bad();
                say.say(blocks.volume() + ": " + v.blocks() + " blocks (" + Sizes.format(v.bytes()) + ") read through "
                        + view.name(view.record(blocks.volume()).owner()) + " in " + seconds(System.nanoTime() - start) + ": "
                        + (v.ok() ? "all as acknowledged" : v.bad() + " WRONG"));
                v.problems().forEach(p -> say.say("  " + p));
                if (v.ok()) {
                    checks.pass("read-back " + blocks.volume(), v.blocks() + " blocks as acknowledged");
                } else {
                    checks.fail("read-back " + blocks.volume(), v.bad() + " of " + v.blocks() + " blocks differ from what was acknowledged");
                }
            }
        }
        for (String volume : data.keySet()) {
            if (tables.verify(volume)) {
                checks.pass("volume verify " + volume, "copies identical");
            } else {
                checks.fail("volume verify " + volume, "the copies differ or could not be compared");
            }
        }
        return new Outcome(failover, victim, view.name(moved.owner()), rebuildRates(), verified, bad, null, null, null);
    }

    private void writeAtOwner(CheckedBlocks blocks, int first, int count, int generation) throws IOException, ClusterException, DemoFailure {
        InetSocketAddress owner = view.ownerAddress(blocks.volume());
        try (NbdClient client = NbdClient.connect(owner, blocks.volume(), Duration.ofSeconds(10))) {
            long start = System.nanoTime();
            blocks.write(client, first, count, generation);
            client.flush();
            long nanos = System.nanoTime() - start;
            say.say(blocks.volume() + ": " + Sizes.format((long) count * CheckedBlocks.BLOCK) + " written and flushed through nbd://"
                    + owner.getHostString() + ":" + owner.getPort() + "/" + blocks.volume() + " in " + seconds(nanos) + String.format(Locale.ROOT,
                    " (%.0f MB/s, every write on all copies before it is acknowledged)",
                    (double) count * CheckedBlocks.BLOCK / nanos * 1e3));
        }
    }

    /**
     * Until the volume has another owner that serves it at the current epoch and a read through
     * it returns the acknowledged data; the time from the kill to that read is the failover time.
     */
    private Duration awaitFailover(VolumeRecord before, long killedAt) throws DemoFailure, ClusterException, InterruptedException {
        long deadline = killedAt + sessionTimeout.plusSeconds(30).toNanos();
        boolean maintenance = false;
        long announcedEpoch = before.epoch();
        String lastRefusal = null;
        CheckedBlocks db = data.get(DATABASE);
        while (System.nanoTime() < deadline) {
            if (!maintenance && cluster.member(before.owner()).map(m -> m.value().status() == NodeStatus.MAINTENANCE).orElse(false)) {
                maintenance = true;
                say.say(view.name(before.owner()) + " is in maintenance (its session expired) " + since(killedAt) + " after the kill");
            }
            VolumeRecord r = view.record(DATABASE);
            if (r.epoch() > announcedEpoch && !before.owner().equals(r.owner())) {
                announcedEpoch = r.epoch();
                say.say("the controller gave " + DATABASE + " to " + view.name(r.owner()) + " at epoch " + r.epoch()
                        + " (" + since(killedAt) + "); copies " + view.copies(r));
            }
            if (r.isServed() && !before.owner().equals(r.owner())) {
                try (NbdClient client = view.connectToOwner(DATABASE)) {
                    CheckedBlocks.Verification v = db.verify(client, 0, 16);
                    Duration took = Duration.ofNanos(System.nanoTime() - killedAt);
                    if (!v.ok()) {
                        throw new DemoFailure("the first read through the new owner " + view.name(r.owner()) + " returned wrong data: "
                                + v.problems().get(0));
                    }
                    say.say(view.name(r.owner()) + " serves " + DATABASE + ": the first 1 MiB read through it matches ("
                            + seconds(took) + " after the kill = the failover time)");
                    checks.pass("failover", DATABASE + " served by " + view.name(r.owner()) + " after " + seconds(took));
                    if (!maintenance) {
                        checks.fail("maintenance", view.name(before.owner()) + " was not shown in maintenance by the time " + DATABASE + " moved");
                    }
                    return took;
                } catch (IOException e) {
                    if (!e.getMessage().equals(lastRefusal)) {
                        lastRefusal = e.getMessage();
                        say.say("not yet: " + lastRefusal);
                    }
                }
            }
            Thread.sleep(POLL.toMillis());
        }
        VolumeRecord r = view.record(DATABASE);
        throw new DemoFailure(DATABASE + " was not served by another node within " + since(killedAt) + " of the kill: owner "
                + view.name(r.owner()) + ", epoch " + r.epoch() + ", served epoch " + r.servedEpoch() + ", state " + r.state().name().toLowerCase(Locale.ROOT)
                + ", copies " + view.copies(r) + (lastRefusal == null ? "" : "; last NBD attempt: " + lastRefusal));
    }

    /**
     * Until every volume is served with all its copies in sync, nothing rebuilding and no stale
     * copy left; reports progress and failure.
     */
    private void awaitHealthy(String what, String expectation, long killedAt, Duration limit)
            throws ClusterException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        Map<String, String> lastProgress = new LinkedHashMap<>();
        while (true) {
            List<String> notYet = new ArrayList<>();
            for (VolumeRecord r : view.records().values()) {
                boolean settled = r.isServed() && r.inSync().size() >= r.copies()
                        && r.replicas().values().stream().allMatch(s -> s == ReplicaState.IN_SYNC);
                if (!settled) {
                    notYet.add(r.name() + " (" + r.health() + ", copies " + view.copies(r) + ")");
                }
                Optional<RebuildProgress> p = cluster.rebuild(r.name());
                if (p.isPresent()) {
                    String line = r.name() + " rebuilding on " + view.name(p.get().target()) + ": " + p.get().percent() + "% of "
                            + p.get().chunks() + " differing chunks, " + Sizes.format(p.get().bytesSent()) + " sent";
                    if (!line.equals(lastProgress.put(r.name(), line))) {
                        say.say(line);
                    }
                }
            }
            if (notYet.isEmpty()) {
                say.say("every copy in sync again " + since(killedAt) + " after the kill: " + view.records().values().stream()
                        .map(r -> r.name() + " " + r.health() + " on " + view.names(r.replicas().keySet())).collect(Collectors.joining(", ")));
                checks.pass(what, expectation);
                return;
            }
            if (System.nanoTime() > deadline) {
                String seen = "after " + seconds(limit) + ": " + String.join("; ", notYet);
                say.say("NOT DONE: " + expectation + " did not happen " + seen);
                checks.fail(what, seen);
                return;
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    private void awaitNormal(String name, String id, long since) throws ClusterException, InterruptedException {
        long deadline = since + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<Versioned<Member>> m = cluster.member(id);
            if (m.isPresent() && m.get().value().status() == NodeStatus.NORMAL && cluster.liveNodes().containsKey(id)) {
                say.say(name + " is back: status normal, " + since(since) + " after the restart");
                checks.pass("rejoin", name + " normal again");
                return;
            }
            Thread.sleep(POLL.toMillis());
        }
        String status = cluster.member(id).map(m -> m.value().status().name().toLowerCase(Locale.ROOT)).orElse("unknown");
        say.say("NOT DONE: " + name + " did not become normal within 60 s of its restart (status " + status
                + (cluster.liveNodes().containsKey(id) ? ", live" : ", not live") + ")");
        checks.fail("rejoin", name + " status " + status + " 60 s after the restart");
    }

    /**
     * Until each volume that had a copy on the returning node either lists that copy in sync
     * again (resynced) or the node reported it removed (rebuilt elsewhere meanwhile), and every
     * volume is healthy.
     */
    private void awaitCopiesSettled(String nodeId, List<String> volumes, long sinceMillis, Duration limit)
            throws ClusterException, InterruptedException {
        long start = System.nanoTime();
        Map<String, String> outcome = new LinkedHashMap<>();
        while (true) {
            for (String volume : volumes) {
                if (outcome.containsKey(volume)) {
                    continue;
                }
                VolumeRecord r = view.record(volume);
                if (r.replicas().get(nodeId) == ReplicaState.IN_SYNC) {
                    outcome.put(volume, "resynced, in sync again");
                } else if (!r.replicas().containsKey(nodeId) && cluster.events(200).stream().anyMatch(e -> e.time() >= sinceMillis
                        && e.message().startsWith("volume " + volume + " (") && e.message().contains(" removed on node " + nodeId))) {
                    outcome.put(volume, "removed (" + r.inSync().size() + " in-sync copies elsewhere: " + view.names(r.inSync()) + ")");
                }
                if (outcome.containsKey(volume)) {
                    say.say(volume + ": the copy on " + view.name(nodeId) + " was " + outcome.get(volume));
                }
            }
            boolean healthy = view.records().values().stream().allMatch(r -> r.isServed() && r.health().equals("healthy")
                    && r.replicas().values().stream().allMatch(st -> st == ReplicaState.IN_SYNC));
            if (outcome.size() == volumes.size() && healthy) {
                checks.pass("copies on the returning node", String.join("; ", outcome.values()));
                return;
            }
            if (System.nanoTime() - start > limit.toNanos()) {
                List<String> open = new ArrayList<>();
                for (String volume : volumes) {
                    if (!outcome.containsKey(volume)) {
                        open.add(volume + " (copies " + view.copies(view.record(volume)) + ")");
                    }
                }
                String seen = "after " + seconds(limit) + ": " + (open.isEmpty() ? "" : "neither resynced nor removed: "
                        + String.join(", ", open) + "; ") + (healthy ? "all volumes healthy" : "not all volumes healthy");
                say.say("NOT DONE: the copies on " + view.name(nodeId) + " were not settled " + seen);
                checks.fail("copies on the returning node", seen);
                return;
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    /** The "volume rebuild completed" events: what was sent, in how long, at what rate. */
    private List<String> rebuildRates() throws ClusterException {
        List<String> out = new ArrayList<>();
        for (Event e : cluster.events(ClusterClient.EVENT_HISTORY)) {
            Matcher m = REBUILT.matcher(e.message());
            if (m.find()) {
                out.add(m.group(1) + " on " + view.name(m.group(3)) + ": " + m.group(4) + " in " + m.group(5) + " s ("
                        + m.group(6) + " MB/s)");
            }
        }
        return out;
    }

    private static String since(long startNanos) {
        return seconds(System.nanoTime() - startNanos);
    }

    static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
    }

    static String seconds(Duration d) {
        return seconds(d.toNanos());
    }
}
