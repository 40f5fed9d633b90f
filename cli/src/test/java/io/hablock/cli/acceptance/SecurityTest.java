package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.HablockCli;
import io.hablock.cli.acceptance.support.QemuIo;
import io.hablock.cli.acceptance.support.ServerProcess;
import io.hablock.cli.acceptance.support.TestCredentials;
import io.hablock.cli.acceptance.support.Waits;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.cluster.security.ClusterSecret;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14's critical findings, tried as an attacker on the network would, against a real node:
 * a hand-written replication frame (the format of {@code replication/WireFormat}) on the
 * replication port, and ZooKeeper's own CLI ({@code zkCli.sh}) deleting a volume's record. Before
 * the fix the frame's bytes were read back over NBD, and the record's deletion made the node
 * delete the volume's data 0.4 s later.
 */
class SecurityTest {
    private static final String ZK_CLI = "/usr/share/zookeeper/bin/zkCli.sh";

    @TempDir
    Path dir;

    @Test
    void anAnonymousClientCanNeitherWriteThroughTheReplicationPortNorTouchZooKeeper() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"))) {
            server.createVolume("v1", "16M");
            QemuIo.verify(server.nbdUri("v1"), List.of(QemuIo.write(0x5a, 0, 65536)));
            VolumeRecord v;
            try (ClusterClient zk = ClusterClient.connect(server.zk(), "default", Duration.ofSeconds(10),
                    Duration.ofSeconds(5), TestCredentials.secret())) {
                v = zk.volume("v1").orElseThrow().value();
            }

            // A WRITE of "FORGED.." at offset 0, epoch 2^62, on a plain connection to the replication port.
            byte[] forged = "FORGED..".repeat(512).getBytes(StandardCharsets.US_ASCII);
            ByteBuffer frame = ByteBuffer.allocate(4 + 64 + forged.length);
            frame.putInt(64 + forged.length).putInt(0x48425251).put((byte) 2).put((byte) 1).putShort((short) 0).putLong(1)
                    .putLong(v.uuid().getMostSignificantBits()).putLong(v.uuid().getLeastSignificantBits())
                    .putLong(1L << 62).putLong(0).putLong(0).putLong(forged.length).put(forged);
            try (Socket s = new Socket("127.0.0.1", server.replicationPort())) {
                s.setSoTimeout(15_000);
                OutputStream out = s.getOutputStream();
                out.write(frame.array());
                out.flush();
                InputStream in = s.getInputStream();
                assertThat(in.readNBytes(68).length).as("reply bytes to a plain connection").isLessThan(68);
            } catch (SocketException reset) {
                // closed on it: as good
            }
            QemuIo.verify(server.nbdUri("v1"), List.of(QemuIo.read(0x5a, 0, 65536)));

            // ZooKeeper without the cluster's credentials: nothing to list, read or delete.
            String record = "/hablock/default/volumes/v1";
            for (List<String> op : List.of(List.of("ls", "/"), List.of("ls", "/hablock/default/volumes"),
                    List.of("get", record), List.of("deleteall", record), List.of("create", "/intruder"),
                    List.of("ls", "/hablock"), List.of("create", "/hablock/intruder"))) {
                CommandResult r = zkCli(server.zk(), op);
                assertThat(r.stdout() + r.stderr()).as("zkCli.sh %s%s", op, r.describe())
                        .containsAnyOf("Insufficient permission", "NoAuth");
            }
            Thread.sleep(2000); // the node deleted the data 0.4 s after the record went, before
            assertThat(HablockCli.run("volume", "ls", "--zk", server.zk()).stdout()).contains("v1");
            QemuIo.verify(server.nbdUri("v1"), List.of(QemuIo.read(0x5a, 0, 65536)));

            // The CLI with another cluster's secret is told so in one line.
            Path other = dir.resolve("other.secret");
            Files.writeString(other, ClusterSecret.generate().toFileText());
            CommandResult wrong = HablockCli.run("volume", "ls", "--zk", server.zk(), "--secret-file", other.toString());
            assertThat(wrong.exitCode()).isNotZero();
            assertThat(wrong.stderr()).contains("not authorized").contains("--secret-file");
            CommandResult missing = HablockCli.run("volume", "ls", "--zk", server.zk(), "--secret-file",
                    dir.resolve("none").toString());
            assertThat(missing.exitCode()).isNotZero();
            assertThat(missing.stderr()).contains("no cluster secret at " + dir.resolve("none"));
        }
    }

    @Test
    void aVolumeIsSeenAndAttachedOnlyByTheClientsItAllows() throws Exception {
        // The node says it is 127.0.0.2: the test's clients (127.0.0.1) are not a node of the cluster.
        try (ServerProcess server = ServerProcess.startWith(dir.resolve("data"), "--advertise", "127.0.0.2")) {
            server.createVolume("open", "16M");
            CommandResult made = HablockCli.run("volume", "create", "closed", "--size", "16M", "--allow", "10.9.9.0/24",
                    "--zk", server.zk());
            assertThat(made.exitCode()).as(made.describe()).isZero();
            CommandResult bad = HablockCli.run("volume", "create", "bad", "--size", "16M", "--allow", "10.9.9.0/33",
                    "--zk", server.zk());
            assertThat(bad.exitCode()).isNotZero();
            assertThat(bad.stderr()).contains("the prefix length must be 0 to 32");

            CommandResult list = Command.of("nbdinfo", "--list", "nbd://127.0.0.1:" + server.nbdPort()).run();
            assertThat(list.stdout()).as(list.describe()).contains("export=\"open\"").doesNotContain("closed");
            CommandResult info = Command.of("nbdinfo", server.nbdUri("closed")).run();
            assertThat(info.exitCode()).as(info.describe()).isNotZero();
            assertThat(info.stdout() + info.stderr()).doesNotContain("10.9.9.0");
            CommandResult copy = Command.of("qemu-io", "-f", "raw", server.nbdUri("closed"), "-c", "read 0 4096").run();
            assertThat(copy.exitCode()).as(copy.describe()).isNotZero();

            assertThat(HablockCli.run("volume", "info", "closed", "--zk", server.zk()).stdout()).contains("allow:    10.9.9.0/24");
            CommandResult allowed = HablockCli.run("volume", "allow", "closed", "10.9.9.0/24,127.0.0.1", "--zk", server.zk());
            assertThat(allowed.exitCode()).as(allowed.describe()).isZero();
            Waits.until("the node sees the new allow list", Duration.ofSeconds(10),
                    () -> Command.of("nbdinfo", server.nbdUri("closed")).run().exitCode() == 0, () -> "");
            QemuIo.verify(server.nbdUri("closed"), List.of(QemuIo.write(0x33, 0, 4096), QemuIo.read(0x33, 0, 4096)));
            assertThat(Command.of("nbdinfo", "--list", "nbd://127.0.0.1:" + server.nbdPort()).run().stdout())
                    .contains("export=\"closed\"");
        }
        // A node's own list: it serves none of its volumes to others.
        try (ServerProcess server = ServerProcess.startWith(dir.resolve("data2"), "--advertise", "127.0.0.2",
                "--allow", "10.9.9.0/24")) {
            server.createVolume("open", "16M");
            CommandResult list = Command.of("nbdinfo", "--list", "nbd://127.0.0.1:" + server.nbdPort()).run();
            assertThat(list.stdout()).as(list.describe()).doesNotContain("open");
            assertThat(Command.of("nbdinfo", server.nbdUri("open")).run().exitCode()).isNotZero();
        }
        CommandResult wrong = HablockCli.run("server", "--data-dir", dir.resolve("data3").toString(), "--allow", "10.9.9.9/40");
        assertThat(wrong.exitCode()).isNotZero();
        assertThat(wrong.stderr()).contains("the prefix length must be 0 to 32");
    }

    @Test
    void certificatesOfTheClusterCaServeGnuTlsClientsAndServers() throws Exception {
        Path secret = dir.resolve("cluster.secret");
        CommandResult init = HablockCli.run("cluster", "init", "--secret-file", secret.toString());
        assertThat(init.exitCode()).as(init.describe()).isZero();
        assertThat(HablockCli.run("cluster", "init", "--secret-file", secret.toString()).stderr()).contains("already exists");
        Path pki = dir.resolve("pki");
        for (List<String> args : List.of(List.of("node1", "--host", "127.0.0.1,localhost"), List.of("alice", "--client"))) {
            List<String> argv = new java.util.ArrayList<>(List.of("cluster", "cert"));
            argv.addAll(args);
            argv.addAll(List.of("--out", pki.toString(), "--secret-file", secret.toString()));
            CommandResult r = HablockCli.run(argv);
            assertThat(r.exitCode()).as(r.describe()).isZero();
        }
        assertThat(Files.getPosixFilePermissions(pki.resolve("server-key.pem"))).hasSize(2); // rw-------
        int port = io.hablock.cli.acceptance.support.FreePorts.next();
        // nbdkit (GnuTLS) serves with the node's certificate and asks for the client's: libnbd presents alice's.
        try (var nbdkit = Command.of("nbdkit", "-f", "-i", "127.0.0.1", "-p", Integer.toString(port), "--tls=require",
                "--tls-certificates=" + pki, "--tls-verify-peer", "memory", "1M").start()) {
            Waits.until("nbdkit listens", Duration.ofSeconds(10), () -> {
                try (Socket s = new Socket("127.0.0.1", port)) {
                    return true;
                } catch (java.io.IOException e) {
                    return false;
                }
            }, () -> "");
            CommandResult info = Command.of("nbdinfo", "nbds://localhost:" + port + "/?tls-certificates=" + pki).run();
            assertThat(info.exitCode()).as(info.describe()).isZero();
            assertThat(info.stdout()).contains("with TLS").contains("1048576");
        }
    }

    private static CommandResult zkCli(String server, List<String> op) {
        List<String> argv = new java.util.ArrayList<>(List.of(ZK_CLI, "-server", server));
        argv.addAll(op);
        return Command.of(argv).timeout(Duration.ofSeconds(60)).run();
    }
}
