package io.hablock.nbd.server;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nbd.testing.Nbdsh;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * libnbd, a strict real client, on negotiations and replies the raw client only checks against
 * our own reading of the spec: option mode, INFO details, structured reads and block status as
 * libnbd parses them, and the older handshakes (no fixed newstyle, no NO_ZEROES).
 */
class LibnbdInteropTest extends ServerTest {
    private static final int KIB = 1024;

    private String uri;

    @BeforeEach
    void uri() {
        uri = "nbd://127.0.0.1:" + fixture.address().getPort() + "/" + ServerFixture.VOLUME;
    }

    @Test
    void optionModeListsInspectsAndSelects() throws Exception {
        fixture.store().create("another", 1 << 20);
        Map<String, String> out = Nbdsh.run("""
                h.set_opt_mode(True)
                h.set_full_info(True)
                h.connect_uri("%s")
                names = []
                h.opt_list(lambda name, description: names.append(name))
                print("list", ",".join(sorted(names)))
                contexts = []
                h.opt_list_meta_context(lambda name: contexts.append(name))
                print("contexts", ",".join(contexts))
                h.set_export_name("no-such-volume")
                try:
                    h.opt_info()
                    print("unknown", "accepted")
                except nbd.Error as e:
                    print("unknown", "refused")
                h.set_export_name("vol")
                h.opt_info()
                print("size", h.get_size())
                print("canonical", h.get_canonical_export_name())
                print("description", h.get_export_description())
                print("block", h.get_block_size(nbd.SIZE_MINIMUM), h.get_block_size(nbd.SIZE_PREFERRED),
                      h.get_block_size(nbd.SIZE_MAXIMUM))
                h.add_meta_context("base:allocation")
                h.opt_go()
                print("can", h.can_flush(), h.can_fua(), h.can_trim(), h.can_zero(), h.can_fast_zero(), h.can_df(),
                      h.can_multi_conn(), h.can_cache(), h.can_meta_context("base:allocation"), h.is_read_only())
                h.shutdown()
                """.formatted(uri));

        assertThat(out).containsEntry("list", "another,vol")
                .containsEntry("contexts", "base:allocation")
                .containsEntry("unknown", "refused")
                .containsEntry("size", String.valueOf(ServerFixture.VOLUME_SIZE))
                .containsEntry("canonical", "vol")
                .containsEntry("block", "1 4096 33554432")
                .containsEntry("can", "True True True True True True True True True False");
        assertThat(out.get("description")).contains("hablock volume vol");
    }

    @Test
    void structuredReadsAndBlockStatusAsLibnbdSeesThem() throws Exception {
        byte[] expected = new byte[256 * KIB];
        try (RawNbdClient client = fixture.transmission(false, false)) {
            byte[] first = pattern(64 * KIB, 1);
            byte[] last = pattern(64 * KIB, 2);
            assertThat(client.write(0, first).error()).isZero();
            assertThat(client.write(192 * KIB, last).error()).isZero();
            System.arraycopy(first, 0, expected, 0, first.length);
            System.arraycopy(last, 0, expected, 192 * KIB, last.length);
        }

        Map<String, String> out = Nbdsh.run("""
                import hashlib
                h.add_meta_context("base:allocation")
                h.connect_uri("%s")
                def reader(chunks):
                    def chunk(buf, offset, status, error):
                        chunks.append("%%d+%%d:%%d" %% (offset, len(buf), status))
                        return 0
                    return chunk
                chunks = []
                buf = h.pread_structured(262144, 0, reader(chunks))
                print("chunks", " ".join(sorted(chunks, key=lambda c: int(c.split("+")[0]))))
                print("sha256", hashlib.sha256(buf).hexdigest())
                df = []
                h.pread_structured(262144, 0, reader(df), nbd.CMD_FLAG_DF)
                print("df", " ".join(df))
                for name, flags in (("extents", 0), ("one", nbd.CMD_FLAG_REQ_ONE)):
                    seen = []
                    def extent(meta, offset, entries, error):
                        seen.append("%%s@%%d:%%s" %% (meta, offset, ",".join(map(str, entries))))
                        return 0
                    h.block_status(262144, 0, extent, flags)
                    print(name, " ".join(seen))
                h.shutdown()
                """.formatted(uri));

        int data = 1;
        int hole = 2;
        assertThat(out).containsEntry("chunks", "0+65536:%d 65536+131072:%d 196608+65536:%d".formatted(data, hole, data))
                .containsEntry("sha256", sha256(expected))
                .containsEntry("df", "0+262144:" + data)
                .containsEntry("extents", "base:allocation@0:65536,0,131072,3,65536,0")
                .containsEntry("one", "base:allocation@0:65536,0");
    }

    /**
     * Fixed newstyle without NO_ZEROES still works (NBD_OPT_GO must then not be followed by
     * padding); plain newstyle (client flags 0), where no option can be refused with an error,
     * is closed at once, as the spec lets a server that requires fixed newstyle do.
     */
    @Test
    void fixedNewstyleWithoutNoZeroesWorksAndPlainNewstyleIsRefused() throws Exception {
        byte[] data = pattern(64 * KIB, 3);
        try (RawNbdClient client = fixture.transmission(false, false)) {
            assertThat(client.write(0, data).error()).isZero();
        }

        Map<String, String> out = Nbdsh.run("""
                import hashlib
                g = nbd.NBD()
                g.set_handshake_flags(nbd.HANDSHAKE_FLAG_FIXED_NEWSTYLE)
                g.set_request_structured_replies(False)
                g.connect_uri("%s")
                print("fixed", g.get_protocol(), g.get_structured_replies_negotiated(),
                      hashlib.sha256(g.pread(65536, 0)).hexdigest())
                g.pwrite(bytes([0x5a]) * 4096, 1048576, nbd.CMD_FLAG_FUA)
                g.flush()
                g.shutdown()
                p = nbd.NBD()
                p.set_handshake_flags(0)
                try:
                    p.connect_uri("%s")
                    print("plain", "connected")
                except nbd.Error as e:
                    print("plain", "refused")
                """.formatted(uri, uri));

        assertThat(out).containsEntry("fixed", "newstyle-fixed False " + sha256(data))
                .containsEntry("plain", "refused");
        try (RawNbdClient client = fixture.transmission(false, false)) {
            assertThat(client.read(1 << 20, 4096).data()).containsOnly(0x5a);
        }
    }

    /**
     * A client that never saw the maximum block size (NBD_OPT_EXPORT_NAME, as the reference
     * integrity tester) or ignores it (libnbd 1.14 does not check it) may send 48 MiB requests:
     * a WRITE and a READ of 48 MiB, each checked by a SHA-256 of what the other side holds, then
     * a read of what the raw client wrote.
     */
    @Test
    void fortyEightMibRequestsBeyondTheAdvertisedMaximum() throws Exception {
        int length = 48 << 20;
        byte[] written = pattern(length, 4);
        try (RawNbdClient client = fixture.transmission(false, false)) {
            assertThat(client.write(8 << 20, written).error()).isZero();
        }

        Map<String, String> out = Nbdsh.run("""
                import hashlib, random
                h.set_request_structured_replies(False)
                h.connect_uri("%s")
                print("protocol", h.get_protocol(), h.get_block_size(nbd.SIZE_MAXIMUM))
                print("read", hashlib.sha256(h.pread(%d, %d)).hexdigest())
                data = random.Random(5).randbytes(%d)
                h.pwrite(data, 0, nbd.CMD_FLAG_FUA)
                print("wrote", hashlib.sha256(data).hexdigest())
                print("reread", hashlib.sha256(h.pread(%d, 0)).hexdigest())
                h.shutdown()
                """.formatted(uri, length, 8 << 20, length, length));

        assertThat(out).containsEntry("protocol", "newstyle-fixed " + (32 << 20)).containsEntry("read", sha256(written));
        assertThat(out.get("reread")).isEqualTo(out.get("wrote"));
        try (RawNbdClient client = fixture.transmission(true, false)) {
            assertThat(sha256(client.read(0, length).data())).as("what the raw client reads back")
                    .isEqualTo(out.get("wrote"));
        }
    }

    private static String sha256(byte[] data) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
