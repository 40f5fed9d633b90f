package io.hablock.cli.acceptance.support;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;
import org.opentest4j.AssertionFailedError;

/** Waiting on conditions (never for fixed times), with a useful message when the wait fails. */
public final class Waits {
    private static final Duration POLL = Duration.ofMillis(50);

    private Waits() {
    }

    /**
     * Polls {@code condition} until it holds; fails after {@code limit}, or at once when
     * {@code hopeless} says it never will, with {@code context} in the message.
     */
    public static void until(String what, Duration limit, BooleanSupplier condition, Supplier<String> context,
                             BooleanSupplier hopeless) {
        try {
            await(what).atMost(limit).pollDelay(Duration.ZERO).pollInterval(POLL)
                    .failFast("gave up waiting for " + what, (Callable<Boolean>) hopeless::getAsBoolean)
                    .until(condition::getAsBoolean);
        } catch (ConditionTimeoutException | TerminalFailureException e) {
            throw new AssertionFailedError(e.getMessage() + context.get(), e);
        }
    }

    /** Polls {@code condition} until it holds; fails after {@code limit} with {@code context}. */
    public static void until(String what, Duration limit, BooleanSupplier condition, Supplier<String> context) {
        until(what, limit, condition, context, () -> false);
    }
}
