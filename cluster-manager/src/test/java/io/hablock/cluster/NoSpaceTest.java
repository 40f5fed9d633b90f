package io.hablock.cluster;

import static io.hablock.cluster.TestCluster.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.hablock.cluster.TestCluster.NodeSpec;
import io.hablock.cluster.model.ReplicaState;
import io.hablock.cluster.model.VolumeRecord;
import io.hablock.nbd.client.NbdClient;
import io.hablock.nbd.client.NbdCommandException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A copy whose file system is full answers the owner NO_SPACE, and the client, here behind a
 * forwarding node, is told ENOSPC (it was told nothing: the owner took the copy out of sync as a
 * broken one and acknowledged the write). The copy stays in sync; the volume goes on serving.
 */
class NoSpaceTest {
    private static final String VOLUME = "full";

    @Test
    void aFullCopyMakesTheWriteEnospcThroughTheOwnerAndTheForwarder() throws Exception {
        try (TestCluster c = TestCluster.start(Duration.ofSeconds(2), 0, NodeSpec.of("a-owner"),
                NodeSpec.of("c-host").forwarding().noCopies())) {
            Path copyDir = c.dataDir("b-copy");
            Path image = copyDir.resolveSibling("b-copy.img");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(64 * MIB);
            }
            run("mkfs.ext4", "-F", "-q", image.toString());
            Files.createDirectories(copyDir);
            run("mount", "-o", "loop", image.toString(), copyDir.toString());
            try {
                ClusterNode copy = c.startNode(NodeSpec.of("b-copy"));
                try {
                    VolumeRecord v = c.admin().createVolume(VOLUME, 32 * MIB, 2, 2, Duration.ofSeconds(30));
                    assertThat(v.owner()).isEqualTo(c.byName("a-owner").nodeId());
                    byte[] data = new byte[(int) MIB];
                    Arrays.fill(data, (byte) 0x5a);
                    // Something else fills the copy's file system: 6 MiB stay free. (Before any write: a
                    // node looks at its free space at most 100 ms after its last look, and only what
                    // others take meanwhile may eat into the reserve.)
                    FileStore store = Files.getFileStore(copyDir);
                    run("fallocate", "-l", Long.toString(store.getUsableSpace() - 6 * MIB),
                            copyDir.resolve("filler").toString());
                    try (NbdClient nbd = TestCluster.connect(c.byName("c-host"), VOLUME, Duration.ofSeconds(10))) {
                        nbd.write(0, data);

                        NbdCommandException refused = null;
                        for (long off = MIB; off < 32 * MIB && refused == null; off += MIB) {
                            try {
                                nbd.write(off, data);
                            } catch (NbdCommandException e) {
                                refused = e;
                            }
                        }

                        assertThat(refused).as("a write refused for space").isNotNull();
                        assertThat(refused.errorName()).isEqualTo("ENOSPC");
                        assertThat(store.getUsableSpace()).as("bytes left free on the copy's file system").isPositive();
                        assertThat(c.record(VOLUME).replicas()).containsEntry(copy.nodeId(), ReplicaState.IN_SYNC);
                        byte[] back = new byte[(int) MIB];
                        nbd.read(0, back);
                        assertThat(back).isEqualTo(data);
                        nbd.write(0, back); // an overwrite of blocks the copy holds still fits
                    }
                } finally {
                    c.stop(copy);
                }
            } finally {
                run("umount", copyDir.toString());
            }
        }
    }

    private static void run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(argv)).redirectErrorStream(true).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", argv) + " did not finish within 60 s");
        }
        String out = new String(p.getInputStream().readAllBytes());
        if (p.exitValue() != 0) {
            fail(String.join(" ", argv) + " exited " + p.exitValue() + ": " + out);
        }
    }
}
