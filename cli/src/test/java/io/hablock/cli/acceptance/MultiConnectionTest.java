package io.hablock.cli.acceptance;

import static io.hablock.cli.acceptance.support.QemuIo.read;
import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.InProcessNode;
import io.hablock.cli.acceptance.support.QemuIo;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two connections to one export (what CAN_MULTI_CONN promises): a write acknowledged on one,
 * then a FLUSH on the other, reads back on both and from a third, new connection.
 */
class MultiConnectionTest {
    private static final long OFFSET = 3L * 1024 * 1024 * 1024 + 4096;
    private static final int LENGTH = 256 * 1024;

    /** Runs in nbdsh with the URI, offset and length as variables; prints one line per fact. */
    private static final String SCRIPT = """
            a = nbd.NBD()
            a.connect_uri(uri)
            b = nbd.NBD()
            b.connect_uri(uri)
            print("multi-conn", a.can_multi_conn(), b.can_multi_conn())
            print("b before", b.pread(length, offset) == bytes(length))
            data = bytes([0x5a]) * length
            a.pwrite(data, offset)
            b.flush()
            print("a after", a.pread(length, offset) == data)
            print("b after", b.pread(length, offset) == data)
            a.shutdown()
            b.shutdown()
            """;

    @TempDir
    Path dir;

    @Test
    void writeOnOneConnectionFlushOnTheOtherIsSeenByBoth() throws IOException {
        try (InProcessNode node = InProcessNode.start(dir.resolve("data"))) {
            String uri = node.createVolume("shared", 4L * 1024 * 1024 * 1024);

            CommandResult r = Command.of("nbdsh", "-n",
                            "-c", "uri = '" + uri + "'; offset = " + OFFSET + "; length = " + LENGTH,
                            "-c", SCRIPT)
                    .timeout(Duration.ofSeconds(60)).run();

            assertThat(r.exitCode()).as("nbdsh exit status%s", r.describe()).isZero();
            assertThat(r.stdout().lines()).as(r.describe()).containsExactly(
                    "multi-conn True True", "b before True", "a after True", "b after True");
            QemuIo.verify(uri, List.of(read(0x5a, OFFSET, LENGTH)));
        }
    }
}
