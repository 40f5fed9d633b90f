package io.hablock.nativeio.nbd;

import static io.hablock.nativeio.nbd.Bytes.hex;
import static io.hablock.nativeio.nbd.Bytes.hexOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Expected bytes are written out by hand from the uapi headers, little-endian (x86_64, aarch64). */
class GenlCodecTest {
    private static final int NBD_FAMILY = 0x21;

    @BeforeAll
    static void littleEndian() {
        assumeTrue(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN, "expected bytes are little-endian");
    }

    @Test
    void getFamilyForNbd() {
        assertThat(Bytes.hex(GenlCodec.getFamily(7, "nbd"))).isEqualTo(hexOf("""
                1c 00 00 00 | 10 00 | 05 00 | 07 00 00 00 | 00 00 00 00
                03 01 00 00
                08 00 02 00 | 6e 62 64 00
                """));
    }

    @Test
    void getFamilyPadsTheNameToFourBytes() {
        // "nlctrl\0" is 7 bytes: nla_len 11, padded with one zero to 12; nlmsg_len 32
        assertThat(Bytes.hex(GenlCodec.getFamily(0x01020304, "nlctrl"))).isEqualTo(hexOf("""
                20 00 00 00 | 10 00 | 05 00 | 04 03 02 01 | 00 00 00 00
                03 01 00 00
                0b 00 02 00 | 6e 6c 63 74 72 6c 00 | 00
                """));
    }

    @Test
    void connectWithEveryAttributeAndTheSocketNested() {
        NbdConnectRequest r = NbdConnectRequest.of(5, 1L << 30, 4096, 0x0d, Duration.ofSeconds(30),
                Duration.ofSeconds(10), OptionalInt.of(3));
        assertThat(Bytes.hex(GenlCodec.connect(NBD_FAMILY, 1, r))).isEqualTo(hexOf("""
                68 00 00 00 | 21 00 | 05 00 | 01 00 00 00 | 00 00 00 00
                01 01 00 00
                08 00 01 00 | 03 00 00 00
                0c 00 02 00 | 00 00 00 40 00 00 00 00
                0c 00 03 00 | 00 10 00 00 00 00 00 00
                0c 00 05 00 | 0d 00 00 00 00 00 00 00
                0c 00 04 00 | 1e 00 00 00 00 00 00 00
                0c 00 08 00 | 0a 00 00 00 00 00 00 00
                10 00 07 80
                   0c 00 01 80
                      08 00 01 00 | 05 00 00 00
                """));
    }

    @Test
    void connectToAnyDeviceOmitsTheIndexAndCarriesEverySocketAndTheBackend() {
        NbdConnectRequest r = new NbdConnectRequest(512, 512, 1, Duration.ZERO, Duration.ZERO, OptionalInt.empty(),
                List.of(7, 8), Optional.of("hb:v"));
        assertThat(Bytes.hex(GenlCodec.connect(NBD_FAMILY, 2, r))).isEqualTo(hexOf("""
                78 00 00 00 | 21 00 | 05 00 | 02 00 00 00 | 00 00 00 00
                01 01 00 00
                0c 00 02 00 | 00 02 00 00 00 00 00 00
                0c 00 03 00 | 00 02 00 00 00 00 00 00
                0c 00 05 00 | 01 00 00 00 00 00 00 00
                0c 00 04 00 | 00 00 00 00 00 00 00 00
                0c 00 08 00 | 00 00 00 00 00 00 00 00
                1c 00 07 80
                   0c 00 01 80 | 08 00 01 00 | 07 00 00 00
                   0c 00 01 80 | 08 00 01 00 | 08 00 00 00
                09 00 0a 00 | 68 62 3a 76 00 | 00 00 00
                """));
    }

    @Test
    void disconnectByIndex() {
        assertThat(Bytes.hex(GenlCodec.disconnect(NBD_FAMILY, 2, 3))).isEqualTo(hexOf("""
                1c 00 00 00 | 21 00 | 05 00 | 02 00 00 00 | 00 00 00 00
                02 01 00 00
                08 00 01 00 | 03 00 00 00
                """));
    }

    @Test
    void decodesAConnectReplyFollowedByItsAckInOneDatagram() throws Exception {
        ByteBuffer datagram = ByteBuffer.wrap(hex("""
                1c 00 00 00 | 21 00 | 00 00 | 01 00 00 00 | 34 12 00 00
                01 01 00 00
                08 00 01 00 | 07 00 00 00
                24 00 00 00 | 02 00 | 00 01 | 01 00 00 00 | 34 12 00 00
                00 00 00 00
                68 00 00 00 21 00 05 00 01 00 00 00 00 00 00 00
                """));
        List<NetlinkMessage> messages = GenlCodec.decode(datagram);
        assertThat(messages).hasSize(2);
        NetlinkMessage.Genl reply = (NetlinkMessage.Genl) messages.get(0);
        assertThat(reply.family()).isEqualTo(NBD_FAMILY);
        assertThat(reply.seq()).isEqualTo(1);
        assertThat(reply.portId()).isEqualTo(0x1234);
        assertThat(reply.cmd()).isEqualTo(Netlink.NBD_CMD_CONNECT);
        assertThat(reply.version()).isEqualTo(1);
        assertThat(reply.attribute(Netlink.NBD_ATTR_INDEX).orElseThrow().u32()).isEqualTo(7);
        assertThat(messages.get(1)).isEqualTo(new NetlinkMessage.Error(1, 0));
        assertThat(((NetlinkMessage.Error) messages.get(1)).isAck()).isTrue();
    }

    @Test
    void decodesANegativeErrnoAsTheErrno() throws Exception {
        ByteBuffer datagram = ByteBuffer.wrap(hex("""
                24 00 00 00 | 02 00 | 00 01 | 07 00 00 00 | 00 00 00 00
                fe ff ff ff
                1c 00 00 00 10 00 05 00 07 00 00 00 00 00 00 00
                """));
        assertThat(GenlCodec.decode(datagram)).containsExactly(new NetlinkMessage.Error(7, 2)); // -ENOENT
    }

    @Test
    void decodesAFamilyReplyWithNestsWithoutTheNestedFlag() throws Exception {
        // the kernel's nla_nest_start_noflag: a nest without NLA_F_NESTED, then a u16 family id
        ByteBuffer datagram = ByteBuffer.wrap(hex("""
                34 00 00 00 | 10 00 | 00 00 | 09 00 00 00 | 00 00 00 00
                01 02 00 00
                08 00 02 00 | 6e 62 64 00
                06 00 01 00 | 21 00 | 00 00
                0c 00 06 00 | 08 00 01 00 | 01 00 00 00
                04 00 03 00
                """));
        NetlinkMessage.Genl reply = (NetlinkMessage.Genl) GenlCodec.decode(datagram).get(0);
        assertThat(reply.cmd()).isEqualTo(Netlink.CTRL_CMD_NEWFAMILY);
        assertThat(reply.attribute(Netlink.CTRL_ATTR_FAMILY_NAME).orElseThrow().string()).isEqualTo("nbd");
        assertThat(reply.attribute(Netlink.CTRL_ATTR_FAMILY_ID).orElseThrow().u16()).isEqualTo(NBD_FAMILY);
        NlAttribute ops = reply.attribute(6).orElseThrow();
        assertThat(ops.nestedFlag()).isFalse();
        assertThat(ops.nested()).singleElement().satisfies(a -> {
            assertThat(a.type()).isEqualTo(1);
            assertThat(a.u32()).isEqualTo(1);
        });
        assertThat(reply.attribute(3).orElseThrow().value().remaining()).isZero();
    }

    @Test
    void connectRoundTrips() throws Exception {
        NbdConnectRequest r = new NbdConnectRequest(10L << 40, 1024, 0x1ff, Duration.ofSeconds(120),
                Duration.ofSeconds(45), OptionalInt.of(511), List.of(11, 12, 13), Optional.of("hablock:c/vol-é"));
        NetlinkMessage.Genl m = (NetlinkMessage.Genl) GenlCodec.decode(GenlCodec.connect(NBD_FAMILY, 99, r))
                .get(0);
        assertThat(m.flags()).isEqualTo(Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK);
        assertThat(m.seq()).isEqualTo(99);
        assertThat(m.cmd()).isEqualTo(Netlink.NBD_CMD_CONNECT);
        assertThat(m.attribute(Netlink.NBD_ATTR_INDEX).orElseThrow().u32()).isEqualTo(511);
        assertThat(m.attribute(Netlink.NBD_ATTR_SIZE_BYTES).orElseThrow().u64()).isEqualTo(10L << 40);
        assertThat(m.attribute(Netlink.NBD_ATTR_BLOCK_SIZE_BYTES).orElseThrow().u64()).isEqualTo(1024);
        assertThat(m.attribute(Netlink.NBD_ATTR_SERVER_FLAGS).orElseThrow().u64()).isEqualTo(0x1ff);
        assertThat(m.attribute(Netlink.NBD_ATTR_TIMEOUT).orElseThrow().u64()).isEqualTo(120);
        assertThat(m.attribute(Netlink.NBD_ATTR_DEAD_CONN_TIMEOUT).orElseThrow().u64()).isEqualTo(45);
        assertThat(m.attribute(Netlink.NBD_ATTR_BACKEND_IDENTIFIER).orElseThrow().string())
                .isEqualTo("hablock:c/vol-é");
        NlAttribute sockets = m.attribute(Netlink.NBD_ATTR_SOCKETS).orElseThrow();
        assertThat(sockets.nestedFlag()).isTrue();
        assertThat(sockets.nested()).hasSize(3).allSatisfy(item -> assertThat(item.type())
                .isEqualTo(Netlink.NBD_SOCK_ITEM));
        assertThat(sockets.nested().get(2).nested().get(0).u32()).isEqualTo(13);
    }

    @Test
    void malformedDatagramsAreRejected() {
        // nlmsg_len larger than the datagram
        assertThatThrownBy(() -> GenlCodec.decode(ByteBuffer.wrap(hex(
                "30 00 00 00 10 00 00 00 01 00 00 00 00 00 00 00 01 02 00 00"))))
                .isInstanceOf(NetlinkFormatException.class)
                .hasMessageContaining("message length 48");
        // attribute length overruns the message
        assertThatThrownBy(() -> GenlCodec.decode(ByteBuffer.wrap(hex(
                "1c 00 00 00 10 00 00 00 01 00 00 00 00 00 00 00 01 02 00 00 40 00 01 00 00 00 00 00"))))
                .isInstanceOf(NetlinkFormatException.class)
                .hasMessageContaining("attribute length 64");
        // a u32 read from a 2-byte attribute
        assertThatThrownBy(() -> new NlAttribute(1, false, ByteBuffer.wrap(new byte[2])).u32())
                .isInstanceOf(NetlinkFormatException.class);
    }

    @Test
    void requestsAreValidated() {
        assertThatThrownBy(() -> NbdConnectRequest.of(5, 4096, 1000, 0, Duration.ZERO, Duration.ZERO,
                OptionalInt.empty())).hasMessageContaining("power of two");
        assertThatThrownBy(() -> NbdConnectRequest.of(5, 4097, 4096, 0, Duration.ZERO, Duration.ZERO,
                OptionalInt.empty())).hasMessageContaining("multiple of the block size");
        assertThatThrownBy(() -> NbdConnectRequest.of(5, 4096, 4096, 0x10000, Duration.ZERO, Duration.ZERO,
                OptionalInt.empty())).hasMessageContaining("16 bits");
        assertThatThrownBy(() -> NbdConnectRequest.of(5, 4096, 4096, 0, Duration.ofMillis(1500), Duration.ZERO,
                OptionalInt.empty())).hasMessageContaining("whole seconds");
        assertThatThrownBy(() -> NbdConnectRequest.of(-1, 4096, 4096, 0, Duration.ZERO, Duration.ZERO,
                OptionalInt.empty())).hasMessageContaining("open socket");
    }
}
