package io.hablock.cluster;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delays at named steps of a node, for tests only: they make a race happen on every run instead
 * of by luck. Nothing is delayed unless a delay was given explicitly ({@code hablock server
 * --test-delay STEP=DURATION[xCOUNT]}, a hidden option that logs a warning at start), and each
 * node has its own set: there is no global switch.
 */
public final class TestDelays {
    private static final Logger log = LoggerFactory.getLogger(TestDelays.class);

    /**
     * A node's pass, after reading the catalogue, when it shows a copy being rebuilt of a volume
     * whose rebuild this node runs: the rebuild may finish while the pass holds its old view.
     */
    public static final String PASS_WITH_REBUILD = "agent.pass-with-rebuild";
    /** A rebuild, after every chunk was sent and before the copy is recorded in sync. */
    public static final String REBUILD_BEFORE_PROMOTE = "rebuild.before-promote";
    /** A rebuild, right after the copy was recorded in sync. */
    public static final String REBUILD_AFTER_PROMOTE = "rebuild.after-promote";
    /**
     * The owner, in a change it admitted (lease, membership and range held, copies sent to),
     * before it applies the change to its own copy.
     */
    public static final String OWNER_CHANGE = "owner.change";
    /** The owner, after a read got its data and before it checks it may still answer. */
    public static final String OWNER_READ = "owner.read";

    private static final List<String> STEPS = List.of(PASS_WITH_REBUILD, REBUILD_BEFORE_PROMOTE, REBUILD_AFTER_PROMOTE,
            OWNER_CHANGE, OWNER_READ);
    private static final Pattern SPEC = Pattern.compile("([a-z.-]+)=([0-9]+(?:ms|s))(?:x([0-9]+))?");

    /** No delays: what every production node runs with. */
    public static final TestDelays NONE = new TestDelays(Map.of());

    private record Delay(Duration duration, AtomicInteger left, AtomicInteger entered, AtomicInteger done) {
    }

    private final Map<String, Delay> delays;

    private TestDelays(Map<String, Delay> delays) {
        this.delays = delays;
    }

    /**
     * Parses {@code STEP=DURATION[xCOUNT]} items ({@code rebuild.before-promote=3s},
     * {@code owner.change=12sx1}): without a count, every time the step is reached.
     *
     * @throws IllegalArgumentException an unknown step or a malformed item, with the known steps
     */
    public static TestDelays parse(List<String> specs) {
        if (specs == null || specs.isEmpty()) {
            return NONE;
        }
        Map<String, Delay> out = new LinkedHashMap<>();
        for (String spec : specs) {
            Matcher m = SPEC.matcher(spec.strip());
            if (!m.matches() || !STEPS.contains(m.group(1))) {
                throw new IllegalArgumentException("bad --test-delay '" + spec + "': STEP=DURATION[xCOUNT], STEP one of " + STEPS);
            }
            String d = m.group(2);
            Duration duration = d.endsWith("ms") ? Duration.ofMillis(Long.parseLong(d.substring(0, d.length() - 2)))
                    : Duration.ofSeconds(Long.parseLong(d.substring(0, d.length() - 1)));
            int count = m.group(3) == null ? Integer.MAX_VALUE : Integer.parseInt(m.group(3));
            out.put(m.group(1), new Delay(duration, new AtomicInteger(count), new AtomicInteger(), new AtomicInteger()));
        }
        return new TestDelays(Collections.unmodifiableMap(out));
    }

    public boolean isEmpty() {
        return delays.isEmpty();
    }

    /** Whether {@code step} would be delayed now (so a caller can skip work that only feeds the delay). */
    boolean armed(String step) {
        Delay d = delays.get(step);
        return d != null && d.left().get() > 0;
    }

    /** Sleeps at {@code step} if a delay is set for it and has turns left. */
    void at(String step) {
        Delay d = delays.get(step);
        if (d == null || d.left().getAndUpdate(n -> Math.max(0, n - 1)) <= 0) {
            return;
        }
        log.warn("test delay: {} for {} ms", step, d.duration().toMillis());
        d.entered().incrementAndGet();
        try {
            Thread.sleep(d.duration().toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            d.done().incrementAndGet();
        }
    }

    /** How many delays at {@code step} have begun (for tests to wait on). */
    public int entered(String step) {
        Delay d = delays.get(step);
        return d == null ? 0 : d.entered().get();
    }

    /** How many delays at {@code step} have ended (for tests to wait on). */
    public int completed(String step) {
        Delay d = delays.get(step);
        return d == null ? 0 : d.done().get();
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        delays.forEach((step, d) -> b.append(b.length() == 0 ? "" : ", ").append(step).append('=')
                .append(d.duration().toMillis()).append("ms"));
        return b.toString();
    }
}
