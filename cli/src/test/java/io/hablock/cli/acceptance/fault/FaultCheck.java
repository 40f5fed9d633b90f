package io.hablock.cli.acceptance.fault;

import io.hablock.cluster.model.Versioned;
import io.hablock.cluster.model.VolumeRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The fault-injection checker. Starts ZooKeeper and N nodes in network namespaces, creates a
 * 3-copy volume, keeps writing versioned blocks through its owner, and injects faults one at a
 * time ({@link Fault}: kills, link cuts, SIGSTOP pauses, ZooKeeper-only cuts, kills at the end
 * of a rebuild): after each it reads everything back through the current owner, probes the old
 * owner (it must refuse writes, and must not answer reads with old data), runs
 * {@code volume verify}, restores the node (restart, heal, SIGCONT) and checks again.
 *
 * <pre>
 * java -cp hablock.jar:test-classes io.hablock.cli.acceptance.fault.FaultCheck --dir DIR [--cycles N]
 *     [--faults kill-owner,pause-owner,...] [--order random|sequence] [--seed S] [--session-timeout-ms 5000]
 *     [--race] [--test-delay STEP=DURATION[xCOUNT]]...
 * java ... FaultCheck --cleanup DIR      # removes what a killed run left (processes, namespaces)
 * </pre>
 * Run as root. Exit 0 when nothing was lost, no read went back in time, no old owner accepted a
 * write or answered a read with old data, no epoch had two owners and every verify passed.
 */
public final class FaultCheck {
    static final String VOLUME = "fc";
    private static final int NODES = 3;
    private static final int BLOCKS = 1024;
    /** The block the old-owner probes write: outside the checked range. */
    static final int BLOCKS_FOR_PROBE = BLOCKS;

    private final Options o;
    private final Testbed bed;
    private final Hosts hosts;
    private final Report report = new Report();
    private final Random random;
    private ClusterView view;
    private Writers writer;
    private Ledger ledger;

    private FaultCheck(Options o) {
        this.o = o;
        this.bed = new Testbed(o.dir, o.prefix, o.subnet);
        this.hosts = new Hosts(bed, System.getProperty("java.class.path"), NODES, Duration.ofMillis(o.sessionTimeoutMs),
                o.nodeDelays());
        this.random = new Random(o.seed);
    }

    private static final String USAGE = "usage: FaultCheck --dir DIR [--cycles N] [--faults KIND,...] [--order random|sequence] "
            + "[--seed S] [--session-timeout-ms MS] [--subnet A.B.C] [--writers N (default 4)] [--light] [--race] "
            + "[--test-delay STEP=DURATION[xCOUNT]]...\n       FaultCheck --cleanup DIR\nkinds (default: all): "
            + String.join(", ", Fault.labels()) + "\n(as root; see bench/README.md)";

    /** How long a node holds at a rebuild step when a fault kills the owner there (or in --race). */
    private static final String REBUILD_STEP_DELAY = "3s";
    /** --race: every node holds at these steps, so the races around a rebuild happen on every rebuild. */
    private static final List<String> RACE_DELAYS = List.of("agent.pass-with-rebuild=2s",
            "rebuild.before-promote=" + REBUILD_STEP_DELAY, "rebuild.after-promote=" + REBUILD_STEP_DELAY);

    /** Command-line options. */
    static final class Options {
        Path dir;
        int cycles = 5;
        List<Fault> faults = List.of(Fault.values());
        boolean sequence;
        long seed = System.nanoTime();
        long sessionTimeoutMs = 5000;
        int writers = 4;
        /** Verify only once the node is back (not also right after the fault): a shorter run. */
        boolean light;
        /** Every node started with {@link #RACE_DELAYS}. */
        boolean race;
        /** Further --test-delay items for every node. */
        List<String> testDelays = new ArrayList<>();
        String prefix;
        String subnet = "10.99.0";
        boolean inside;
        Path cleanup;
        List<String> raw;

        static Options parse(String[] args) {
            Options o = new Options();
            o.raw = List.of(args);
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--dir" -> o.dir = Path.of(args[++i]).toAbsolutePath();
                    case "--cycles" -> o.cycles = Integer.parseInt(args[++i]);
                    case "--faults" -> o.faults = Fault.parseList(args[++i]);
                    case "--order" -> o.sequence = args[++i].equals("sequence");
                    case "--seed" -> o.seed = Long.parseLong(args[++i]);
                    case "--session-timeout-ms" -> o.sessionTimeoutMs = Long.parseLong(args[++i]);
                    case "--prefix" -> o.prefix = args[++i];
                    case "--writers" -> o.writers = Integer.parseInt(args[++i]);
                    case "--light" -> o.light = true;
                    case "--race" -> o.race = true;
                    case "--test-delay" -> o.testDelays.add(args[++i]);
                    case "--subnet" -> o.subnet = args[++i];
                    case "--inside" -> o.inside = true;
                    case "--cleanup" -> o.cleanup = Path.of(args[++i]).toAbsolutePath();
                    case "-h", "--help" -> throw new IllegalArgumentException(USAGE);
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            if (o.cleanup == null && o.dir == null) {
                throw new IllegalArgumentException("--dir DIR is required");
            }
            if (o.prefix == null) {
                o.prefix = "fc" + Long.toHexString(ProcessHandle.current().pid());
            }
            return o;
        }

        /**
         * The --test-delay items every node is started with: --race's, the steps at which the
         * chosen faults kill an owner, then the ones given; one per step, the last one wins.
         */
        List<String> nodeDelays() {
            Map<String, String> byStep = new LinkedHashMap<>();
            List<String> all = new ArrayList<>(race ? RACE_DELAYS : List.of());
            faults.stream().map(Fault::rebuildStep).filter(Objects::nonNull).distinct()
                    .forEach(step -> all.add(step + "=" + REBUILD_STEP_DELAY));
            all.addAll(testDelays);
            all.forEach(d -> byStep.put(d.substring(0, Math.max(0, d.indexOf('='))), d));
            return List.copyOf(byStep.values());
        }
    }

    /** The last line of the output starts with it, followed by the summary as JSON. */
    public static final String SUMMARY_PREFIX = Report.SUMMARY_PREFIX;

    /** The command line that runs the checker on DIR with {@code args}, in a JVM of its own. */
    public static List<String> command(Path dir, List<String> args) {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), FaultCheck.class.getName(),
                "--dir", dir.toString()));
        argv.addAll(args);
        return argv;
    }

    /** Removes whatever a run on DIR left behind: its processes and namespaces. */
    public static void cleanup(Path dir) {
        Testbed.teardown(dir.toAbsolutePath());
    }

    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("faultcheck: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (o.cleanup != null) {
            Testbed.teardown(o.cleanup);
            return;
        }
        System.exit(o.inside ? new FaultCheck(o).runInside() : outside(o));
    }

    /**
     * In the root namespace: builds the network, runs the checker again inside the client
     * namespace, and tears everything down however that ends.
     */
    private static int outside(Options o) throws IOException, InterruptedException {
        Files.createDirectories(o.dir);
        Testbed bed = new Testbed(o.dir, o.prefix, o.subnet);
        Thread cleanup = new Thread(() -> Testbed.teardown(o.dir));
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            bed.createNetwork(NODES);
            List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", bed.clientNs(),
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                    "-cp", System.getProperty("java.class.path"), FaultCheck.class.getName(), "--inside",
                    "--prefix", o.prefix, "--seed", String.valueOf(o.seed)));
            argv.addAll(o.raw.stream().filter(a -> !a.equals("--inside")).toList());
            Process inner = new ProcessBuilder(argv).inheritIO().start();
            Files.writeString(o.dir.resolve(Testbed.STATE_FILE), "pid " + inner.pid() + "\n", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.APPEND);
            return inner.waitFor();
        } finally {
            Testbed.teardown(o.dir);
            Runtime.getRuntime().removeShutdownHook(cleanup);
        }
    }

    private int runInside() throws Exception {
        say("faultcheck: seed " + o.seed + ", " + o.cycles + " fault(s) from " + o.faults.stream().map(Fault::label).toList()
                + ", session timeout " + o.sessionTimeoutMs + " ms, logs in " + o.dir);
        if (!o.nodeDelays().isEmpty()) {
            say("faultcheck: nodes run with --test-delay " + String.join(" --test-delay ", o.nodeDelays()));
        }
        try {
            hosts.startZooKeeper();
            for (int k = 1; k <= NODES; k++) {
                hosts.start(k);
            }
            view = new ClusterView(bed.zkAddress(), VOLUME);
            await("all nodes live", Duration.ofSeconds(90), () -> view.live().size() == NODES);
            cli("volume", "create", VOLUME, "--size", "64M", "--copies", "3");
            await("the volume served with 3 copies in sync", Duration.ofSeconds(60), () -> view.healthy(NODES));
            ledger = new Ledger(BLOCKS);
            writer = new Writers(view, ledger, VOLUME, o.writers);
            writer.start();
            await("first writes", Duration.ofSeconds(30), () -> writer.acks() > 100);
            for (int cycle = 1; cycle <= o.cycles; cycle++) {
                Fault f = o.sequence ? o.faults.get((cycle - 1) % o.faults.size()) : o.faults.get(random.nextInt(o.faults.size()));
                report.add(new Cycle(this, cycle, f).run());
            }
            writer.close();
            report.writes(writer.acks(), writer.errors());
            finalChecks();
        } catch (Exception | AssertionError e) {
            report.problem("run aborted: " + e);
            e.printStackTrace();
        } finally {
            if (writer != null) {
                writer.close();
                report.writes(writer.acks(), writer.errors());
            }
            if (view != null) {
                epochChecks();
                view.close();
            }
            hosts.stopAll();
        }
        say(report.render());
        return report.passed() ? 0 : 1;
    }

    private void finalChecks() {
        Writer.ReadBack rb = new Writer(view, ledger, VOLUME, 0, 1).readBack();
        say("final read-back through " + rb.owner() + ": " + rb.blocks() + " blocks, lost " + rb.count(Ledger.Verdict.LOST)
                + ", stale " + rb.count(Ledger.Verdict.STALE) + ", corrupt " + rb.count(Ledger.Verdict.CORRUPT));
        rb.findings().stream().limit(20).forEach(f -> say("  " + f));
        if (!rb.findings().isEmpty()) {
            report.problem("final read-back: " + rb.findings().size() + " bad block(s), first " + rb.findings().get(0));
        }
        if (rb.blocks() < ledger.blocks()) {
            report.problem("final read-back: the volume was not available (" + rb.blocks() + " of " + ledger.blocks()
                    + " blocks read through " + rb.owner() + ")");
        }
        boolean ok = true;
        try {
            for (Versioned<VolumeRecord> v : view.client().volumes()) {
                ok &= verify(v.value().name());
            }
        } catch (Exception e) {
            report.problem("cannot list volumes: " + e);
            ok = false;
        }
        report.finalVerify(ok);
    }

    /** What the epochs seen tell; also after an aborted run. */
    private void epochChecks() {
        // Failovers are counted from the epochs, not from the event log, which keeps only the
        // last events. The epoch may go up more than once per fault (a node whose session
        // expired takes its volume again at a new epoch, moves and drains raise it too): only
        // two owners at one epoch is wrong.
        Map<Long, String> epochs = view.ownerOfEpoch();
        say("owners by epoch (as seen): " + epochs + "; " + Math.max(0, epochs.size() - 1) + " epoch change(s), the owner "
                + "changed " + view.ownerChanges() + " time(s)");
        if (!view.epochConflicts().isEmpty()) {
            report.problem("epochs with two owners: " + view.epochConflicts());
        }
        report.epochs(Math.max(0, epochs.size() - 1), view.ownerChanges(), view.epochConflicts().size());
    }

    // ---- helpers used by Cycle ----

    boolean light() {
        return o.light;
    }

    ClusterView view() {
        return view;
    }

    Writers writer() {
        return writer;
    }

    Ledger ledger() {
        return ledger;
    }

    Hosts hosts() {
        return hosts;
    }

    Random random() {
        return random;
    }

    /** {@code hablock volume verify NAME}: exit 0 when the in-sync copies are identical. */
    boolean verify(String volume) {
        Result r = cli("volume", "verify", volume);
        say("  verify " + volume + ": " + (r.exit == 0 ? "ok" : "FAILED") + " (" + r.out.lines()
                .filter(l -> l.startsWith("comparing") || l.contains("differs") || l.startsWith("ok") || l.contains("MISMATCH"))
                .limit(6).reduce((a, b) -> a + "; " + b).orElse(r.out.strip()) + ")");
        return r.exit == 0;
    }

    record Result(int exit, String out) {
    }

    Result cli(String... args) {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), "io.hablock.cli.Main"));
        argv.addAll(List.of(args));
        argv.addAll(List.of("--zk", bed.zkAddress()));
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, out + "\n(timed out)");
            }
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            return new Result(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }

    /** Polls {@code condition} every 50 ms; false after {@code limit}. */
    static boolean poll(Duration limit, BooleanSupplier condition) {
        return poll(limit, condition, 50);
    }

    static boolean poll(Duration limit, BooleanSupplier condition, long everyMs) {
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            if (condition.getAsBoolean()) {
                return true;
            }
            sleep(everyMs);
        }
        return condition.getAsBoolean();
    }

    void await(String what, Duration limit, BooleanSupplier condition) {
        if (!poll(limit, condition)) {
            throw new IllegalStateException("gave up waiting " + limit.toSeconds() + " s for " + what + "; volume "
                    + view.record().map(Object::toString).orElse("?") + ", live " + view.names().values());
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
