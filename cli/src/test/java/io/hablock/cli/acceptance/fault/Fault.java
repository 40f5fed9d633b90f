package io.hablock.cli.acceptance.fault;

import java.util.Arrays;
import java.util.List;

/** The faults the checker injects: which node is hit, how, and (for the races) at which step. */
enum Fault {
    /** SIGKILL of the node that owns the volume. */
    KILL_OWNER("kill-owner", Target.OWNER, Action.KILL, null),
    /** SIGKILL of a node that holds a copy and does not own the volume. */
    KILL_COPY("kill-copy", Target.COPY, Action.KILL, null),
    /** SIGKILL of the controller (it may also own the volume). */
    KILL_CONTROLLER("kill-controller", Target.CONTROLLER, Action.KILL, null),
    /** The owner's network link goes down (a partition), later back up. */
    CUT_OWNER("cut-owner", Target.OWNER, Action.CUT, null),
    /** A copy's network link goes down, later back up. */
    CUT_COPY("cut-copy", Target.COPY, Action.CUT, null),
    /** SIGSTOP of the owner past its session timeout (a GC pause, a frozen VM), SIGCONT after the failover. */
    PAUSE_OWNER("pause-owner", Target.OWNER, Action.PAUSE, null),
    /** SIGSTOP of a copy past its session timeout, then SIGCONT. */
    PAUSE_COPY("pause-copy", Target.COPY, Action.PAUSE, null),
    /** Only the owner's ZooKeeper traffic is dropped: it still reaches its copies and its clients. */
    ZK_CUT_OWNER("zk-cut-owner", Target.OWNER, Action.ZK_CUT, null),
    /** SIGKILL of the owner once a rebuild sent every chunk, before the copy is recorded in sync. */
    KILL_OWNER_AT_REBUILD_END("kill-owner-at-rebuild-end", Target.OWNER, Action.KILL, "rebuild.before-promote"),
    /** SIGKILL of the owner right after a rebuilt copy was recorded in sync. */
    KILL_OWNER_AFTER_REBUILD_END("kill-owner-after-rebuild-end", Target.OWNER, Action.KILL, "rebuild.after-promote");

    /** The node a fault hits. */
    enum Target {
        OWNER,
        /** A copy that is not the owner. */
        COPY,
        /** The controller, whichever role it has. */
        CONTROLLER
    }

    /** What is done to the node, and how it is undone. */
    enum Action {
        KILL("restarted"),
        CUT("healed"),
        PAUSE("resumed (SIGCONT)"),
        ZK_CUT("ZooKeeper traffic back");

        private final String undone;

        Action(String undone) {
            this.undone = undone;
        }

        /** What the node went through when it was restored: "restarted", "healed", ... */
        String undone() {
            return undone;
        }
    }

    private final String label;
    private final Target target;
    private final Action action;
    private final String rebuildStep;

    Fault(String label, Target target, Action action, String rebuildStep) {
        this.label = label;
        this.target = target;
        this.action = action;
        this.rebuildStep = rebuildStep;
    }

    String label() {
        return label;
    }

    Target target() {
        return target;
    }

    Action action() {
        return action;
    }

    /** Whether the volume must move to another owner. */
    boolean movesOwner() {
        return target == Target.OWNER;
    }

    /**
     * The node step ({@code --test-delay}) at which the owner is killed, for the faults that
     * first make a rebuild happen; null for the others.
     */
    String rebuildStep() {
        return rebuildStep;
    }

    static Fault parse(String label) {
        return Arrays.stream(values()).filter(f -> f.label.equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown fault '" + label + "' (one of "
                        + String.join(", ", labels()) + ")"));
    }

    static List<Fault> parseList(String labels) {
        return Arrays.stream(labels.split(",")).map(String::strip).map(Fault::parse).toList();
    }

    static List<String> labels() {
        return Arrays.stream(values()).map(Fault::label).toList();
    }
}
