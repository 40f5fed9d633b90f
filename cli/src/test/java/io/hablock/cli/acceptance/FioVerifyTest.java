package io.hablock.cli.acceptance;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.FioResult;
import io.hablock.cli.acceptance.support.SharedNodeTest;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** fio's nbd engine writes 256 MiB with many requests in flight and verifies every block it wrote. */
class FioVerifyTest extends SharedNodeTest {
    private static final long SIZE = 256L * 1024 * 1024;


    @Test
    void randomFourKibWritesAtQueueDepth32Verify() {
        fioWritesAndVerifies(node.createVolume("rand", SIZE), "randwrite", "4k", 32);
    }

    @Test
    void sequentialOneMibWritesAtQueueDepth8Verify() {
        fioWritesAndVerifies(node.createVolume("seq", SIZE), "write", "1M", 8);
    }

    private static void fioWritesAndVerifies(String uri, String rw, String bs, int iodepth) {
        CommandResult r = Command.of("fio", "--name=v", "--ioengine=nbd", "--uri=" + uri, "--rw=" + rw, "--bs=" + bs,
                        "--iodepth=" + iodepth, "--size=" + SIZE, "--verify=crc32c", "--verify_state_save=0",
                        "--output-format=json")
                .timeout(Duration.ofSeconds(180)).run();

        assertThat(r.exitCode()).as("fio exit status%s", r.describe()).isZero();
        FioResult fio = FioResult.parse(r.stdout());
        assertThat(fio.error()).as("fio job error%s", r.describe()).isZero();
        assertThat(fio.bytesWritten()).as("bytes written%s", r.describe()).isEqualTo(SIZE);
        assertThat(fio.bytesRead()).as("bytes read back to verify%s", r.describe()).isEqualTo(SIZE);
    }
}
