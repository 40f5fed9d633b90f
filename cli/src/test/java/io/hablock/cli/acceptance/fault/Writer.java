package io.hablock.cli.acceptance.fault;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The application: writes versioned blocks (FUA, one at a time) to random places through the
 * current owner and records each acknowledgement in the {@link Ledger}. On any error it drops
 * the connection, finds the owner in ZooKeeper and reconnects. Read-backs run on the same
 * connection while the writer waits ({@link #readBack}).
 */
final class Writer implements Runnable, AutoCloseable {
    /** Longest a request may wait for its reply before the connection is given up. */
    private static final long REQUEST_LIMIT_NS = 30_000_000_000L;
    /**
     * Longest a write waits for an owner to connect to, holding its turn: then it lets a
     * read-back or a verify have the turn, and tries again.
     */
    private static final long WRITE_CONNECT_NS = 1_000_000_000L;
    /** Longest a read-back goes without reading anything (no owner, or every read refused) before it gives up. */
    private static final long READ_BACK_CONNECT_NS = 60_000_000_000L;
    private static final int READ_BLOCKS = 64;

    /**
     * What a full read-back found; {@code blocks} is less than the volume's when no owner served
     * it for {@link #READ_BACK_CONNECT_NS} (the rest was not read).
     */
    record ReadBack(int blocks, List<Ledger.Finding> findings, String owner) {
        long count(Ledger.Verdict v) {
            return findings.stream().filter(f -> f.verdict() == v).count();
        }
    }

    private final ClusterView view;
    private final Ledger ledger;
    private final String volume;
    private final ReentrantLock turn = new ReentrantLock(true);
    private final Thread thread;
    private volatile boolean stopped;
    private NbdConnection conn;
    private ClusterView.Owner connOwner;
    private volatile long lastAckNanos;
    private volatile long lastAckSentNanos;
    private volatile String lastAckOwnerId;
    private volatile long acks;
    private volatile long errors;
    private volatile String lastError = "";

    private final int lane;
    private final int lanes;

    /** A writer of the blocks {@code b} with {@code b % lanes == lane}. */
    Writer(ClusterView view, Ledger ledger, String volume, int lane, int lanes) {
        this.lane = lane;
        this.lanes = lanes;
        this.view = view;
        this.ledger = ledger;
        this.volume = volume;
        this.thread = new Thread(this, "writer-" + lane);
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    long acks() {
        return acks;
    }

    long errors() {
        return errors;
    }

    String lastError() {
        return lastError;
    }

    /** When the last write was acknowledged (System.nanoTime) and by which owner. */
    long lastAckNanos() {
        return lastAckNanos;
    }

    /** When the last acknowledged write was sent. */
    long lastAckSentNanos() {
        return lastAckSentNanos;
    }

    String lastAckOwnerId() {
        return lastAckOwnerId;
    }

    /** The owner the writer is connected to now, if any. */
    synchronized Optional<ClusterView.Owner> connectedTo() {
        return Optional.ofNullable(connOwner);
    }

    @Override
    public void run() {
        while (!stopped) {
            turn.lock();
            try {
                if (!stopped) {
                    writeOne();
                }
            } finally {
                turn.unlock();
            }
        }
    }

    private void writeOne() {
        NbdConnection c = connection(System.nanoTime() + WRITE_CONNECT_NS);
        if (c == null) {
            return;
        }
        int block = lane + lanes * ThreadLocalRandom.current().nextInt(ledger.blocks() / lanes);
        long version = ledger.nextVersion();
        ledger.sending(block, version);
        long sent = System.nanoTime();
        try {
            c.write((long) block * Ledger.BLOCK, Ledger.encode(block, version), giveUp(c));
            ledger.acknowledged(block, version);
            lastAckOwnerId = connOwner.id();
            lastAckSentNanos = sent;
            lastAckNanos = System.nanoTime();
            acks++;
        } catch (IOException e) {
            failed(e);
        }
    }

    private void failed(IOException e) {
        errors++;
        lastError = e.getClass().getSimpleName() + ": " + e.getMessage();
        drop();
    }

    /** Give up on a request when the cluster serves the volume elsewhere, or after the limit. */
    private BooleanSupplier giveUp(NbdConnection c) {
        long start = System.nanoTime();
        ClusterView.Owner mine = connOwner;
        return () -> stopped || System.nanoTime() - start > REQUEST_LIMIT_NS
                || view.served().map(o -> !o.equals(mine)).orElse(false);
    }

    /** The current connection, or a new one to the owner; null if stopped or none by {@code deadline}. */
    private NbdConnection connection(long deadline) {
        while (conn == null && !stopped && System.nanoTime() - deadline < 0) {
            Optional<ClusterView.Owner> owner = view.served();
            if (owner.isPresent()) {
                try {
                    NbdConnection c = NbdConnection.open(owner.get().host(), owner.get().port(), volume, 2000);
                    synchronized (this) {
                        conn = c;
                        connOwner = owner.get();
                    }
                    break;
                } catch (IOException e) {
                    lastError = e.getMessage();
                }
            }
            pause(50);
        }
        return conn;
    }

    private synchronized void drop() {
        if (conn != null) {
            conn.close();
        }
        conn = null;
        connOwner = null;
    }

    /**
     * Stops the writes, reads every block back through the current owner (reconnecting as
     * needed) and judges each against the ledger; writes go on afterwards. Gives up when no
     * block could be read for {@link #READ_BACK_CONNECT_NS}: the volume is not available.
     */
    ReadBack readBack() {
        turn.lock();
        try {
            List<Ledger.Finding> findings = new ArrayList<>();
            long deadline = System.nanoTime() + READ_BACK_CONNECT_NS;
            for (int first = 0; first < ledger.blocks(); ) {
                int n = Math.min(READ_BLOCKS, ledger.blocks() - first);
                NbdConnection c = connection(deadline);
                if (c == null || System.nanoTime() - deadline > 0) {
                    // The volume is not available: what was read is judged, the rest is not read.
                    return new ReadBack(first, findings, "nobody (no block could be read for "
                            + READ_BACK_CONNECT_NS / 1_000_000_000L + " s; last error: " + lastError + ")");
                }
                byte[] data;
                try {
                    data = c.read((long) first * Ledger.BLOCK, n * Ledger.BLOCK, giveUp(c));
                } catch (IOException e) {
                    failed(e);
                    pause(50);
                    continue;
                }
                deadline = System.nanoTime() + READ_BACK_CONNECT_NS;
                for (int i = 0; i < n; i++) {
                    ledger.check(first + i, ByteBuffer.wrap(data, i * Ledger.BLOCK, Ledger.BLOCK), findings);
                }
                first += n;
            }
            return new ReadBack(ledger.blocks(), findings, connOwner == null ? "?" : connOwner.name());
        } finally {
            turn.unlock();
        }
    }

    /** Holds this writer's writes (call {@link #resumeWrites} from the same thread). */
    void pauseWrites() {
        turn.lock();
    }

    void resumeWrites() {
        turn.unlock();
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        stopped = true;
        try {
            thread.join(35_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        drop();
    }
}
