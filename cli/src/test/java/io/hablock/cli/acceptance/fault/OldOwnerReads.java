package io.hablock.cli.acceptance.fault;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;

/**
 * Reads from a deposed owner on a connection a client opened before the fault. Once the new
 * owner acknowledged newer versions of some blocks, reads of those blocks go out on the old
 * connection; an answer carrying a version older than the newest one acknowledged before the
 * read was sent is a <b>stale read</b>: the old owner answered from state that no longer was
 * the volume's. An NBD error, a closed connection or no answer at all is fine.
 *
 * <p>Sending and collecting are apart so that the reads can be sent while the old owner is
 * stopped or cut off: they sit in its socket and reach it the moment it wakes or its link is
 * back, before it may have noticed that it lost the volume. Reads not answered by one
 * {@link #collect} stay pending for the next.
 */
final class OldOwnerReads implements AutoCloseable {
    /** Reads per round: enough blocks to see a stale answer, few enough to sit in a socket buffer. */
    private static final int READS = 32;

    /** What the reads found, over all rounds. */
    record Tally(long sent, long withData, long stale, long corrupt, long errors, long closed, long unanswered) {
        static final Tally NONE = new Tally(0, 0, 0, 0, 0, 0, 0);
    }

    private record Sent(long handle, int block, long ackedBefore, long sentNanos) {
    }

    private final String owner;
    private final Ledger ledger;
    private NbdConnection conn;
    /** Why the connection is no longer used (closed, refused); null while it is. */
    private String broken;
    private long[] mark;
    private final List<Sent> pending = new ArrayList<>();
    private final List<String> findings = new ArrayList<>();
    private long sent;
    private long withData;
    private long stale;
    private long corrupt;
    private long errors;
    private long closed;
    /** The counts at the end of the last round, so each round reports its own. */
    private Tally reported = Tally.NONE;
    private long slowestNanos;

    private OldOwnerReads(String owner, Ledger ledger, NbdConnection conn, String broken) {
        this.owner = owner;
        this.ledger = ledger;
        this.conn = conn;
        this.broken = broken;
        this.mark = ledger.ackedVersions();
    }

    /** Opens the connection to the owner, before the fault; a failure is noted, not thrown. */
    static OldOwnerReads open(ClusterView.Owner owner, Ledger ledger) {
        try {
            return new OldOwnerReads(owner.name(), ledger, NbdConnection.open(owner.host(), owner.port(), FaultCheck.VOLUME,
                    2000), null);
        } catch (IOException e) {
            return new OldOwnerReads(owner.name(), ledger, null, "could not connect before the fault: " + e.getMessage());
        }
    }

    /**
     * Remembers the acknowledged versions now, once the new owner acknowledged a write: blocks
     * acknowledged at a newer version later were rewritten through it.
     */
    void markFailover() {
        mark = ledger.ackedVersions();
    }

    /**
     * Waits up to {@code limit} for {@value #READS} blocks rewritten since {@link #markFailover},
     * then sends a read of each (of as many as there are) without waiting for the answers.
     *
     * @return how many reads went out
     */
    int send(Duration limit) {
        if (conn == null) {
            return 0;
        }
        FaultCheck.poll(limit, () -> ledger.rewrittenSince(mark).size() >= READS, 50);
        List<Integer> blocks = new ArrayList<>(ledger.rewrittenSince(mark));
        Collections.shuffle(blocks);
        int n = 0;
        for (int block : blocks.subList(0, Math.min(READS, blocks.size()))) {
            // The version acknowledged before the read leaves: any answer must be at least as new.
            long ackedBefore = ledger.acked(block);
            try {
                pending.add(new Sent(conn.sendRead((long) block * Ledger.BLOCK, Ledger.BLOCK), block, ackedBefore,
                        System.nanoTime()));
                sent++;
                n++;
            } catch (IOException e) {
                lose("closed (" + e.getMessage() + ")");
                break;
            }
        }
        return n;
    }

    /**
     * Awaits the answers to the reads sent, up to {@code limit} in all, and judges each. The
     * server may answer in any order: those not answered by then stay pending.
     *
     * @return a line for the report: what the reads sent since the last round met
     */
    String collect(Duration limit) {
        long end = System.nanoTime() + limit.toNanos();
        slowestNanos = 0;
        Iterator<Sent> it = pending.iterator();
        while (conn != null && it.hasNext()) {
            Sent s = it.next();
            Optional<NbdConnection.Reply> r;
            try {
                r = System.nanoTime() < end ? conn.tryAwait(s.handle(), () -> System.nanoTime() > end) : conn.answered(s.handle());
            } catch (IOException e) {
                lose("closed (" + e.getMessage() + ")");
                break;
            }
            if (r.isPresent()) {
                it.remove();
                judge(s, r.get());
            }
        }
        Tally now = tally();
        Tally before = reported;
        reported = now;
        String round = (now.sent() - before.sent()) + " sent: " + (now.withData() - before.withData()) + " answered with data ("
                + (now.stale() - before.stale()) + " stale), " + (now.errors() - before.errors()) + " NBD error(s), "
                + (now.closed() - before.closed()) + " on a closed connection, " + pending.size() + " unanswered"
                + (slowestNanos > 0 ? String.format(", the slowest seen %.1f s after it was sent", slowestNanos / 1e9) : "");
        return broken == null ? round : round + "; connection " + broken;
    }

    private void judge(Sent s, NbdConnection.Reply r) {
        slowestNanos = Math.max(slowestNanos, System.nanoTime() - s.sentNanos());
        if (r.error() != 0) {
            errors++;
            return;
        }
        withData++;
        long version = Ledger.versionOf(s.block(), ByteBuffer.wrap(r.data()));
        if (version < 0) {
            corrupt++;
            findings.add("CORRUPT read from the old owner " + owner + ": block " + s.block());
        } else if (version < s.ackedBefore()) {
            stale++;
            findings.add("STALE READ from the old owner " + owner + ": block " + s.block() + " read at version " + version
                    + ", version " + s.ackedBefore() + " was acknowledged before the read was sent");
        }
    }

    /** The connection is unusable: the reads still waiting will never be answered. */
    private void lose(String why) {
        closed += pending.size();
        pending.clear();
        broken = why;
        if (conn != null) {
            conn.close();
            conn = null;
        }
    }

    /** Stale and corrupt answers, one line each, since the last call. */
    List<String> takeFindings() {
        List<String> out = List.copyOf(findings);
        findings.clear();
        return out;
    }

    Tally tally() {
        return new Tally(sent, withData, stale, corrupt, errors, closed, pending.size());
    }

    @Override
    public void close() {
        if (conn != null) {
            conn.close();
            conn = null;
        }
    }
}
