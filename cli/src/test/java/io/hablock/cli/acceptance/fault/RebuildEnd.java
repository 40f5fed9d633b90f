package io.hablock.cli.acceptance.fault;

import io.hablock.cluster.model.ReplicaState;
import java.time.Duration;

/**
 * Brings the owner to the end of a rebuild, for the faults that kill it there: kills a copy,
 * waits until the owner took it out of sync, restarts it (the owner then rebuilds it), and
 * waits until the owner logs its test delay at the fault's step. The nodes run with
 * {@code --test-delay STEP=3s}, so the step holds for seconds and the kill lands inside the
 * window on every run instead of by luck.
 */
final class RebuildEnd {
    private static final Duration LIMIT = Duration.ofSeconds(90);
    /** What a node logs when a test delay fires: {@code test delay: STEP for N ms}. */
    private static final String DELAY_LINE = "test delay: ";

    /** The copy that was rebuilt, and the owner's log line at the step (null if it never came). */
    record Reached(String copy, String logLine) {
    }

    private RebuildEnd() {
    }

    static Reached reach(FaultCheck run, ClusterView.Owner owner, String copyId, String step) {
        Hosts hosts = run.hosts();
        ClusterView view = run.view();
        String copy = view.names().get(copyId);
        int kc = Hosts.number(copy);
        int ko = Hosts.number(owner.name());
        hosts.kill(kc);
        // The writes go on: the owner takes the dead copy out of sync at the next one it cannot replicate.
        FaultCheck.poll(LIMIT, () -> view.record().map(r -> r.replicas().get(copyId) != ReplicaState.IN_SYNC).orElse(false));
        long from = hosts.logSize(ko);
        hosts.start(kc);
        return new Reached(copy, hosts.awaitLog(ko, from, DELAY_LINE + step + " for", LIMIT));
    }
}
