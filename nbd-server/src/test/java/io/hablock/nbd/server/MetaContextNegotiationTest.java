package io.hablock.nbd.server;

import static io.hablock.nbd.testing.RawNbdClient.last;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nbd.testing.OptionReply;
import io.hablock.nbd.testing.Options;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.Reply;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** NBD_OPT_STRUCTURED_REPLY and the metadata context options, against doc/proto.md. */
class MetaContextNegotiationTest extends ServerTest {
    private static final String VOL = ServerFixture.VOLUME;


    // ---- NBD_OPT_STRUCTURED_REPLY -----------------------------------------------------------

    @Test
    void structuredRepliesAreAcknowledgedAndAdvertiseDf() throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            assertThat(client.option(Wire.OPT_STRUCTURED_REPLY)).extracting(OptionReply::type)
                    .containsExactly(Wire.REP_ACK);
            client.go(VOL);
            assertThat(client.transmissionFlags() & Wire.TFLAG_SEND_DF).isNotZero();
            Reply read = client.read(0, 4096);
            assertThat(read.structured()).isTrue();
            assertThat(read.error()).isZero();
        }
    }

    @Test
    void structuredRepliesWithDataAreInvalid() throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            assertThat(client.option(Wire.OPT_STRUCTURED_REPLY, new byte[] {0})).extracting(OptionReply::type)
                    .containsExactly(Wire.REP_ERR_INVALID);
            client.go(VOL);
            assertThat(client.transmissionFlags() & Wire.TFLAG_SEND_DF).isZero();
            assertThat(client.read(0, 4096).structured()).isFalse();
        }
    }

    // ---- NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT -------------------------------

    @ParameterizedTest(name = "option {0}")
    @ValueSource(ints = {Wire.OPT_LIST_META_CONTEXT, Wire.OPT_SET_META_CONTEXT})
    void metaContextsBeforeStructuredRepliesAreInvalid(int option) throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            assertThat(client.option(option, Options.metaContext(VOL, "base:allocation")))
                    .extracting(OptionReply::type).containsExactly(Wire.REP_ERR_INVALID);
        }
    }

    @Test
    void listWithoutQueriesListsBaseAllocation() throws IOException {
        try (RawNbdClient client = structuredHandshake()) {
            List<OptionReply> replies = client.option(Wire.OPT_LIST_META_CONTEXT, Options.metaContext(VOL));
            assertThat(replies).extracting(OptionReply::type).containsExactly(Wire.REP_META_CONTEXT, Wire.REP_ACK);
            assertThat(replies.get(0).contextName()).isEqualTo("base:allocation");
        }
    }

    @Test
    void listMatchesTheBaseNamespaceAndIgnoresUnknownOnes() throws IOException {
        try (RawNbdClient client = structuredHandshake()) {
            List<OptionReply> base = client.option(Wire.OPT_LIST_META_CONTEXT, Options.metaContext(VOL, "base:"));
            assertThat(base).extracting(OptionReply::type).containsExactly(Wire.REP_META_CONTEXT, Wire.REP_ACK);
            assertThat(base.get(0).contextName()).isEqualTo("base:allocation");

            assertThat(client.option(Wire.OPT_LIST_META_CONTEXT, Options.metaContext(VOL, "x-unknown:thing")))
                    .extracting(OptionReply::type).containsExactly(Wire.REP_ACK);
        }
    }

    @Test
    void setSelectsBaseAllocationWithANonzeroIdThatBlockStatusUses() throws IOException {
        try (RawNbdClient client = structuredHandshake()) {
            List<OptionReply> replies = client.option(Wire.OPT_SET_META_CONTEXT,
                    Options.metaContext(VOL, "x-unknown:thing", "base:allocation"));
            assertThat(replies).extracting(OptionReply::type).containsExactly(Wire.REP_META_CONTEXT, Wire.REP_ACK);
            assertThat(replies.get(0).contextName()).isEqualTo("base:allocation");
            int id = replies.get(0).contextId();
            assertThat(id).isNotZero();

            client.go(VOL);
            Reply status = client.command(Wire.CMD_BLOCK_STATUS, 0, 0, 1 << 20);
            assertThat(status.error()).isZero();
            assertThat(status.chunks()).filteredOn(c -> c.type() == Wire.REPLY_TYPE_BLOCK_STATUS)
                    .singleElement().satisfies(c -> assertThat(c.contextId()).isEqualTo(id));
        }
    }

    @ParameterizedTest(name = "queries {0}")
    @ValueSource(strings = {"", "base:"})
    void setWithoutAContextQuerySelectsNothing(String query) throws IOException {
        try (RawNbdClient client = structuredHandshake()) {
            byte[] data = query.isEmpty() ? Options.metaContext(VOL) : Options.metaContext(VOL, query);
            assertThat(client.option(Wire.OPT_SET_META_CONTEXT, data)).extracting(OptionReply::type)
                    .containsExactly(Wire.REP_ACK);
            client.go(VOL);
            assertThat(client.command(Wire.CMD_BLOCK_STATUS, 0, 0, 4096).error()).isEqualTo(Wire.EINVAL);
        }
    }

    /** "Issuing this command replaces all previously-set metadata contexts (including when this command fails)". */
    @Test
    void aFailedSetClearsTheEarlierSelection() throws IOException {
        try (RawNbdClient client = structuredHandshake()) {
            assertThat(last(client.option(Wire.OPT_SET_META_CONTEXT, Options.metaContext(VOL, "base:allocation")))
                    .type()).isEqualTo(Wire.REP_ACK);
            byte[] truncated = Options.build(out -> {
                out.writeInt(3);
                out.write(Options.utf8(VOL));
                out.writeInt(1);
                out.writeInt(50); // a query of 50 bytes, none sent
            });
            assertThat(client.option(Wire.OPT_SET_META_CONTEXT, truncated)).extracting(OptionReply::type)
                    .containsExactly(Wire.REP_ERR_INVALID);
            client.go(VOL);
            assertThat(client.command(Wire.CMD_BLOCK_STATUS, 0, 0, 4096).error()).isEqualTo(Wire.EINVAL);
        }
    }

    @Test
    void aContextSelectedForAnotherExportDoesNotCarryOver() throws IOException {
        fixture.store().create("another", 1 << 20);
        try (RawNbdClient client = structuredHandshake()) {
            assertThat(last(client.option(Wire.OPT_SET_META_CONTEXT,
                    Options.metaContext("another", "base:allocation"))).type()).isEqualTo(Wire.REP_ACK);
            client.go(VOL);
            assertThat(client.command(Wire.CMD_BLOCK_STATUS, 0, 0, 4096).error()).isEqualTo(Wire.EINVAL);
        }
    }

    @ParameterizedTest(name = "option {0}")
    @ValueSource(ints = {Wire.OPT_LIST_META_CONTEXT, Wire.OPT_SET_META_CONTEXT})
    void metaContextsOfAnUnknownExportAreErrUnknown(int option) throws IOException {
        try (RawNbdClient client = structuredHandshake()) {
            List<OptionReply> replies = client.option(option, Options.metaContext("no-such-volume", "base:allocation"));
            assertThat(replies).extracting(OptionReply::type).containsExactly(Wire.REP_ERR_UNKNOWN);
            assertThat(replies.get(0).text()).contains("no-such-volume");
        }
    }

    @ParameterizedTest(name = "option {0}")
    @ValueSource(ints = {Wire.OPT_LIST_META_CONTEXT, Wire.OPT_SET_META_CONTEXT})
    void malformedMetaContextRequestsAreInvalid(int option) throws IOException {
        byte[][] malformed = {
            {0, 0, 0, 3, 'v', 'o', 'l'},                                 // no query count
            Options.build(out -> { out.writeInt(99); out.write(Options.utf8(VOL)); out.writeInt(0); }),
            Options.build(out -> { out.writeInt(3); out.write(Options.utf8(VOL)); out.writeInt(2);
                out.writeInt(15); out.write(Options.utf8("base:allocation")); }),  // two queries announced
            Options.build(out -> { out.writeInt(3); out.write(Options.utf8(VOL)); out.writeInt(0);
                out.writeByte(1); }),                                    // a stray byte at the end
        };
        try (RawNbdClient client = structuredHandshake()) {
            for (byte[] data : malformed) {
                assertThat(client.option(option, data)).extracting(OptionReply::type)
                        .containsExactly(Wire.REP_ERR_INVALID);
            }
            assertThat(last(client.go(VOL)).type()).isEqualTo(Wire.REP_ACK);
        }
    }

    private RawNbdClient structuredHandshake() throws IOException {
        RawNbdClient client = fixture.handshake();
        assertThat(last(client.option(Wire.OPT_STRUCTURED_REPLY)).type()).isEqualTo(Wire.REP_ACK);
        return client;
    }
}
