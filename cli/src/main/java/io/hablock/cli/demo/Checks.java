package io.hablock.cli.demo;

import java.util.ArrayList;
import java.util.List;

/**
 * What the demo expected to see and whether it did. A failed check does not stop the story
 * when the next steps still make sense; the exit status reports it.
 */
public final class Checks {
    /** One expectation and what was seen. */
    public record Check(String what, boolean ok, String seen) {
    }

    private final List<Check> checks = new ArrayList<>();

    public void pass(String what, String seen) {
        checks.add(new Check(what, true, seen));
    }

    public void fail(String what, String seen) {
        checks.add(new Check(what, false, seen));
    }

    public List<Check> failures() {
        return checks.stream().filter(c -> !c.ok()).toList();
    }

    public List<Check> all() {
        return List.copyOf(checks);
    }
}
