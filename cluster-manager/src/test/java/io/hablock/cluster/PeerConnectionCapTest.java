package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cluster.TestCluster.NodeSpec;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A host endpoint forwards every session of its clients to the owner on a connection of its
 * own, all from its one address: the owner's cap per client address (128 by default) must not
 * apply to another node of the cluster, only to clients. Every test node advertises 127.0.0.1;
 * 127.0.0.2 is a client.
 */
class PeerConnectionCapTest {
    @Test
    void aNodesAddressIsNotCappedPerClientButAClientsIs() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("n1"))) {
            int port = c.byName("n1").nbdAddress().getPort();
            List<Socket> open = new ArrayList<>();
            try {
                for (int i = 0; i < 130; i++) {
                    Socket s = connect(port, "127.0.0.1");
                    open.add(s);
                    assertThat(greeted(s)).as("connection %d from a node's address", i + 1).isTrue();
                }
                for (int i = 0; i < 128; i++) {
                    Socket s = connect(port, "127.0.0.2");
                    open.add(s);
                    assertThat(greeted(s)).as("connection %d from a client", i + 1).isTrue();
                }
                try (Socket s = connect(port, "127.0.0.2")) {
                    assertThat(greeted(s)).as("the client's connection 129").isFalse();
                }
            } finally {
                for (Socket s : open) {
                    s.close();
                }
            }
        }
    }

    private static Socket connect(int port, String from) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(10_000);
        s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        return s;
    }

    /** Whether the server sent its 18-byte greeting (false: it closed at once). */
    private static boolean greeted(Socket s) throws IOException {
        try {
            new DataInputStream(s.getInputStream()).readFully(new byte[18]);
            return true;
        } catch (java.io.EOFException | SocketException e) {
            return false;
        }
    }
}
