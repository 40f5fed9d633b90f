package io.hablock.nativeio.testing;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import io.hablock.nativeio.PosixFs;

import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link PosixFs} for tests: forwards to a delegate (usually {@link PosixFs#system()}) unless a
 * failure is armed for the operation, and counts every call, failed or not. Thread-safe.
 *
 * <pre>{@code
 * FaultInjectingPosixFs fs = new FaultInjectingPosixFs(PosixFs.system());
 * fs.failNext(Op.PUNCH_HOLE, Errno.EOPNOTSUPP);   // one call fails
 * fs.failAlways(Op.FDATASYNC, Errno.EIO);         // every call fails until clear()
 * }</pre>
 *
 * <p>An armed {@link Errno#ENXIO} on {@link Op#SEEK_DATA} / {@link Op#SEEK_HOLE} behaves like the
 * real call: it returns -1 instead of throwing.
 */
public final class FaultInjectingPosixFs implements PosixFs {

    /**
     * The operations of {@link PosixFs}, named as in the exceptions the real implementation throws.
     */
    public enum Op {
        OPEN("open"),
        CLOSE("close"),
        PUNCH_HOLE("fallocate(PUNCH_HOLE)"),
        ZERO_RANGE("fallocate(ZERO_RANGE)"),
        FDATASYNC("fdatasync"),
        SEEK_DATA("lseek(SEEK_DATA)"),
        SEEK_HOLE("lseek(SEEK_HOLE)");

        private final String operation;

        Op(String operation) {
            this.operation = operation;
        }

        /** The operation text used in exception messages. */
        public String operation() {
            return operation;
        }
    }

    private final PosixFs delegate;
    private final Map<Op, Queue<Errno>> nextFailures = new EnumMap<>(Op.class);
    private final Map<Op, AtomicInteger> calls = new EnumMap<>(Op.class);
    // Read on every call without locking; written rarely.
    private final Map<Op, Errno> alwaysFailures = new ConcurrentHashMap<>();

    /** Wraps {@code delegate}; nothing fails until armed. */
    public FaultInjectingPosixFs(PosixFs delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        for (Op op : Op.values()) {
            nextFailures.put(op, new ConcurrentLinkedQueue<>());
            calls.put(op, new AtomicInteger());
        }
    }

    /**
     * Makes the next call of {@code op} fail with {@code errno}; calls queue up when armed twice.
     */
    public FaultInjectingPosixFs failNext(Op op, Errno errno) {
        nextFailures.get(op).add(checked(errno));
        return this;
    }

    /** Makes every call of {@code op} fail with {@code errno} until {@link #clear()}. */
    public FaultInjectingPosixFs failAlways(Op op, Errno errno) {
        alwaysFailures.put(op, checked(errno));
        return this;
    }

    /** Disarms every failure (call counts are kept; see {@link #resetCounts()}). */
    public void clear() {
        alwaysFailures.clear();
        nextFailures.values().forEach(Queue::clear);
    }

    /** How many times {@code op} was called, including calls that failed. */
    public int calls(Op op) {
        return calls.get(op).get();
    }

    /** Sets every call count back to zero. */
    public void resetCounts() {
        calls.values().forEach(c -> c.set(0));
    }

    /** The wrapped implementation. */
    public PosixFs delegate() {
        return delegate;
    }

    @Override
    public int open(Path path, boolean readWrite) throws NativeIOException {
        enter(Op.OPEN);
        return delegate.open(path, readWrite);
    }

    @Override
    public void close(int fd) throws NativeIOException {
        enter(Op.CLOSE);
        delegate.close(fd);
    }

    @Override
    public void punchHole(int fd, long offset, long length) throws NativeIOException {
        enter(Op.PUNCH_HOLE);
        delegate.punchHole(fd, offset, length);
    }

    @Override
    public void zeroRange(int fd, long offset, long length) throws NativeIOException {
        enter(Op.ZERO_RANGE);
        delegate.zeroRange(fd, offset, length);
    }

    @Override
    public void fdatasync(int fd) throws NativeIOException {
        enter(Op.FDATASYNC);
        delegate.fdatasync(fd);
    }

    @Override
    public long seekData(int fd, long offset) throws NativeIOException {
        return enterSeek(Op.SEEK_DATA) ? -1 : delegate.seekData(fd, offset);
    }

    @Override
    public long seekHole(int fd, long offset) throws NativeIOException {
        return enterSeek(Op.SEEK_HOLE) ? -1 : delegate.seekHole(fd, offset);
    }

    /** Counts the call and throws the armed failure, if any. */
    private void enter(Op op) throws NativeIOException {
        Errno failure = countAndTakeFailure(op);
        if (failure != null) {
            throw NativeIOException.of(op.operation(), failure);
        }
    }

    /** Like {@link #enter} but an armed ENXIO means "return -1", as lseek does. */
    private boolean enterSeek(Op op) throws NativeIOException {
        Errno failure = countAndTakeFailure(op);
        if (failure == Errno.ENXIO) {
            return true;
        }
        if (failure != null) {
            throw NativeIOException.of(op.operation(), failure);
        }
        return false;
    }

    private Errno countAndTakeFailure(Op op) {
        calls.get(op).incrementAndGet();
        Errno next = nextFailures.get(op).poll();
        return next != null ? next : alwaysFailures.get(op);
    }

    private static Errno checked(Errno errno) {
        if (Objects.requireNonNull(errno, "errno") == Errno.UNKNOWN) {
            throw new IllegalArgumentException("arm a listed errno, not UNKNOWN");
        }
        return errno;
    }
}
