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

    /** One started process: name ({@code zookeeper}, {@code v1}), pid, its log file, its command line. */
    record Proc(String name, long pid, long startMillis, String log, List<String> command) {
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

    /** Starts {@code command} detached, its output appended to {@code log}. */
    static Proc launch(String name, List<String> command, Path log) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        long startMillis = p.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(System.currentTimeMillis());
        return new Proc(name, p.pid(), startMillis, log.toString(), command);
    }

    /** This cluster with {@code proc} in place of the process of the same name. */
    LocalCluster with(Proc proc) {
        List<Proc> next = new java.util.ArrayList<>(processes);
        next.replaceAll(p -> p.name().equals(proc.name()) ? proc : p);
        return new LocalCluster(zk, next);
    }

    static void delete(Path dir) throws IOException {
        Files.deleteIfExists(dir.resolve(FILE));
    }
}
