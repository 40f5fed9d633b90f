package io.hablock.cli.demo;

/** A step failed in a way the story cannot go on from; the message says what was seen. */
public final class DemoFailure extends Exception {
    private static final long serialVersionUID = 1L;

    public DemoFailure(String message) {
        super(message);
    }

    public DemoFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
