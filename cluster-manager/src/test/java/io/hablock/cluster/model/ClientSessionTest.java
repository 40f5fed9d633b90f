package io.hablock.cluster.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ClientSessionTest {
    private static final Map<String, String> HOSTS = Map.of("n1", "10.0.0.1", "n2", "10.0.0.2", "n3", "10.0.0.3");

    @Test
    void aForwardingNodesConnectionToTheOwnerIsNotAnApplication() {
        ClientSession app = new ClientSession("n2-1", "10.0.0.9:40000", "n2", null);
        ClientSession forwarded = new ClientSession("n1-1", "10.0.0.2:50000", "n1", null);

        assertThat(ClientSession.applications(List.of(app, forwarded), HOSTS)).containsExactly(app);
    }

    @Test
    void aClientOnANodesHostConnectingStraightToTheOwnerIsAnApplication() {
        // From n2's address, but n2 has no session of its own on the volume: not forwarding.
        ClientSession direct = new ClientSession("n1-1", "10.0.0.2:50000", "n1", "/dev/nbd0");

        assertThat(ClientSession.applications(List.of(direct), HOSTS)).containsExactly(direct);
    }

    @Test
    void aClientOfTheOwnersOwnAddressIsAnApplication() {
        ClientSession local = new ClientSession("n1-1", "10.0.0.1:50000", "n1", null);

        assertThat(ClientSession.applications(List.of(local), HOSTS)).containsExactly(local);
    }

    @Test
    void clientHostDropsThePortAndIpv6Brackets() {
        assertThat(new ClientSession("a", "10.0.0.1:5", null, null).clientHost()).isEqualTo("10.0.0.1");
        assertThat(new ClientSession("a", "[fe80::1]:5", null, null).clientHost()).isEqualTo("fe80::1");
        assertThat(new ClientSession("a", "10.0.0.1:5", "n1", "/mnt/db").describe()).isEqualTo("10.0.0.1:5 on node n1 (/mnt/db)");
    }
}
