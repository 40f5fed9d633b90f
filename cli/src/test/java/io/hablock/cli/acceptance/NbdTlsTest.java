package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.HablockCli;
import io.hablock.cli.acceptance.support.LocalClusterProcesses;
import io.hablock.cli.acceptance.support.QemuIo;
import io.hablock.cli.acceptance.support.ServerProcess;
import io.hablock.cli.acceptance.support.TestCredentials;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hablock server --tls require --tls-verify-peer}: a node that owns a volume and a node
 * that stores nothing and forwards to it, both requiring TLS with client certificates, with
 * certificates of the cluster's CA from {@code hablock cluster cert}. qemu-io
 * writes through the forwarding node (which reaches the owner through TLS with its own
 * certificate) and reads back through the owner; a plain client is refused.
 */
class NbdTlsTest {
    @TempDir
    Path dir;

    @Test
    void aForwardingNodeReachesAnOwnerThatRequiresTls() throws Exception {
        Path node = dir.resolve("node-pki");
        Path client = dir.resolve("client-pki");
        clusterCert("node", "--host", "127.0.0.1,localhost", "--out", node.toString());
        clusterCert("app", "--client", "--out", client.toString());
        String[] tls = {"--tls", "require", "--tls-certificates", node.toString(), "--tls-verify-peer"};
        try (ServerProcess owner = ServerProcess.startWith(dir.resolve("owner"), tls)) {
            owner.createVolume("secret", "64M");
            List<String> join = new ArrayList<>(List.of("--zk", owner.zk(), "--no-copies"));
            join.addAll(List.of(tls));
            try (ServerProcess forwarder = ServerProcess.startWith(dir.resolve("forwarder"), join.toArray(String[]::new))) {
                qemuIo(client, forwarder.nbdPort(), QemuIo.write(0x5a, 1 << 20, 2 << 20));
                CommandResult back = qemuIo(client, owner.nbdPort(), QemuIo.read(0x5a, 1 << 20, 2 << 20));
                assertThat(back.stdout()).contains("read 2097152/2097152");

                CommandResult plain = Command.of("nbdinfo", forwarder.nbdUri("secret")).run();
                assertThat(plain.exitCode()).isNotZero();
                // libnbd 1.14 shows NBD_REP_ERR_TLS_REQD as ENOTSUP
                assertThat(plain.stderr()).contains("server replied with error to opt_go request");
            }
        }
    }

    @Test
    void aLocalClusterUpWithTlsServesOnlyClientsWithACertificate() throws Exception {
        try (LocalClusterProcesses cluster = LocalClusterProcesses.up(dir.resolve("local"), 2, "127.0.12", "--tls", "require",
                "--tls-verify-peer")) {
            cluster.cliOk("volume", "create", "tls", "--size", "16M", "--copies", "1");
            Path client = dir.resolve("local/client-pki");
            for (String node : List.of("v1", "v2")) { // the owner, and the node that forwards to it (over TLS too)
                String uri = cluster.uri(node, "tls").replace("nbd://", "nbds://");
                CommandResult info = Command.of("nbdinfo", "--size", uri + "?tls-certificates=" + client).run();
                assertThat(info.exitCode()).as("nbdinfo over TLS through %s%s", node, info.describe()).isZero();
                assertThat(info.stdout().strip()).isEqualTo(String.valueOf(16 << 20));
                CommandResult plain = Command.of("nbdinfo", cluster.uri(node, "tls")).run();
                assertThat(plain.exitCode()).as("a plain client of %s", node).isNotZero();
            }
            CommandResult noCertificate = Command.of("nbdinfo",
                    cluster.uri("v1", "tls").replace("nbd://", "nbds://")).run();
            assertThat(noCertificate.exitCode()).as("a TLS client without a certificate").isNotZero();
        }
        CommandResult bad = HablockCli.run("cluster", "up", "--nodes", "1", "--dir", dir.resolve("bad").toString(),
                "--tls-verify-peer");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.stderrLines()).containsExactly("error: --tls-verify-peer needs --tls on or require");
    }

    @Test
    void badTlsSettingsEndInOneLine() throws Exception {
        CommandResult mode = HablockCli.run("server", "--data-dir", dir.resolve("a").toString(), "--tls", "maybe");
        assertThat(mode.exitCode()).isNotZero();
        assertThat(mode.stderrLines()).containsExactly("error: --tls must be off, on or require, not 'maybe'");

        CommandResult missing = HablockCli.run("server", "--data-dir", dir.resolve("b").toString(), "--tls", "on",
                "--tls-certificates", dir.resolve("nowhere").toString());
        assertThat(missing.exitCode()).isNotZero();
        assertThat(missing.stderrLines()).hasSize(1);
        assertThat(missing.stderr()).contains("server-key.pem is missing or unreadable");
    }

    /** {@code hablock cluster cert NAME ...} with the credentials the test nodes use. */
    private static void clusterCert(String name, String... options) {
        List<String> argv = new ArrayList<>(List.of("cluster", "cert", name, "--secret-file",
                TestCredentials.file().toString()));
        argv.addAll(List.of(options));
        TestCredentials.secret();
        CommandResult r = HablockCli.run(argv);
        assertThat(r.exitCode()).as("cluster cert%s", r.describe()).isZero();
    }

    private static CommandResult qemuIo(Path clientDir, int port, String command) {
        CommandResult r = Command.of("qemu-io",
                "--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + clientDir,
                "--image-opts", "driver=nbd,host=127.0.0.1,port=" + port + ",export=secret,tls-creds=tls0",
                "-c", command).run();
        assertThat(r.exitCode()).as("qemu-io%s", r.describe()).isZero();
        assertThat(r.stdout() + r.stderr()).doesNotContain(QemuIo.MISMATCH);
        return r;
    }
}
