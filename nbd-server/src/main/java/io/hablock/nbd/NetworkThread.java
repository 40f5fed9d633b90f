package io.hablock.nbd;

import java.util.function.Supplier;

/**
 * Marks the work the server runs on its network thread (an event loop: a wait there stalls every
 * connection it serves), so a device can tell that it must not wait ({@link BlockDevice#mayWait()}).
 */
public final class NetworkThread {
    private static final ThreadLocal<Boolean> ON = ThreadLocal.withInitial(() -> Boolean.FALSE);

    private NetworkThread() {
    }

    /** True while the calling thread runs work marked by {@link #run}. */
    public static boolean isCurrent() {
        return ON.get();
    }

    /** Runs {@code work} marked as network-thread work. */
    public static <T> T run(Supplier<T> work) {
        if (ON.get()) {
            return work.get();
        }
        ON.set(Boolean.TRUE);
        try {
            return work.get();
        } finally {
            ON.set(Boolean.FALSE);
        }
    }
}
