package io.hablock.cli.acceptance.fault;

import static io.hablock.cli.acceptance.fault.FaultCheck.say;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One fault and its aftermath: inject it while the writer runs, measure until the first write
 * is acknowledged again (by the new owner when the owner was hit), probe the old owner, read
 * everything back, verify; then restart or heal the node, wait until every copy is in sync
 * again, probe and read back once more, verify.
 */
final class Cycle {
    private static final Duration FAILOVER_LIMIT = Duration.ofSeconds(60);
    private static final Duration RESTORE_LIMIT = Duration.ofSeconds(120);

    private final FaultCheck run;
    private final int number;
    private final Fault fault;
    private final List<String> problems = new ArrayList<>();
    private long lost;
    private long stale;
    private long corrupt;
    private long doubleOwners;
    private boolean verified = true;
    private boolean lateSuccessCounted;

    Cycle(FaultCheck run, int number, Fault fault) {
        this.run = run;
        this.number = number;
        this.fault = fault;
    }

    Report.FaultResult run() {
        ClusterView view = run.view();
        run.await("a healthy volume before fault " + number, RESTORE_LIMIT, () -> view.healthy(run.hosts().count()));
        ClusterView.Owner owner = view.served().orElseThrow();
        Map<String, String> names = view.names();
        String controllerId = view.controllerId().orElseThrow();
        String victimId = switch (fault) {
            case KILL_OWNER, CUT_OWNER -> owner.id();
            case KILL_CONTROLLER -> controllerId;
            case KILL_COPY, CUT_COPY -> view.record().orElseThrow().replicas().keySet().stream()
                    .filter(id -> !id.equals(owner.id())).toList().get(run.random().nextInt(2));
        };
        String victim = names.get(victimId);
        int k = Hosts.number(victim);
        boolean ownerHit = victimId.equals(owner.id());
        NbdConnection standby = openQuietly(owner);

        long t0 = System.nanoTime();
        if (fault.isCut()) {
            run.hosts().cut(k);
        } else {
            run.hosts().kill(k);
        }
        long injected = System.nanoTime();
        String notBy = ownerHit ? owner.id() : null;
        boolean resumed = FaultCheck.poll(FAILOVER_LIMIT, () -> run.writer().ackedAfter(injected, notBy) > 0, 10);
        double seconds = (run.writer().ackedAfter(injected, notBy) - t0) / 1e9;
        if (!resumed) {
            problems.add("no write acknowledged within " + FAILOVER_LIMIT.toSeconds() + " s (last error: "
                    + run.writer().lastError() + ")");
            seconds = FAILOVER_LIMIT.toSeconds();
        }
        ClusterView.Owner now = view.served().orElse(owner);
        String newOwner = names.getOrDefault(now.id(), now.id());
        say(String.format("fault %d %s %s%s: %s %.2f s -> owner %s epoch %d", number, fault.label(), victim,
                victimId.equals(controllerId) && fault != Fault.KILL_CONTROLLER ? " (the controller)"
                        : ownerHit && fault == Fault.KILL_CONTROLLER ? " (the owner)" : "",
                ownerHit ? "failover" : "writes stalled", seconds, newOwner, now.epoch()));

        if (!now.id().equals(owner.id())) {
            probeOldOwner(standby, owner, k, "after failover");
        }
        checkData("after the fault", !run.light());

        long r0 = System.nanoTime();
        if (fault.isCut()) {
            run.hosts().heal(k);
        } else {
            run.hosts().start(k);
        }
        boolean restored = FaultCheck.poll(RESTORE_LIMIT, () -> view.healthy(run.hosts().count()));
        if (!restored) {
            problems.add("not back to 3 in-sync copies within " + RESTORE_LIMIT.toSeconds() + " s: "
                    + view.record().map(Object::toString).orElse("?"));
        }
        say(String.format("  %s %s; %s in %.1f s", fault.isCut() ? "healed" : "restarted", victim,
                restored ? "3 copies in sync again" : "NOT restored", (System.nanoTime() - r0) / 1e9));
        if (!view.served().map(o -> o.id().equals(owner.id())).orElse(false)) {
            probeOldOwner(standby, owner, k, "after " + (fault.isCut() ? "heal" : "restart"));
        }
        if (standby != null) {
            standby.close();
        }
        checkData("after " + (fault.isCut() ? "heal" : "restart"), true);
        return new Report.FaultResult(number, fault, victim, victimId.equals(controllerId), names.get(owner.id()),
                newOwner, now.epoch(), seconds, lost, stale, corrupt, doubleOwners, verified, problems);
    }

    /** Reads every block back through the current owner and verifies the copies, writes paused. */
    private void checkData(String when, boolean verify) {
        Writer.ReadBack rb = run.writer().readBack();
        long l = rb.count(Ledger.Verdict.LOST);
        long s = rb.count(Ledger.Verdict.STALE);
        long c = rb.count(Ledger.Verdict.CORRUPT);
        lost += l;
        stale += s;
        corrupt += c;
        say(String.format("  read back %s through %s: %d blocks, lost %d, stale %d, corrupt %d", when, rb.owner(),
                rb.blocks(), l, s, c));
        rb.findings().stream().limit(10).forEach(f -> say("    " + f));
        if (!rb.findings().isEmpty()) {
            problems.add("read-back " + when + ": " + rb.findings().size() + " bad block(s), first: " + rb.findings().get(0));
        }
        if (verify && !run.writer().whilePaused(() -> run.verify(FaultCheck.VOLUME))) {
            verified = false;
            problems.add("volume verify failed " + when);
        }
    }

    /**
     * The deposed owner must not accept a write: neither on the connection a client had open
     * before the fault, nor on a new one. The probe writes a block outside the checked range.
     */
    private void probeOldOwner(NbdConnection standby, ClusterView.Owner old, int k, String when) {
        long probeAt = (long) FaultCheck.BLOCKS_FOR_PROBE * Ledger.BLOCK;
        byte[] probe = Ledger.encode(FaultCheck.BLOCKS_FOR_PROBE, 0);
        List<String> refused = new ArrayList<>();
        if (standby != null) {
            String what = tryWrite(standby, probeAt, probe);
            if (standby.lateReplies().containsValue(0) && !lateSuccessCounted) {
                lateSuccessCounted = true;
                doubleOwners++;
                problems.add("the old owner " + old.name() + " acknowledged, late, a write it had been sent after the failover");
            }
            if (what == null) {
                doubleOwners++;
                problems.add("the old owner " + old.name() + " acknowledged a write on a connection opened before the fault, "
                        + when + " (the volume is owned by " + run.view().served().map(ClusterView.Owner::name).orElse("?")
                        + ")");
            } else {
                refused.add("old connection: " + what + (standby.lateReplies().isEmpty() ? ""
                        : ", late replies (handle=NBD error) " + standby.lateReplies()));
            }
        }
        if (run.hosts().alive(k) && !run.hosts().isCut(k)) {
            try (NbdConnection fresh = NbdConnection.open(old.host(), old.port(), FaultCheck.VOLUME, 2000)) {
                String what = tryWrite(fresh, probeAt, probe);
                if (what == null && !run.view().served().map(o -> o.id().equals(old.id())).orElse(false)) {
                    doubleOwners++;
                    problems.add("the old owner " + old.name() + " accepted a new connection and a write " + when);
                } else {
                    refused.add("new connection: write " + (what == null ? "accepted (it owns the volume again)" : what));
                }
            } catch (IOException e) {
                refused.add("new connection: " + e.getMessage());
            }
        }
        say("  old owner " + old.name() + " " + when + ": " + (refused.isEmpty() ? "unreachable" : String.join("; ", refused)));
    }

    /** Null when the write was acknowledged, otherwise how it failed. */
    private static String tryWrite(NbdConnection c, long offset, byte[] data) {
        long end = System.nanoTime() + 25_000_000_000L;
        try {
            c.write(offset, data, () -> System.nanoTime() > end);
            return null;
        } catch (IOException e) {
            return "refused (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")";
        }
    }

    private static NbdConnection openQuietly(ClusterView.Owner o) {
        try {
            return NbdConnection.open(o.host(), o.port(), FaultCheck.VOLUME, 2000);
        } catch (IOException e) {
            return null;
        }
    }
}
