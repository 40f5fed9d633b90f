package io.hablock.cli.acceptance;

import static io.hablock.cli.acceptance.support.QemuIo.read;
import static io.hablock.cli.acceptance.support.QemuIo.write;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.SharedNodeTest;
import io.hablock.cli.acceptance.support.NbdMap;
import io.hablock.cli.acceptance.support.NbdMap.Extent;
import io.hablock.cli.acceptance.support.QemuIo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** nbdinfo sees the right size, every capability we promise, and an exact allocation map. */
class NbdInfoTest extends SharedNodeTest {
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final long GIB = 1024 * MIB;
    private static final String DATA = "data";
    private static final String HOLE = "hole,zero";


    private static CommandResult nbdinfo(String... args) {
        List<String> argv = new ArrayList<>(List.of("nbdinfo"));
        argv.addAll(List.of(args));
        return Command.of(argv).timeout(Duration.ofSeconds(30)).run();
    }

    @Test
    void reportsTheExactSize() {
        long size = 3 * GIB + 512; // not a multiple of anything larger than a sector
        String uri = node.createVolume("sized", size);

        CommandResult r = nbdinfo("--size", uri);

        assertThat(r.exitCode()).as(r.describe()).isZero();
        assertThat(r.stdout().strip()).as(r.describe()).isEqualTo(Long.toString(size));
    }

    @ParameterizedTest
    @ValueSource(strings = {"flush", "fua", "trim", "zero", "fast-zero", "multi-conn", "cache"})
    void advertisesCapability(String capability) {
        String uri = node.createVolume("can-" + capability, 64 * MIB);

        CommandResult r = nbdinfo("--can", capability, uri);

        assertThat(r.exitCode()).as("nbdinfo --can %s%s", capability, r.describe()).isZero();
    }

    @Test
    void isNotReadOnlySoTheCapabilityChecksCanFail() {
        CommandResult r = nbdinfo("--is", "read-only", node.createVolume("rw", 64 * MIB));

        assertThat(r.exitCode()).as("nbdinfo --is read-only exits 2 for false%s", r.describe()).isEqualTo(2);
    }

    @Test
    void mapShowsDataAndHolesAfterWritesAndAfterATrim() {
        long size = 64 * MIB;
        String uri = node.createVolume("mapped", size);
        assertThat(map(uri)).containsExactly(new Extent(0, size, HOLE));

        QemuIo.verify(uri, List.of(write(0x11, 0, MIB), write(0x22, 8 * MIB, MIB), write(0x33, size - 4 * KIB, 4 * KIB)));

        assertThat(map(uri)).containsExactly(
                new Extent(0, MIB, DATA),
                new Extent(MIB, 7 * MIB, HOLE),
                new Extent(8 * MIB, MIB, DATA),
                new Extent(9 * MIB, size - 4 * KIB - 9 * MIB, HOLE),
                new Extent(size - 4 * KIB, 4 * KIB, DATA));

        QemuIo.verify(uri, List.of("discard " + (8 * MIB + 256 * KIB) + " " + 512 * KIB));

        assertThat(map(uri)).containsExactly(
                new Extent(0, MIB, DATA),
                new Extent(MIB, 7 * MIB, HOLE),
                new Extent(8 * MIB, 256 * KIB, DATA),
                new Extent(8 * MIB + 256 * KIB, 512 * KIB, HOLE),
                new Extent(8 * MIB + 768 * KIB, 256 * KIB, DATA),
                new Extent(9 * MIB, size - 4 * KIB - 9 * MIB, HOLE),
                new Extent(size - 4 * KIB, 4 * KIB, DATA));
        QemuIo.verify(uri, List.of(read(0x22, 8 * MIB, 256 * KIB), read(0, 8 * MIB + 256 * KIB, 512 * KIB),
                read(0x22, 8 * MIB + 768 * KIB, 256 * KIB), read(0x11, 0, MIB), read(0x33, size - 4 * KIB, 4 * KIB)));
    }

    private static List<Extent> map(String uri) {
        CommandResult r = nbdinfo("--map", uri);
        assertThat(r.exitCode()).as(r.describe()).isZero();
        return NbdMap.parse(r.stdout());
    }
}
