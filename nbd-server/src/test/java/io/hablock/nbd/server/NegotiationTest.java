package io.hablock.nbd.server;

import static io.hablock.nbd.testing.RawNbdClient.last;
import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nbd.testing.OptionReply;
import io.hablock.nbd.testing.Options;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Option haggling against doc/proto.md: export selection, ABORT, LIST, INFO and GO. */
class NegotiationTest extends ServerTest {
    private static final String VOL = ServerFixture.VOLUME;


    // ---- NBD_OPT_EXPORT_NAME ---------------------------------------------------------------

    @Test
    void exportNameWithNoZeroesIsFollowedDirectlyByTransmission() throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            client.exportName(VOL);
            assertThat(client.exportSize()).isEqualTo(ServerFixture.VOLUME_SIZE);
            assertThat(client.transmissionFlags() & Wire.TFLAG_HAS_FLAGS).isNotZero();
            // Had the server sent padding, this reply would not start with the reply magic.
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
        }
    }

    @Test
    void exportNameWithoutNoZeroesIsFollowedBy124ZeroBytes() throws IOException {
        try (RawNbdClient client = RawNbdClient.connect(fixture.address())) {
            client.readGreeting();
            client.sendClientFlags(Wire.FLAG_FIXED_NEWSTYLE);
            client.exportName(VOL);
            assertThat(client.exportSize()).isEqualTo(ServerFixture.VOLUME_SIZE);
            assertThat(client.readBytes(124)).containsOnly(0);
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
        }
    }

    @Test
    void goIsNeverFollowedByPaddingEvenWithoutNoZeroes() throws IOException {
        try (RawNbdClient client = RawNbdClient.connect(fixture.address())) {
            client.readGreeting();
            client.sendClientFlags(Wire.FLAG_FIXED_NEWSTYLE);
            assertThat(last(client.go(VOL)).type()).isEqualTo(Wire.REP_ACK);
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
        }
    }

    @Test
    void exportNameOfAnUnknownExportClosesTheConnection() throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            client.sendOption(Wire.OPT_EXPORT_NAME, Options.utf8("no-such-volume"));
            client.assertClosedByServer();
        }
        fixture.assertServesNewClient();
    }

    // ---- NBD_OPT_ABORT, NBD_OPT_STARTTLS, unknown options -----------------------------------

    @ParameterizedTest(name = "{0} bytes of data")
    @ValueSource(ints = {0, 5})
    void abortIsAcknowledgedThenTheConnectionCloses(int dataLength) throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            // The client SHOULD send no data; the server SHOULD ignore any.
            assertThat(client.option(Wire.OPT_ABORT, new byte[dataLength]))
                    .extracting(OptionReply::type).containsExactly(Wire.REP_ACK);
            client.assertClosedByServer();
        }
    }

    @Test
    void startTlsIsRefusedAndHagglingGoesOn() throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            OptionReply reply = last(client.option(Wire.OPT_STARTTLS));
            assertThat(reply.type()).isEqualTo(Wire.REP_ERR_UNSUP);
            assertThat(last(client.go(VOL)).type()).isEqualTo(Wire.REP_ACK);
        }
    }

    // ---- NBD_OPT_LIST --------------------------------------------------------------------

    @Test
    void listNamesEveryExportThenAcknowledges() throws IOException {
        fixture.store().create("another", 1 << 20);
        try (RawNbdClient client = fixture.handshake()) {
            List<OptionReply> replies = client.option(Wire.OPT_LIST);
            assertThat(replies).extracting(OptionReply::type)
                    .containsExactly(Wire.REP_SERVER, Wire.REP_SERVER, Wire.REP_ACK);
            assertThat(replies.subList(0, 2)).extracting(OptionReply::serverName)
                    .containsExactlyInAnyOrder(VOL, "another");
            assertThat(replies.get(0).serverDescription()).contains("hablock volume");
        }
    }

    @Test
    void listWithDataIsInvalidAndHagglingGoesOn() throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            assertThat(client.option(Wire.OPT_LIST, new byte[] {1, 2, 3}))
                    .extracting(OptionReply::type).containsExactly(Wire.REP_ERR_INVALID);
            assertThat(last(client.option(Wire.OPT_LIST)).type()).isEqualTo(Wire.REP_ACK);
        }
    }

    // ---- NBD_OPT_INFO and NBD_OPT_GO ----------------------------------------------------------

    @ParameterizedTest(name = "option {0}")
    @ValueSource(ints = {Wire.OPT_INFO, Wire.OPT_GO})
    void infoAndGoAnswerNameDescriptionAndBlockSize(int option) throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            List<OptionReply> replies = client.option(option,
                    Options.infoRequest(VOL, Wire.INFO_NAME, Wire.INFO_DESCRIPTION, Wire.INFO_BLOCK_SIZE));

            assertThat(last(replies).type()).isEqualTo(Wire.REP_ACK);
            List<OptionReply> infos = replies.subList(0, replies.size() - 1);
            assertThat(infos).allMatch(r -> r.type() == Wire.REP_INFO);
            assertThat(infos).extracting(OptionReply::infoType).containsExactlyInAnyOrder(
                    Wire.INFO_EXPORT, Wire.INFO_NAME, Wire.INFO_DESCRIPTION, Wire.INFO_BLOCK_SIZE);

            ByteBuffer export = ByteBuffer.wrap(info(infos, Wire.INFO_EXPORT).data());
            assertThat(export.remaining()).isEqualTo(12);
            export.getShort();
            assertThat(export.getLong()).isEqualTo(ServerFixture.VOLUME_SIZE);
            int flags = export.getShort() & 0xffff;
            assertThat(flags).as("transmission flags 0x%x", flags)
                    .matches(f -> (f & Wire.TFLAG_HAS_FLAGS) != 0, "HAS_FLAGS")
                    .matches(f -> (f & Wire.TFLAG_SEND_FLUSH) != 0, "SEND_FLUSH")
                    .matches(f -> (f & Wire.TFLAG_SEND_FUA) != 0, "SEND_FUA")
                    .matches(f -> (f & Wire.TFLAG_CAN_MULTI_CONN) != 0, "CAN_MULTI_CONN")
                    .matches(f -> (f & Wire.TFLAG_READ_ONLY) == 0, "not READ_ONLY")
                    .matches(f -> (f & Wire.TFLAG_SEND_DF) == 0, "no SEND_DF without structured replies");

            assertThat(info(infos, Wire.INFO_NAME).infoText()).isEqualTo(VOL);
            assertThat(info(infos, Wire.INFO_DESCRIPTION).infoText()).contains(VOL);

            ByteBuffer sizes = ByteBuffer.wrap(info(infos, Wire.INFO_BLOCK_SIZE).data());
            assertThat(sizes.remaining()).isEqualTo(14);
            sizes.getShort();
            long min = sizes.getInt() & 0xffffffffL;
            long preferred = sizes.getInt() & 0xffffffffL;
            long max = sizes.getInt() & 0xffffffffL;
            assertThat(Long.bitCount(min)).as("minimum %d is a power of 2", min).isEqualTo(1);
            assertThat(min).isLessThanOrEqualTo(1 << 16);
            assertThat(Long.bitCount(preferred)).as("preferred %d is a power of 2", preferred).isEqualTo(1);
            assertThat(preferred).isGreaterThanOrEqualTo(Math.max(min, 512));
            assertThat(max % min).as("maximum is a multiple of the minimum").isZero();
            assertThat(max).isGreaterThanOrEqualTo(1 << 20);

            if (option == Wire.OPT_INFO) {
                // INFO leaves the client in option haggling.
                assertThat(last(client.go(VOL)).type()).isEqualTo(Wire.REP_ACK);
                assertThat(client.exportSize()).isEqualTo(ServerFixture.VOLUME_SIZE);
            }
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).as("in transmission").isZero();
        }
    }

    /** Some clients send their first request right behind the option that ends haggling. */
    @ParameterizedTest(name = "option {0}")
    @ValueSource(ints = {Wire.OPT_EXPORT_NAME, Wire.OPT_GO})
    void requestInTheSamePacketAsTheLastOptionIsServed(int option) throws IOException {
        byte[] data = pattern(4096, 1);
        byte[] optionData = option == Wire.OPT_GO ? Options.infoRequest(VOL) : Options.utf8(VOL);
        byte[] packet = Options.build(out -> {
            out.writeLong(Wire.IHAVEOPT);
            out.writeInt(option);
            out.writeInt(optionData.length);
            out.write(optionData);
            out.writeInt(Wire.REQUEST_MAGIC);
            out.writeShort(0);
            out.writeShort(Wire.CMD_WRITE);
            out.writeLong(77);
            out.writeLong(8192);
            out.writeInt(data.length);
            out.write(data);
        });
        try (RawNbdClient client = fixture.handshake()) {
            client.sendBytes(packet);
            if (option == Wire.OPT_GO) {
                assertThat(last(client.readOptionReplies(Wire.OPT_GO)).type()).isEqualTo(Wire.REP_ACK);
            } else {
                client.readBytes(10); // size and flags, no padding (NO_ZEROES)
            }
            assertThat(client.readReply(77, 8192, 0).error()).isZero();
            assertThat(client.read(8192, data.length).data()).isEqualTo(data);
        }
    }

    @ParameterizedTest(name = "option {0}")
    @ValueSource(ints = {Wire.OPT_INFO, Wire.OPT_GO})
    void unknownExportIsErrUnknownWithAMessage(int option) throws IOException {
        try (RawNbdClient client = fixture.handshake()) {
            List<OptionReply> replies = client.option(option, Options.infoRequest("no-such-volume"));
            assertThat(replies).extracting(OptionReply::type).containsExactly(Wire.REP_ERR_UNKNOWN);
            assertThat(replies.get(0).text()).contains("no-such-volume");
            assertThat(last(client.go(VOL)).type()).isEqualTo(Wire.REP_ACK);
        }
    }

    @ParameterizedTest(name = "option {0}")
    @ValueSource(ints = {Wire.OPT_INFO, Wire.OPT_GO})
    void malformedInfoAndGoAreInvalid(int option) throws IOException {
        byte[][] malformed = {
            {0, 0, 0},                                                   // shorter than the fixed fields
            Options.build(out -> { out.writeInt(100); out.write(Options.utf8(VOL)); out.writeShort(0); }),
            Options.build(out -> { out.writeInt(-1); out.writeShort(0); }),
            Options.build(out -> { out.writeInt(3); out.write(Options.utf8(VOL)); out.writeShort(2);
                out.writeShort(Wire.INFO_NAME); }),                       // two requests announced, one sent
            Options.build(out -> { out.writeInt(3); out.write(Options.utf8(VOL)); out.writeShort(0);
                out.writeByte(0); }),                                    // a stray byte at the end
        };
        try (RawNbdClient client = fixture.handshake()) {
            for (byte[] data : malformed) {
                assertThat(client.option(option, data)).extracting(OptionReply::type)
                        .containsExactly(Wire.REP_ERR_INVALID);
            }
            assertThat(last(client.go(VOL)).type()).isEqualTo(Wire.REP_ACK);
        }
    }

    private static OptionReply info(List<OptionReply> infos, int type) {
        return infos.stream().filter(r -> r.infoType() == type).findFirst()
                .orElseThrow(() -> new AssertionError("no NBD_REP_INFO of type " + type));
    }
}
