package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hablock.cluster.model.Event;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.model.VolumeState;
import io.hablock.cluster.security.TestSecrets;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The catalogue, the event log and their compare-and-set rules, against a real ZooKeeper. */
class ClusterClientTest {
    private static TestingServer zk;
    private static int clusters;
    private ClusterClient client;

    @BeforeAll
    static void startZooKeeper() throws Exception {
        zk = new TestingServer(true);
    }

    @AfterAll
    static void stopZooKeeper() throws Exception {
        zk.close();
    }

    @BeforeEach
    void connect() throws Exception {
        client = ClusterClient.connect(zk.getConnectString(), "c" + (++clusters), Duration.ofSeconds(10),
                Duration.ofSeconds(5), TestSecrets.secret());
    }

    @AfterEach
    void close() {
        client.close();
    }

    @Test
    void aVolumeIsCreatedOnceAndChangedOnlyByCompareAndSet() throws Exception {
        VolumeRecord v = VolumeRecord.pending("db", "vd1", 1L << 30, 3);

        assertThat(client.createVolume(v)).isTrue();
        assertThat(client.createVolume(VolumeRecord.pending("db", "vd2", 2L << 30, 1))).isFalse();

        Versioned<VolumeRecord> read = client.volume("db").orElseThrow();
        assertThat(read.value()).isEqualTo(v);
        var placed = client.updateVolume("db", r -> r.placed(List.of("n1", "n2", "n3"))).orElseThrow();
        assertThat(placed.value().state()).isEqualTo(VolumeState.CREATING);
        assertThat(placed.value().owner()).isEqualTo("n1");
        assertThat(placed.value().epoch()).isEqualTo(1);
        assertThat(placed.version()).isGreaterThan(read.version());
        // A delete against the old version loses; against the current one it wins.
        assertThat(client.deleteVolume("db", read.version())).isFalse();
        assertThat(client.deleteVolume("db", placed.version())).isTrue();
        assertThat(client.volume("db")).isEmpty();
    }

    @Test
    void aLostMountClaimIsTakenBackOnlyIfNoOtherHostClaimedSince() throws Exception {
        String cluster = "c" + clusters;
        io.hablock.cluster.model.MountClaim onA = new io.hablock.cluster.model.MountClaim("a", "va", "/run/a", 1);
        io.hablock.cluster.model.MountClaim onB = new io.hablock.cluster.model.MountClaim("b", "vb", "/run/b", 2);
        ClusterClient a = connect(cluster);
        ClusterClient b = connect(cluster);
        try {
            ClusterClient.MountHold first = a.claimMount("db", onA, -1);
            assertThat(first.held()).isTrue();
            assertThat(first.session()).isEqualTo(a.sessionId());
            assertThat(b.claimMount("db", onB, -1).other()).contains(onA);

            // a's session ends (its host cut off past the session timeout): b may claim, and does.
            a.close();
            ClusterClient.MountHold byB = b.claimMount("db", onB, -1);
            assertThat(byB.held()).isTrue();
            assertThat(byB.serial()).isGreaterThan(first.serial());

            // a, back in a new session, may not take it back: b holds it, then b released it
            // but had mounted the volume meanwhile.
            a = connect(cluster);
            assertThat(a.claimMount("db", onA, first.serial()).held()).isFalse();
            b.releaseMount("db", "b");
            ClusterClient.MountHold afterRelease = a.claimMount("db", onA, first.serial());
            assertThat(afterRelease.held()).as("a claim since a's: taken back, it would let a stale mount write").isFalse();
            assertThat(afterRelease.other()).isEmpty();

            // A fresh mount (no serial asked) is fine, and so is taking back a claim nobody made since.
            ClusterClient.MountHold fresh = a.claimMount("db", onA, -1);
            assertThat(fresh.held()).isTrue();
            ClusterClient a2 = connect(cluster); // the same host in another session (a restart)
            try {
                ClusterClient.MountHold again = a2.claimMount("db", onA, fresh.serial());
                assertThat(again.held()).isTrue();
                assertThat(again.session()).as("made again in the new session").isEqualTo(a2.sessionId());
                assertThat(again.serial()).isGreaterThan(fresh.serial());
            } finally {
                a2.close();
            }
        } finally {
            a.close();
            b.close();
        }
    }

    private static ClusterClient connect(String cluster) throws ClusterException {
        return ClusterClient.connect(zk.getConnectString(), cluster, Duration.ofSeconds(10), Duration.ofSeconds(5),
                TestSecrets.secret());
    }

    @Test
    void concurrentUpdatesAreAllApplied() throws Exception {
        client.createVolume(VolumeRecord.pending("race", "vd1", 1L << 20, 5));
        List<String> nodes = List.of("a", "b", "c", "d", "e");
        client.updateVolume("race", r -> r.placed(nodes));
        ExecutorService pool = Executors.newFixedThreadPool(5);
        try {
            List<Future<Object>> done = nodes.stream().map(n -> pool.submit(() -> {
                client.updateVolume("race", r -> r.withReplica(n, ReplicaState.IN_SYNC));
                return (Object) n;
            })).toList();
            for (Future<Object> f : done) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        assertThat(client.volume("race").orElseThrow().value().inSync()).containsExactlyElementsOf(nodes);
    }

    @Test
    void illegalTransitionsAreRefused() throws Exception {
        client.createVolume(VolumeRecord.pending("x", "vd1", 1L << 20, 1));
        client.updateVolume("x", r -> r.placed(List.of("a")));
        client.updateVolume("x", r -> r.withReplica("a", ReplicaState.IN_SYNC).withState(VolumeState.READY));

        assertThatThrownBy(() -> client.updateVolume("x", r -> r.withState(VolumeState.CREATING)))
                .isInstanceOf(IllegalStateException.class).hasMessage("a volume cannot go from ready to creating");
        assertThatThrownBy(() -> client.updateVolume("x", r -> r.withReplica("a", ReplicaState.CREATING)))
                .isInstanceOf(IllegalStateException.class).hasMessage("a copy cannot go from in-sync to creating");
        assertThat(client.volume("x").orElseThrow().value().health()).isEqualTo("healthy");
    }

    @Test
    void vdiskIdsAreUnique() throws Exception {
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            ids.add(client.nextVdisk());
        }
        assertThat(ids).hasSize(20).allMatch(id -> id.matches("vd\\d+"));
    }

    @Test
    void eventsComeBackInOrderAndTheHistoryIsBounded() throws Exception {
        for (int i = 0; i < 30; i++) {
            client.record(Event.info("CLUSTER", "event " + i));
        }

        assertThat(client.events(3)).extracting(Event::message).containsExactly("event 27", "event 28", "event 29");
        long seq27 = client.events(3).get(0).seq();
        assertThat(client.eventsAfter(seq27, 100)).extracting(Event::message).containsExactly("event 28", "event 29");

        client.trimEvents(10);
        assertThat(client.events(100)).hasSize(10).first().extracting(Event::message).isEqualTo("event 20");
    }

    @Test
    void anEventPrintsLikeTheReferenceLog() {
        Event e = new Event(1, 0, "info", "CLUSTER", "volume wp_mysql-data (vd2) created on node 6a41aeba");
        assertThat(e.format()).matches("\\d\\d/\\d\\d/\\d{4}-\\d\\d:\\d\\d:\\d\\d \\[info\\] \\[CLUSTER\\] "
                + "volume wp_mysql-data \\(vd2\\) created on node 6a41aeba");
    }

    @Test
    void anUnreachableZooKeeperIsAOneLineErrorWithinTheTimeout() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        long start = System.nanoTime();
        int closedPort = port;
        assertThatThrownBy(() -> ClusterClient.connect("127.0.0.1:" + closedPort, "x", Duration.ofSeconds(10),
                Duration.ofSeconds(2), TestSecrets.secret()))
                .isInstanceOf(ClusterException.class)
                .hasMessageStartingWith("cannot reach ZooKeeper at 127.0.0.1:" + closedPort + " within 2 s");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void whatAClientWithTheSecretCreatesNoAnonymousClientMayReadOrChange() throws Exception {
        client.createVolume(VolumeRecord.pending("private", "vd1", 1 << 20, 1));
        String record = client.paths().volume("private");
        try (org.apache.curator.framework.CuratorFramework anonymous = anonymous()) {
            assertThatThrownBy(() -> anonymous.getData().forPath(record))
                    .isInstanceOf(org.apache.zookeeper.KeeperException.NoAuthException.class);
            assertThatThrownBy(() -> anonymous.delete().forPath(record))
                    .isInstanceOf(org.apache.zookeeper.KeeperException.NoAuthException.class);
            assertThatThrownBy(() -> anonymous.getChildren().forPath(client.paths().volumes()))
                    .isInstanceOf(org.apache.zookeeper.KeeperException.NoAuthException.class);
        }
        assertThat(client.volume("private")).isPresent();
    }

    @Test
    void aClusterMadeBeforeACLsIsClosedByItsFirstNodeWithCredentials() throws Exception {
        ZkPaths old = new ZkPaths("before-acls");
        try (org.apache.curator.framework.CuratorFramework anonymous = anonymous()) {
            anonymous.create().creatingParentsIfNeeded().forPath(old.volume("v1"), "{}".getBytes());
            anonymous.create().creatingParentsIfNeeded().forPath(old.member("n1"), "{}".getBytes());
            assertThat(ZkAcls.secureTree(client.curator(), old.root(), TestSecrets.secret())).isEqualTo(5);
            assertThat(ZkAcls.secureTree(client.curator(), old.root(), TestSecrets.secret())).isZero();
            assertThatThrownBy(() -> anonymous.getData().forPath(old.volume("v1")))
                    .isInstanceOf(org.apache.zookeeper.KeeperException.NoAuthException.class);
            assertThatThrownBy(() -> anonymous.delete().forPath(old.member("n1")))
                    .isInstanceOf(org.apache.zookeeper.KeeperException.NoAuthException.class);
        }
        assertThat(client.curator().getData().forPath(old.volume("v1"))).isEqualTo("{}".getBytes());
    }

    /** A client without credentials, as {@code zkCli.sh} is. */
    private static org.apache.curator.framework.CuratorFramework anonymous() throws InterruptedException {
        org.apache.curator.framework.CuratorFramework c = org.apache.curator.framework.CuratorFrameworkFactory.newClient(
                zk.getConnectString(), new org.apache.curator.retry.RetryOneTime(100));
        c.start();
        c.blockUntilConnected();
        return c;
    }

}
