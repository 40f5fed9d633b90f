package io.hablock.cli.command;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.cluster.model.Event;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hablock events [-n N] [--follow] [--json]}. */
@Command(name = "events", mixinStandardHelpOptions = true,
        description = {"Print the cluster's event log, oldest first: nodes joining and failing, volumes created, "
                + "copies out of sync, ... (the last 1000 are kept)."})
public final class EventsCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long FOLLOW_POLL_MS = 500;

    @Mixin
    ClusterOptions options;

    @Option(names = "-n", paramLabel = "N", defaultValue = "50", description = "How many of the latest events (default ${DEFAULT-VALUE}).")
    int count;

    @Option(names = {"-f", "--follow"}, description = "Keep printing new events until interrupted.")
    boolean follow;

    @Option(names = "--json", description = "One JSON object per line.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (count < 0) {
            throw new IllegalArgumentException("-n must not be negative");
        }
        try (ClusterClient cluster = options.connect()) {
            List<Event> events = cluster.events(count);
            long last = print(events, -1);
            if (events.isEmpty() && follow) {
                last = cluster.events(1).stream().mapToLong(Event::seq).max().orElse(-1);
            }
            while (follow) {
                Thread.sleep(FOLLOW_POLL_MS);
                last = print(cluster.eventsAfter(last, ClusterClient.EVENT_HISTORY), last);
            }
        }
        return 0;
    }

    private long print(List<Event> events, long last) throws ClusterException, com.fasterxml.jackson.core.JsonProcessingException {
        for (Event e : events) {
            System.out.println(json ? JSON.writeValueAsString(e) : e.format());
            last = Math.max(last, e.seq());
        }
        System.out.flush();
        return last;
    }
}
