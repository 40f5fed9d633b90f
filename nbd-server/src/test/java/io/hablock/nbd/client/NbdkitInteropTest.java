package io.hablock.nbd.client;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The client against an independent server, {@code nbdkit memory 64M}: proves it speaks the
 * protocol and not only our server's reading of it.
 */
class NbdkitInteropTest {
    private static final int MIB = 1 << 20;
    private static Process nbdkit;
    private static InetSocketAddress address;

    @BeforeAll
    static void startNbdkit() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        ProcessBuilder pb = new ProcessBuilder("nbdkit", "-f", "-p", String.valueOf(port), "-i", "127.0.0.1",
                "memory", "64M").redirectErrorStream(true).redirectOutput(new File("target/nbdkit-interop.log"));
        pb.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        nbdkit = pb.start();
        address = new InetSocketAddress("127.0.0.1", port);
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
            assertThat(nbdkit.isAlive()).as("nbdkit running (see nbd-server/target/nbdkit-interop.log)").isTrue();
            try (Socket s = new Socket(address.getAddress(), port)) {
                return true;
            }
        });
    }

    @AfterAll
    static void stopNbdkit() throws InterruptedException {
        if (nbdkit != null) {
            nbdkit.destroy();
            if (!nbdkit.waitFor(10, TimeUnit.SECONDS)) {
                nbdkit.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void writesReadsAndFlushes() throws IOException {
        byte[] data = pattern(5 * MIB + 4096, 11);
        byte[] back = new byte[data.length];
        try (NbdClient client = NbdClient.connect(address, "")) {
            assertThat(client.size()).isEqualTo(64L * MIB);
            client.write(7 * MIB, data);
            client.flush();
        }
        try (NbdClient client = NbdClient.connect(address, "")) {
            client.read(7 * MIB, back);
        }
        assertThat(Arrays.equals(back, data)).as("read back through a second connection").isTrue();
    }

    @Test
    void errorsFromNbdkitAreNamed() throws IOException {
        try (NbdClient client = NbdClient.connect(address, "")) {
            assertThatThrownBy(() -> client.read(64L * MIB, new byte[512]))
                    .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("EINVAL"));
            assertThatThrownBy(() -> client.write(64L * MIB, new byte[512]))
                    .isInstanceOfSatisfying(NbdCommandException.class, e -> assertThat(e.errorName()).isEqualTo("ENOSPC"));
            byte[] zeros = new byte[4096];
            client.read(60L * MIB, zeros);
            assertThat(zeros).containsOnly(0);
        }
    }
}
