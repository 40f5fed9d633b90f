package io.hablock.cli.demo;

import java.io.PrintStream;
import java.util.Locale;

/** The demo's voice: numbered steps and lines stamped with the seconds since the start. */
public final class Narrator {
    private final PrintStream out;
    private final long startNanos = System.nanoTime();
    private int steps;

    public Narrator(PrintStream out) {
        this.out = out;
    }

    /** A new step, with a blank line before it. */
    public void step(String title) {
        out.println();
        say("== " + ++steps + ". " + title);
    }

    public void say(String line) {
        out.println(String.format(Locale.ROOT, "[%6.1fs] ", seconds()) + line);
        out.flush();
    }

    /** Text as it is (tables), without a stamp. */
    public void print(String text) {
        out.println(text);
        out.flush();
    }

    public double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    public PrintStream out() {
        return out;
    }
}
