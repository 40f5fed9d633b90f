package io.hablock.cli.acceptance;

import static io.hablock.cli.acceptance.support.QemuIo.read;
import static io.hablock.cli.acceptance.support.QemuIo.write;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.SharedNodeTest;
import io.hablock.cli.acceptance.support.QemuIo;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** qemu-io writes patterns all over an 8 GiB sparse volume and reads them back, checked by qemu-io. */
class QemuIoPatternTest extends SharedNodeTest {
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final long GIB = 1024 * MIB;
    private static final long SIZE = 8 * GIB;

    /** Written areas: the first block, across 4 GiB (32-bit overflow), unaligned, large, the last block. */
    private static final List<Region> WRITTEN = List.of(
            new Region(0xab, 0, MIB),
            new Region(0x5c, 4 * GIB - 64 * KIB, 128 * KIB),
            new Region(0x3e, 5 * GIB + 12_345 * 512, 7 * 512),
            new Region(0xc7, 6 * GIB + 4 * KIB, 4 * MIB),
            new Region(0xef, SIZE - 4 * KIB, 4 * KIB));

    /** Never written: must read as zeros. */
    private static final List<Region> UNWRITTEN = List.of(
            new Region(0, MIB, MIB),
            new Region(0, 2 * GIB, MIB),
            new Region(0, 4 * GIB + 64 * KIB, 64 * KIB),
            new Region(0, 7 * GIB, 2 * MIB),
            new Region(0, SIZE - MIB, MIB - 4 * KIB));

    private record Region(int pattern, long offset, long length) {
    }

    static String uri;

    @BeforeAll
    static void createVolume() {
        uri = node.createVolume("big", SIZE);
    }

    @Test
    void patternsWrittenAcrossEightGibReadBackOnTheSameAndANewConnection() {
        List<String> writeThenRead = new ArrayList<>();
        for (Region r : WRITTEN) {
            writeThenRead.add(write(r.pattern(), r.offset(), r.length()));
            writeThenRead.add(read(r.pattern(), r.offset(), r.length()));
        }
        CommandResult first = QemuIo.verify(uri, writeThenRead);
        assertThat(first.stdout()).as("qemu-io output%s", first.describe())
                .contains("wrote 4096/4096 bytes at offset " + (SIZE - 4 * KIB));

        QemuIo.verify(uri, WRITTEN.stream().map(r -> read(r.pattern(), r.offset(), r.length())).toList());
    }

    @Test
    void neverWrittenSpaceReadsAsZeros() {
        QemuIo.verify(uri, UNWRITTEN.stream().map(r -> read(0, r.offset(), r.length())).toList());
    }

    @Test
    void aWrongPatternIsReportedSoTheChecksAboveCanFail() {
        Region zeros = UNWRITTEN.get(1);
        CommandResult r = QemuIo.run(uri, List.of(read(0xff, zeros.offset(), zeros.length())));

        assertThat(r.exitCode()).as("qemu-io exit status%s", r.describe()).isNotZero();
        assertThat(r.stdout() + r.stderr()).as("qemu-io output%s", r.describe()).contains(QemuIo.MISMATCH);
    }
}
