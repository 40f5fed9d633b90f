package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.hablock.blockstore.LocalVolume;
import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.NodeStatus;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import io.hablock.cluster.replication.ReplicaRefusedException;
import io.hablock.cluster.replication.ReplicationClient;
import io.hablock.nbd.server.NbdServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes in this JVM on one real ZooKeeper: election, placement, synchronous replication
 * through a real NBD client (nbdsh), a copy that goes away, fencing, controller failover.
 */
class ClusterNodeTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;
    private TestingServer zk;
    private final List<ClusterNode> nodes = new ArrayList<>();

    @BeforeEach
    void startCluster() throws Exception {
        zk = new TestingServer(true);
        for (int i = 1; i <= 3; i++) {
            nodes.add(startNode("n" + i));
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> nodes.stream().filter(ClusterNode::isController).count() == 1);
    }

    private ClusterNode startNode(String name) throws IOException {
        InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
        return ClusterNode.start(new ClusterNode.Config(dir.resolve(name), name, "127.0.0.1", NbdServerConfig.defaults(any),
                any, null, zk.getConnectString(), null, "test", Duration.ofSeconds(2), 64L << 30, Duration.ofSeconds(2), false, 0).withSecretFile(io.hablock.cluster.security.TestSecrets.file()));
    }

    @AfterEach
    void stopCluster() throws Exception {
        nodes.forEach(ClusterNode::close);
        zk.close();
    }

    private ClusterClient client() {
        return nodes.get(0).cluster();
    }

    private ClusterNode node(String id) {
        return nodes.stream().filter(n -> n.nodeId().equals(id)).findFirst().orElseThrow();
    }

    private static void nbdsh(ClusterNode owner, String volume, String python) throws Exception {
        String uri = "nbd://127.0.0.1:" + owner.nbdAddress().getPort() + "/" + volume;
        Process p = tool("nbdsh", "-u", uri, "-c", python).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("nbdsh: %s", out).isZero();
    }

    /** Debian's tools, not whatever python a PATH shim picks. */
    private static ProcessBuilder tool(String... command) {
        ProcessBuilder b = new ProcessBuilder(command).redirectErrorStream(true);
        b.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        return b;
    }

    private static byte[] readCopy(ClusterNode node, String volume, long offset, int length) throws IOException {
        try (LocalVolume v = node.store().open(volume)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            v.read(b, offset);
            return b.array();
        }
    }

    @Test
    void everyNodeIsANormalMemberAndOneIsController() throws Exception {
        assertThat(client().liveNodes()).hasSize(3);
        assertThat(client().members().values()).extracting(m -> m.status()).containsOnly(NodeStatus.NORMAL);
        String controller = client().controllerId().orElseThrow();
        assertThat(node(controller).isController()).isTrue();
    }

    @Test
    void aThreeCopyVolumeReplicatesEveryWriteToEveryCopy() throws Exception {
        VolumeRecord v = new ClusterAdmin(client()).createVolume("db", 64 * MIB, 3, Duration.ofSeconds(30));
        assertThat(v.state()).isEqualTo(VolumeState.READY);
        assertThat(v.replicas()).hasSize(3).containsValues(ReplicaState.IN_SYNC);
        assertThat(client().events(50)).extracting(Event::message)
                .anyMatch(m -> m.matches("volume db \\(vd\\d+\\) created on node [0-9a-f]{8}"));
        ClusterNode owner = node(v.owner());

        nbdsh(owner, "db", "h.pwrite(b'\\xab' * 65536, 1048576); h.trim(4096, 0, flags=nbd.CMD_FLAG_FUA);"
                + " h.zero(8192, 3 * 1048576); h.flush()");

        for (ClusterNode n : nodes) {
            assertThat(readCopy(n, "db", MIB, 65536)).as("copy on %s", n.nodeId()).containsOnly((byte) 0xab);
            assertThat(readCopy(n, "db", 3 * MIB, 8192)).containsOnly((byte) 0);
        }
    }

    @Test
    void aHostEndpointWithoutCopiesGetsNoneAndServesEveryVolumeByForwarding() throws Exception {
        InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
        ClusterNode endpoint = ClusterNode.start(new ClusterNode.Config(dir.resolve("e"), "e", "127.0.0.1",
                NbdServerConfig.defaults(any), any, null, zk.getConnectString(), null, "test", Duration.ofSeconds(2), -1,
                Duration.ofSeconds(2), false, 0, true).withSecretFile(io.hablock.cluster.security.TestSecrets.file()));
        nodes.add(endpoint);
        await().atMost(Duration.ofSeconds(10)).until(() -> client().liveNodes().containsKey(endpoint.nodeId()));

        assertThatThrownBy(() -> new ClusterAdmin(client()).createVolume("four", 16 * MIB, 4, Duration.ofSeconds(30)))
                .hasMessageContaining("the cluster has 3 live node(s) taking copies");
        VolumeRecord v = new ClusterAdmin(client()).createVolume("three", 16 * MIB, 3, Duration.ofSeconds(30));
        assertThat(v.replicas()).doesNotContainKey(endpoint.nodeId());
        assertThat(v.owner()).isNotEqualTo(endpoint.nodeId());
        assertThat(endpoint.store().find("three")).isEmpty();

        nbdsh(endpoint, "three", "h.pwrite(b'\\x5a' * 4096, 8192); h.flush(); assert h.pread(4096, 8192) == b'\\x5a' * 4096");
        for (ClusterNode n : nodes.subList(0, 3)) {
            assertThat(readCopy(n, "three", 8192, 4096)).as("copy on %s", n.nodeId()).containsOnly((byte) 0x5a);
        }
    }

    @Test
    void aNonOwnerAnswersWithTheOwnersAddress() throws Exception {
        VolumeRecord v = new ClusterAdmin(client()).createVolume("elsewhere", 16 * MIB, 1, Duration.ofSeconds(30));
        ClusterNode owner = node(v.owner());
        ClusterNode other = nodes.stream().filter(n -> n != owner).findFirst().orElseThrow();

        ProcessBuilder nbdinfo = tool("nbdinfo", "nbd://127.0.0.1:" + other.nbdAddress().getPort() + "/elsewhere");
        nbdinfo.environment().put("LIBNBD_DEBUG", "1"); // libnbd prints the server's message only in its debug log
        Process p = nbdinfo.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();

        assertThat(p.exitValue()).isNotZero();
        assertThat(out).contains("volume 'elsewhere' is served by node n")
                .contains("(" + owner.nodeId() + ") at 127.0.0.1:" + owner.nbdAddress().getPort());
    }

    @Test
    void aCopyThatStopsAnsweringIsTakenOutOfSyncAndWritesGoOn() throws Exception {
        VolumeRecord v = new ClusterAdmin(client()).createVolume("degrade", 16 * MIB, 3, Duration.ofSeconds(30));
        ClusterNode owner = node(v.owner());
        ClusterNode victim = nodes.stream().filter(n -> n != owner).findFirst().orElseThrow();
        String victimId = victim.nodeId();
        nodes.remove(victim);
        victim.close();

        nbdsh(owner, "degrade", "h.pwrite(b'\\x5a' * 4096, 0); h.flush()");

        VolumeRecord after = owner.cluster().volume("degrade").orElseThrow().value();
        assertThat(after.replicas().get(victimId)).isEqualTo(ReplicaState.STALE);
        assertThat(after.health()).isEqualTo("degraded");
        assertThat(owner.cluster().events(50)).extracting(Event::message)
                .anyMatch(m -> m.startsWith("volume degrade copy on node " + victimId + " out of sync"));
        for (ClusterNode n : nodes) {
            assertThat(readCopy(n, "degrade", 0, 4096)).containsOnly((byte) 0x5a);
        }
    }

    @Test
    void withoutZooKeeperAFailedCopyMeansTheWriteIsNotAcknowledged() throws Exception {
        VolumeRecord v = new ClusterAdmin(client()).createVolume("noack", 16 * MIB, 2, Duration.ofSeconds(30));
        ClusterNode owner = node(v.owner());
        ClusterNode victim = node(v.replicas().keySet().stream().filter(id -> !id.equals(v.owner())).findFirst().orElseThrow());
        zk.stop();
        nodes.remove(victim);
        victim.close();

        String uri = "nbd://127.0.0.1:" + owner.nbdAddress().getPort() + "/noack";
        Process p = tool("nbdsh", "-u", uri, "-c", "h.pwrite(b'\\x11' * 4096, 0)").start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(90, TimeUnit.SECONDS)).isTrue();

        assertThat(p.exitValue()).as("nbdsh must see the write fail: %s", out).isNotZero();
        // EIO when the owner still had its lease and could not record the copy out of sync; once
        // its session is declared lost (the victim's stop takes a while without ZooKeeper), the
        // owner serves nothing at all.
        assertThat(out).containsAnyOf("Input/output error", "no export named 'noack'");
        zk.restart();
    }

    @Test
    void aCopyRefusesAnOlderEpochAndChangesNothing() throws Exception {
        VolumeRecord v = new ClusterAdmin(client()).createVolume("fenced", 16 * MIB, 2, Duration.ofSeconds(30));
        String copyId = v.replicas().keySet().stream().filter(id -> !id.equals(v.owner())).findFirst().orElseThrow();
        ClusterNode copy = node(copyId);
        try (ReplicationClient stale = new ReplicationClient(Duration.ofSeconds(5),
                io.hablock.cluster.security.TestSecrets.node(v.owner()))) {
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> stale.write(copy.replicationAddress(), v.uuid(), io.hablock.blockstore.Generation.of(v.epoch() - 1), 0,
                            ByteBuffer.wrap(new byte[4096]).put(0, (byte) 7), false).get());
            assertThat(e.getCause()).isInstanceOf(ReplicaRefusedException.class);
            assertThat(((ReplicaRefusedException) e.getCause()).reason()).isEqualTo(ReplicaRefusedException.Reason.STALE_EPOCH);
        }
        assertThat(readCopy(copy, "fenced", 0, 4096)).containsOnly((byte) 0);
    }

    @Test
    void anotherNodeBecomesControllerWhenTheControllerGoes() throws Exception {
        ClusterNode controller = nodes.stream().filter(ClusterNode::isController).findFirst().orElseThrow();
        nodes.remove(controller);
        controller.close();

        await().atMost(Duration.ofSeconds(10)).until(() -> nodes.stream().anyMatch(ClusterNode::isController));
        String now = client().controllerId().orElseThrow();
        assertThat(now).isNotEqualTo(controller.nodeId());
        await().atMost(Duration.ofSeconds(10)).until(() ->
                client().members().get(controller.nodeId()).status() == NodeStatus.MAINTENANCE);
    }

    @Test
    void moreCopiesThanNodesIsRefusedAndLeavesNothing() throws Exception {
        assertThatThrownBy(() -> new ClusterAdmin(client()).createVolume("big", 16 * MIB, 4, Duration.ofSeconds(30)))
                .isInstanceOf(ClusterException.class)
                .hasMessage("cannot create a 4-copy volume: the cluster has 3 live node(s) taking copies, and every copy "
                        + "needs a node of its own");
        assertThat(client().volume("big")).isEmpty();
    }

    @Test
    void aVolumeTooBigForTheNodesIsRefusedByPlacementAndLeavesNothing() throws Exception {
        assertThatThrownBy(() -> new ClusterAdmin(client()).createVolume("huge", 100L << 30, 2, Duration.ofSeconds(30)))
                .isInstanceOf(ClusterException.class)
                .hasMessage("cannot place 2 copies of 100G: only 0 of 3 live node(s) have room");
        assertThat(client().volume("huge")).isEmpty();
        for (ClusterNode n : nodes) {
            assertThat(n.store().find("huge")).isEmpty();
        }
    }

    @Test
    void removingAVolumeDeletesEveryCopy() throws Exception {
        new ClusterAdmin(client()).createVolume("gone", 16 * MIB, 3, Duration.ofSeconds(30));

        new ClusterAdmin(client()).removeVolume("gone", Duration.ofSeconds(30));

        assertThat(client().volume("gone")).isEmpty();
        for (ClusterNode n : nodes) {
            assertThat(n.store().find("gone")).isEmpty();
        }
    }
}
