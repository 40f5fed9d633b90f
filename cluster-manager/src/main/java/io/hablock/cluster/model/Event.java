package io.hablock.cluster.model;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * One line of the cluster's event log.
 *
 * @param seq position in the log (the znode's sequence number; 0 before it is stored)
 * @param time epoch millis
 * @param level {@code info}, {@code warn} or {@code error}
 * @param source the part of the system that reports it ({@code CLUSTER}, {@code REPLICATION})
 * @param message what happened, in one line
 */
public record Event(long seq, long time, String level, String source, String message) {
    private static final DateTimeFormatter FORMAT = DateTimeFormatter.ofPattern("MM/dd/yyyy-HH:mm:ss");

    public static Event info(String source, String message) {
        return new Event(0, System.currentTimeMillis(), "info", source, message);
    }

    public static Event warn(String source, String message) {
        return new Event(0, System.currentTimeMillis(), "warn", source, message);
    }

    public Event withSeq(long s) {
        return new Event(s, time, level, source, message);
    }

    /** {@code 05/12/2019-20:51:04 [info] [CLUSTER] message}, in the local time zone. */
    public String format() {
        return FORMAT.format(Instant.ofEpochMilli(time).atZone(ZoneId.systemDefault()))
                + " [" + level + "] [" + source + "] " + message;
    }
}
