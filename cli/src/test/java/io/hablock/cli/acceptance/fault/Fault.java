package io.hablock.cli.acceptance.fault;

import java.util.Arrays;
import java.util.List;

/** The faults the checker injects. */
enum Fault {
    /** SIGKILL of the node that owns the volume. */
    KILL_OWNER("kill-owner", true),
    /** SIGKILL of a node that holds a copy and does not own the volume. */
    KILL_COPY("kill-copy", false),
    /** SIGKILL of the controller (it may also own the volume). */
    KILL_CONTROLLER("kill-controller", false),
    /** The owner's network link goes down (a partition), later back up. */
    CUT_OWNER("cut-owner", true),
    /** A copy's network link goes down, later back up. */
    CUT_COPY("cut-copy", false);

    private final String label;
    private final boolean ownerFault;

    Fault(String label, boolean ownerFault) {
        this.label = label;
        this.ownerFault = ownerFault;
    }

    String label() {
        return label;
    }

    /** Whether the volume must move to another owner. */
    boolean movesOwner() {
        return ownerFault;
    }

    boolean isCut() {
        return this == CUT_OWNER || this == CUT_COPY;
    }

    static Fault parse(String label) {
        return Arrays.stream(values()).filter(f -> f.label.equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown fault '" + label + "' (one of "
                        + String.join(", ", Arrays.stream(values()).map(Fault::label).toList()) + ")"));
    }

    static List<Fault> parseList(String labels) {
        return Arrays.stream(labels.split(",")).map(String::strip).map(Fault::parse).toList();
    }
}
