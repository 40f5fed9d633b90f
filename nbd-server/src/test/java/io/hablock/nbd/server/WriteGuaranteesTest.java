package io.hablock.nbd.server;

import static io.hablock.nbd.testing.TestData.pattern;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.testing.FaultInjectingPosixFs.Op;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerFixture;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.Wire;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** What a write promises: EPERM on a read-only export, FUA and FLUSH durability, multi-conn. */
class WriteGuaranteesTest extends ServerTest {
    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;


    @Test
    void readOnlyExportAdvertisesItAndRefusesWritesWithEperm() throws IOException {
        try (ServerFixture readOnly = ServerFixture.start(dir.resolve("ro"), true);
             RawNbdClient client = readOnly.transmission(true, false)) {
            int flags = client.transmissionFlags();
            assertThat(flags & Wire.TFLAG_READ_ONLY).isNotZero();
            assertThat(flags & (Wire.TFLAG_SEND_TRIM | Wire.TFLAG_SEND_WRITE_ZEROES | Wire.TFLAG_SEND_FAST_ZERO))
                    .isZero();

            assertThat(client.write(0, pattern(64 * KIB, 8)).error()).isEqualTo(Wire.EPERM);
            assertThat(client.command(Wire.CMD_TRIM, 0, 0, 4096).error()).isEqualTo(Wire.EPERM);
            assertThat(client.command(Wire.CMD_WRITE_ZEROES, 0, 0, 4096).error()).isEqualTo(Wire.EPERM);
            assertThat(client.read(0, 64 * KIB).data()).as("nothing written, payload drained").containsOnly(0);
        }
    }

    @Test
    void fuaWriteIsDurableBeforeItsReply() throws IOException {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            byte[] data = pattern(64 * KIB, 9);
            fixture.fs().resetCounts();
            assertThat(client.request(Wire.CMD_FLAG_FUA, Wire.CMD_WRITE, 0, data.length, data).error()).isZero();
            assertThat(fixture.fs().calls(Op.FDATASYNC)).as("fdatasync before the FUA reply").isPositive();
            assertThat(client.read(0, data.length).data()).isEqualTo(data);
        }
    }

    @Test
    void flushSyncsAndReportsAFailedSyncAsEio() throws IOException {
        try (RawNbdClient client = fixture.transmission(true, false)) {
            assertThat(client.write(0, pattern(4096, 10)).error()).isZero();
            fixture.fs().resetCounts();
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
            assertThat(fixture.fs().calls(Op.FDATASYNC)).isPositive();

            fixture.fs().failNext(Op.FDATASYNC, Errno.EIO);
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isEqualTo(Wire.EIO);
            assertThat(client.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
        }
    }

    @Test
    void flushOnOneConnectionCoversWritesAcknowledgedOnAnother() throws IOException {
        byte[] data = pattern(256 * KIB, 11);
        try (RawNbdClient a = fixture.transmission(false, false);
             RawNbdClient b = fixture.transmission(true, false)) {
            assertThat(a.transmissionFlags() & Wire.TFLAG_CAN_MULTI_CONN).isNotZero();
            assertThat(b.transmissionFlags() & Wire.TFLAG_CAN_MULTI_CONN).isNotZero();

            assertThat(a.write(8 * MIB, data).error()).isZero();
            fixture.fs().resetCounts();
            assertThat(b.command(Wire.CMD_FLUSH, 0, 0, 0).error()).isZero();
            assertThat(fixture.fs().calls(Op.FDATASYNC)).as("B's flush synced the shared file").isPositive();

            assertThat(a.read(8 * MIB, data.length).data()).isEqualTo(data);
            assertThat(b.read(8 * MIB, data.length).data()).isEqualTo(data);
        }
    }
}
