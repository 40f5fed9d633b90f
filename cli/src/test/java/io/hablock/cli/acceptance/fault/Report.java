package io.hablock.cli.acceptance.fault;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a run found, fault by fault, and the summary at the end. The last line of the output
 * is {@code FAULTCHECK-SUMMARY {json}}, for the test to read.
 */
final class Report {
    static final String SUMMARY_PREFIX = "FAULTCHECK-SUMMARY ";

    /** One injected fault and what followed it; {@code oldOwnerReads}: the reads sent to the deposed owner. */
    record FaultResult(int cycle, Fault fault, String victim, boolean victimWasController, String oldOwner,
            String newOwner, long newEpoch, double failoverSeconds, long lost, long stale, long corrupt,
            long doubleOwners, boolean verified, OldOwnerReads.Tally oldOwnerReads, List<String> problems) {
    }

    private final List<FaultResult> results = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private long acknowledgedWrites;
    private long writeErrors;
    private boolean finalVerifyOk = true;
    private long epochChanges;
    private long ownerChanges;
    private long epochsWithTwoOwners;

    synchronized void add(FaultResult r) {
        results.add(r);
        r.problems().forEach(p -> problems.add("fault " + r.cycle() + " (" + r.fault().label() + "): " + p));
    }

    synchronized void problem(String p) {
        problems.add(p);
    }

    synchronized void writes(long acks, long errors) {
        this.acknowledgedWrites = acks;
        this.writeErrors = errors;
    }

    synchronized void finalVerify(boolean ok) {
        finalVerifyOk = ok;
    }

    /**
     * What the epochs seen in the catalogue tell: how often the epoch went up, how often the
     * owner changed with it (the failovers and moves), how many epochs had two owners.
     */
    synchronized void epochs(long changes, long ownerChanges, long twoOwners) {
        this.epochChanges = changes;
        this.ownerChanges = ownerChanges;
        this.epochsWithTwoOwners = twoOwners;
    }

    synchronized Map<String, Object> summary() {
        Map<String, Object> s = new LinkedHashMap<>();
        Map<String, Integer> byKind = new TreeMap<>();
        results.forEach(r -> byKind.merge(r.fault().label(), 1, Integer::sum));
        s.put("faults", results.size());
        s.put("faultsByKind", byKind);
        s.put("acknowledgedWrites", acknowledgedWrites);
        s.put("writeErrors", writeErrors);
        s.put("lostWrites", results.stream().mapToLong(FaultResult::lost).sum());
        s.put("staleReads", results.stream().mapToLong(FaultResult::stale).sum());
        s.put("corruptBlocks", results.stream().mapToLong(r -> r.corrupt() + r.oldOwnerReads().corrupt()).sum());
        s.put("doubleOwners", results.stream().mapToLong(FaultResult::doubleOwners).sum());
        s.put("staleReadsFromOldOwner", results.stream().mapToLong(r -> r.oldOwnerReads().stale()).sum());
        Map<String, Long> reads = new LinkedHashMap<>();
        reads.put("sent", results.stream().mapToLong(r -> r.oldOwnerReads().sent()).sum());
        reads.put("answeredWithData", results.stream().mapToLong(r -> r.oldOwnerReads().withData()).sum());
        reads.put("nbdErrors", results.stream().mapToLong(r -> r.oldOwnerReads().errors()).sum());
        reads.put("closed", results.stream().mapToLong(r -> r.oldOwnerReads().closed()).sum());
        reads.put("unanswered", results.stream().mapToLong(r -> r.oldOwnerReads().unanswered()).sum());
        s.put("oldOwnerReads", reads);
        s.put("verifyFailures", results.stream().filter(r -> !r.verified()).count() + (finalVerifyOk ? 0 : 1));
        s.put("epochChanges", epochChanges);
        s.put("ownerChangesByEpoch", ownerChanges);
        s.put("epochsWithTwoOwners", epochsWithTwoOwners);
        List<Double> failovers = results.stream().filter(r -> r.fault().movesOwner() || !r.oldOwner().equals(r.newOwner()))
                .map(FaultResult::failoverSeconds).sorted().toList();
        List<Double> stalls = results.stream().filter(r -> !(r.fault().movesOwner() || !r.oldOwner().equals(r.newOwner())))
                .map(FaultResult::failoverSeconds).sorted().toList();
        s.put("failoverSeconds", stats(failovers));
        s.put("otherFaultStallSeconds", stats(stalls));
        s.put("problems", List.copyOf(problems));
        return s;
    }

    private static Map<String, Object> stats(List<Double> sorted) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", sorted.size());
        if (!sorted.isEmpty()) {
            m.put("min", round(sorted.get(0)));
            m.put("median", round(sorted.get(sorted.size() / 2)));
            m.put("max", round(sorted.get(sorted.size() - 1)));
        }
        return m;
    }

    private static double round(double d) {
        return Math.round(d * 100) / 100.0;
    }

    synchronized boolean passed() {
        Map<String, Object> s = summary();
        return (long) s.get("lostWrites") == 0 && (long) s.get("staleReads") == 0 && (long) s.get("corruptBlocks") == 0
                && (long) s.get("doubleOwners") == 0 && (long) s.get("staleReadsFromOldOwner") == 0
                && (long) s.get("epochsWithTwoOwners") == 0 && (long) s.get("verifyFailures") == 0 && problems.isEmpty();
    }

    /** The human summary, then the machine line. */
    synchronized String render() {
        Map<String, Object> s = summary();
        StringBuilder b = new StringBuilder("\n=== fault-injection summary ===\n");
        b.append("faults: ").append(s.get("faults")).append(' ').append(s.get("faultsByKind")).append('\n');
        b.append("acknowledged writes: ").append(s.get("acknowledgedWrites")).append(", write errors (retried): ")
                .append(s.get("writeErrors")).append('\n');
        b.append("acknowledged writes lost: ").append(s.get("lostWrites")).append('\n');
        b.append("stale reads after failover: ").append(s.get("staleReads")).append('\n');
        b.append("corrupt blocks: ").append(s.get("corruptBlocks")).append('\n');
        b.append("two owners accepting writes: ").append(s.get("doubleOwners")).append('\n');
        b.append("stale reads from an old owner (on connections opened before the fault): ")
                .append(s.get("staleReadsFromOldOwner")).append(", reads sent to old owners ").append(s.get("oldOwnerReads"))
                .append('\n');
        b.append("epochs: ").append(s.get("epochChanges")).append(" change(s) seen, the owner changed ")
                .append(s.get("ownerChangesByEpoch")).append(" time(s), epochs with two owners: ")
                .append(s.get("epochsWithTwoOwners")).append('\n');
        b.append("volume verify failures: ").append(s.get("verifyFailures")).append('\n');
        b.append("failover time (s, fault -> first write acknowledged by the new owner): ").append(s.get("failoverSeconds"))
                .append('\n');
        b.append("write stall on other faults (s): ").append(s.get("otherFaultStallSeconds")).append('\n');
        if (!problems.isEmpty()) {
            b.append("problems:\n");
            problems.forEach(p -> b.append("  - ").append(p).append('\n'));
        }
        b.append(passed() ? "RESULT: PASS" : "RESULT: FAIL").append('\n');
        try {
            b.append(SUMMARY_PREFIX).append(new ObjectMapper().writeValueAsString(s));
        } catch (Exception e) {
            b.append(SUMMARY_PREFIX).append("{}");
        }
        return b.toString();
    }
}
