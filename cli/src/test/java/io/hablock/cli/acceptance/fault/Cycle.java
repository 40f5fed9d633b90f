package io.hablock.cli.acceptance.fault;

import static io.hablock.cli.acceptance.fault.FaultCheck.say;

import java.io.IOException;
import java.time.Duration;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One fault and its aftermath: inject it while the writer runs, measure until the first write
 * is acknowledged again (by the new owner when the owner was hit), probe the old owner (writes
 * and reads on connections opened before the fault), read everything back, verify; then
 * restore the node (restart, heal, SIGCONT, ZooKeeper traffic back), wait until every copy is
 * in sync again, probe and read back once more, verify. Whatever happens, every node is
 * restored before the cycle ends.
 */
final class Cycle {
    private static final Duration FAILOVER_LIMIT = Duration.ofSeconds(60);
    private static final Duration RESTORE_LIMIT = Duration.ofSeconds(120);
    /** A pause or a ZooKeeper cut lasts this much past the session timeout at least: the session expires. */
    private static final Duration PAST_SESSION = Duration.ofSeconds(3);
    /** Longest wait for blocks rewritten through the new owner before reading them from the old one. */
    private static final Duration REWRITES_LIMIT = Duration.ofSeconds(10);
    /** Longest wait for the old owner's answers to the reads sent to it. */
    private static final Duration ANSWERS_LIMIT = Duration.ofSeconds(15);

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
    /** Reads on a connection to the owner opened before the fault; null when the owner is not hit. */
    private OldOwnerReads reads;
    /** Node id to name, for every node (taken while all are live). */
    private Map<String, String> names = Map.of();

    Cycle(FaultCheck run, int number, Fault fault) {
        this.run = run;
        this.number = number;
        this.fault = fault;
    }

    Report.FaultResult run() {
        ClusterView view = run.view();
        Hosts hosts = run.hosts();
        run.await("a healthy volume before fault " + number, RESTORE_LIMIT, () -> view.healthy(hosts.count()));
        ClusterView.Owner owner = view.served().orElseThrow();
        names = view.names();
        String controllerId = view.controllerId().orElseThrow();
        String victimId = switch (fault.target()) {
            case OWNER -> owner.id();
            case CONTROLLER -> controllerId;
            case COPY -> otherCopy(owner);
        };
        String victim = names.get(victimId);
        int k = Hosts.number(victim);
        boolean ownerHit = victimId.equals(owner.id());
        int epochsBefore = view.epochsSeen();
        int ownerChangesBefore = view.ownerChanges();
        NbdConnection standby = openQuietly(owner);
        reads = ownerHit ? OldOwnerReads.open(owner, run.ledger()) : null;
        double seconds = 0;
        ClusterView.Owner now = owner;
        try {
            String before = fault.rebuildStep() == null ? "" : reachRebuildEnd(owner);
            String at = LocalTime.now().truncatedTo(ChronoUnit.MILLIS).toString(); // to find it in the node logs
            long t0 = System.nanoTime();
            hosts.inject(fault.action(), k);
            if (fault.rebuildStep() != null) {
                before += "; catalogue at the kill: " + copies();
            }
            // Only writes sent once the fault is in place count: `kill -STOP`, `ip link` and nft
            // take a few ms, during which the node still acknowledges writes.
            long injected = System.nanoTime();
            String notBy = ownerHit ? owner.id() : null;
            boolean resumed = FaultCheck.poll(FAILOVER_LIMIT, () -> run.writer().ackedAfter(injected, notBy) > 0, 10);
            seconds = (run.writer().ackedAfter(injected, notBy) - t0) / 1e9;
            if (!resumed) {
                problems.add("no write acknowledged within " + FAILOVER_LIMIT.toSeconds() + " s (last error: "
                        + run.writer().lastError() + "); catalogue: " + copies());
                seconds = FAILOVER_LIMIT.toSeconds();
            } else if (reads != null) {
                reads.markFailover();
            }
            Optional<ClusterView.Owner> served = view.served();
            now = served.orElse(owner);
            say(String.format("fault %d %s %s%s: %s %.2f s -> %s%s; injected at %s", number, fault.label(),
                    victim, victimId.equals(controllerId) && fault != Fault.KILL_CONTROLLER ? " (the controller)"
                            : ownerHit && fault == Fault.KILL_CONTROLLER ? " (the owner)" : "",
                    ownerHit ? "failover" : "writes stalled", seconds, served.map(o -> "owner "
                            + names.getOrDefault(o.id(), o.id()) + " epoch " + o.epoch()).orElse("NO owner serving"), before, at));
            boolean moved = !now.id().equals(owner.id());

            if (fault.action() == Fault.Action.PAUSE) {
                pauseUntilPastSession(t0, k, moved, standby, owner);
            } else if (reads != null && moved) {
                reads.send(REWRITES_LIMIT);
                if (fault.action() != Fault.Action.CUT) {
                    // A cut-off owner gets the reads once its link is back: collected after the heal.
                    say("  old owner " + owner.name() + " reads after failover: " + reads.collect(ANSWERS_LIMIT));
                    reportReads();
                }
            }
            if (moved) {
                probeOldOwner(standby, owner, k, "after failover");
            }
            checkData("after the fault", !run.light());

            if (fault.action() == Fault.Action.ZK_CUT) {
                FaultCheck.sleep(msUntil(t0 + pastSession().toNanos()));
            }
            long r0 = System.nanoTime();
            hosts.restore(k);
            boolean restored = FaultCheck.poll(RESTORE_LIMIT, () -> view.healthy(hosts.count()));
            if (!restored) {
                problems.add("not back to 3 in-sync copies within " + RESTORE_LIMIT.toSeconds() + " s: "
                        + view.record().map(Object::toString).orElse("?"));
            }
            say(String.format("  %s %s; %s in %.1f s", fault.action().undone(), victim,
                    restored ? "3 copies in sync again" : "NOT restored", (System.nanoTime() - r0) / 1e9));
            String undone = "after " + (fault.action() == Fault.Action.KILL ? "restart" : fault.action() == Fault.Action.PAUSE
                    ? "resume" : "heal");
            if (reads != null && moved) {
                String pending = reads.collect(ANSWERS_LIMIT); // the reads sent during a cut arrive now
                reads.send(REWRITES_LIMIT);
                say("  old owner " + owner.name() + " reads " + undone + ": " + (fault.action() == Fault.Action.CUT
                        ? "those sent during the cut: " + pending + "; new ones: " : "") + reads.collect(ANSWERS_LIMIT));
                reportReads();
            }
            if (!view.served().map(o -> o.id().equals(owner.id())).orElse(false)) {
                probeOldOwner(standby, owner, k, undone);
            }
            checkData(undone, true);
            say(String.format("  epochs: %d new, owner changed %d time(s); epoch now %d", view.epochsSeen() - epochsBefore,
                    view.ownerChanges() - ownerChangesBefore, view.served().map(ClusterView.Owner::epoch).orElse(-1L)));
        } finally {
            if (standby != null) {
                standby.close();
            }
            if (reads != null) {
                reads.close();
            }
            hosts.restoreAll(); // a no-op unless a check threw before the node was restored
        }
        return new Report.FaultResult(number, fault, victim, victimId.equals(controllerId), names.get(owner.id()),
                names.getOrDefault(now.id(), now.id()), now.epoch(), seconds, lost, stale, corrupt, doubleOwners, verified,
                reads == null ? OldOwnerReads.Tally.NONE : reads.tally(), problems);
    }

    /** The volume as the catalogue has it now: owner, epoch, each copy's state, with node names. */
    private String copies() {
        return run.view().record().map(r -> "owner " + names.getOrDefault(r.owner(), r.owner()) + " epoch " + r.epoch() + ", "
                + r.replicas().entrySet().stream().map(e -> names.getOrDefault(e.getKey(), e.getKey()) + "=" + e.getValue())
                        .toList()).orElse("?");
    }

    /** A copy that is not the owner, at random. */
    private String otherCopy(ClusterView.Owner owner) {
        List<String> others = run.view().record().orElseThrow().replicas().keySet().stream()
                .filter(id -> !id.equals(owner.id())).toList();
        return others.get(run.random().nextInt(others.size()));
    }

    /** For the rebuild-end faults: a copy killed and restarted, the owner held at the end of its rebuild. */
    private String reachRebuildEnd(ClusterView.Owner owner) {
        RebuildEnd.Reached r = RebuildEnd.reach(run, owner, otherCopy(owner), fault.rebuildStep());
        if (r.logLine() == null) {
            problems.add("the owner " + owner.name() + " never logged '" + fault.rebuildStep() + "' while rebuilding "
                    + r.copy() + " (nodes started without --test-delay " + fault.rebuildStep() + "=...?): killed it anyway");
            return " (" + r.copy() + " killed and restarted; the end of a rebuild NOT seen)";
        }
        return " (" + r.copy() + " killed and restarted, then the owner logged \"" + r.logLine().strip() + "\")";
    }

    /**
     * A paused node stays stopped past its session timeout. The owner also gets reads of
     * rewritten blocks and a probe write while it is stopped: they sit in its sockets and are
     * the first thing it sees when it wakes, before it may have noticed that it lost the volume.
     */
    private void pauseUntilPastSession(long t0, int k, boolean moved, NbdConnection standby, ClusterView.Owner owner) {
        Long queued = null;
        if (reads != null && moved) {
            reads.send(REWRITES_LIMIT);
        }
        if (reads != null && moved && standby != null) {
            try {
                queued = standby.sendWrite(probeOffset(), Ledger.encode(FaultCheck.BLOCKS_FOR_PROBE, 0));
            } catch (IOException e) {
                say("  old owner " + owner.name() + ": cannot queue a write while it is stopped: " + e.getMessage());
            }
        }
        FaultCheck.sleep(msUntil(t0 + pastSession().toNanos()));
        run.hosts().resume(k);
        if (reads != null && moved) {
            say("  old owner " + owner.name() + " reads sent while it was stopped: " + reads.collect(ANSWERS_LIMIT));
            reportReads();
        }
        if (queued != null) {
            long end = System.nanoTime() + ANSWERS_LIMIT.toNanos();
            String what;
            try {
                NbdConnection.Reply r = standby.await(queued, () -> System.nanoTime() > end);
                what = r.error() == 0 ? null : "refused (NBD error " + r.error() + ")";
            } catch (IOException e) {
                what = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            if (what == null) {
                doubleOwners++;
                problems.add("the old owner " + owner.name() + " acknowledged, once resumed, a write sent while it was stopped"
                        + " after the failover");
            }
            say("  old owner " + owner.name() + " write sent while it was stopped: " + (what == null ? "ACKNOWLEDGED" : what));
        }
    }

    private Duration pastSession() {
        return run.hosts().sessionTimeout().plus(PAST_SESSION);
    }

    private static long msUntil(long nanoTime) {
        return Math.max(0, (nanoTime - System.nanoTime()) / 1_000_000);
    }

    /** Stale or corrupt answers of the old owner become problems of this fault. */
    private void reportReads() {
        for (String f : reads.takeFindings()) {
            say("    " + f);
            problems.add(f);
        }
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
        if (rb.blocks() < run.ledger().blocks()) {
            problems.add("read-back " + when + ": the volume was not available (" + rb.blocks() + " of "
                    + run.ledger().blocks() + " blocks read through " + rb.owner() + "); catalogue: " + copies());
            return; // nor would verify get far
        }
        if (verify && !run.writer().whilePaused(() -> run.verify(FaultCheck.VOLUME))) {
            verified = false;
            problems.add("volume verify failed " + when);
        }
    }

    private static long probeOffset() {
        return (long) FaultCheck.BLOCKS_FOR_PROBE * Ledger.BLOCK;
    }

    /**
     * The deposed owner must not accept a write: neither on the connection a client had open
     * before the fault, nor on a new one. The probe writes a block outside the checked range.
     */
    private void probeOldOwner(NbdConnection standby, ClusterView.Owner old, int k, String when) {
        byte[] probe = Ledger.encode(FaultCheck.BLOCKS_FOR_PROBE, 0);
        List<String> refused = new ArrayList<>();
        if (standby != null) {
            String what = tryWrite(standby, probeOffset(), probe);
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
        if (run.hosts().answers(k)) {
            try (NbdConnection fresh = NbdConnection.open(old.host(), old.port(), FaultCheck.VOLUME, 2000)) {
                String what = tryWrite(fresh, probeOffset(), probe);
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

    /** Null when the write was acknowledged, otherwise how it failed (and after how long). */
    private static String tryWrite(NbdConnection c, long offset, byte[] data) {
        long start = System.nanoTime();
        long end = start + 25_000_000_000L;
        try {
            c.write(offset, data, () -> System.nanoTime() > end);
            return null;
        } catch (IOException e) {
            return String.format("refused after %.1f s (%s: %s)", (System.nanoTime() - start) / 1e9, e.getClass().getSimpleName(),
                    e.getMessage());
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
