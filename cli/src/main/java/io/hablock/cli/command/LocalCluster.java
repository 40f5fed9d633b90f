package io.hablock.cli.command;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * What {@code cluster up} started, kept in {@code DIR/cluster.json} so that {@code cluster down}
 * stops exactly those processes.
 *
 * @param zk the ZooKeeper connect string
 * @param processes ZooKeeper first, then the nodes
 */
record LocalCluster(String zk, List<Proc> processes) {
    static final String FILE = "cluster.json";
    static final String DEFAULT_DIR = "/tmp/hablock-cluster";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** One started process: name ({@code zookeeper}, {@code v1}), pid, its log file. */
    record Proc(String name, long pid, long startMillis, String log) {
        /** The live process, if it is still the one we started (pid reuse is checked by start time). */
        Optional<ProcessHandle> handle() {
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .filter(h -> h.info().startInstant().map(i -> Math.abs(i.toEpochMilli() - startMillis) < 2000).orElse(true));
        }
    }

    static Optional<LocalCluster> read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        return Optional.of(JSON.readValue(file.toFile(), LocalCluster.class));
    }

    void write(Path dir) throws IOException {
        Path tmp = dir.resolve(FILE + ".tmp");
        JSON.writeValue(tmp.toFile(), this);
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static void delete(Path dir) throws IOException {
        Files.deleteIfExists(dir.resolve(FILE));
    }
}
