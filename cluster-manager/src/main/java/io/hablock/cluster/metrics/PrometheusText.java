package io.hablock.cluster.metrics;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.Histogram;
import com.codahale.metrics.Meter;
import com.codahale.metrics.Metric;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Sampling;
import com.codahale.metrics.Snapshot;
import com.codahale.metrics.Timer;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Renders a {@link MetricRegistry} in the Prometheus text exposition format 0.0.4.
 *
 * <ul>
 *   <li>{@link Counter} and {@link Meter}: {@code counter}, named {@code <family>_total}.
 *   <li>{@link Gauge} of a number or boolean: {@code gauge}; other gauges are skipped.
 *   <li>{@link Timer}: {@code summary} in seconds, quantiles 0.5, 0.9, 0.99, 0.999 plus
 *       {@code _count} and {@code _sum}. {@code _sum} is exact for the timers {@link NodeMetrics}
 *       makes; Dropwizard snapshots carry no sum, so for any other timer it is
 *       {@code count * mean of the snapshot}, an estimate that need not even be monotonic.
 *   <li>{@link Histogram}: the same summary in the histogram's own unit.
 * </ul>
 *
 * <p>Keys are read back with {@link MetricName#fromRegistryKey}. Families are sorted by name,
 * series by labels. When two metrics of different kinds end up with the same exported name, the
 * first in that order wins and the others are left out, since one family has one type.
 */
final class PrometheusText {

    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private static final double[] QUANTILES = {0.5, 0.9, 0.99, 0.999};
    private static final String[] QUANTILE_LABELS = {"0.5", "0.9", "0.99", "0.999"};
    private static final double NANOS_PER_SECOND = 1e9;

    private enum Type {
        COUNTER, GAUGE, SUMMARY;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** One exported family: its series by their rendered label set. */
    private record Family(Type type, String help, Map<String, Metric> series) {}

    private PrometheusText() {}

    /**
     * @param help the HELP text of a registry family name, or null for a generic one
     */
    static String render(MetricRegistry registry, Function<String, String> help) {
        Map<String, Family> families = new TreeMap<>();
        for (Map.Entry<String, Metric> entry : registry.getMetrics().entrySet()) {
            Metric metric = entry.getValue();
            Type type = typeOf(metric);
            if (type == null) {
                continue;
            }
            MetricName name = MetricName.fromRegistryKey(entry.getKey());
            String exported = name.family();
            if (type == Type.COUNTER && !exported.endsWith("_total")) {
                exported += "_total";
            }
            String text = help.apply(name.family());
            Family family = families.computeIfAbsent(exported, f -> new Family(type,
                    text != null ? text : "Dropwizard metric " + entry.getKey(), new TreeMap<>()));
            if (family.type() == type) {
                StringBuilder labels = new StringBuilder();
                MetricName.appendLabels(labels, name.labels());
                family.series().put(labels.toString(), metric);
            }
        }
        StringBuilder out = new StringBuilder(families.size() * 256);
        families.forEach((name, family) -> appendFamily(out, name, family));
        return out.toString();
    }

    private static Type typeOf(Metric metric) {
        if (metric instanceof Counter || metric instanceof Meter) {
            return Type.COUNTER;
        }
        if (metric instanceof Timer || metric instanceof Histogram) {
            return Type.SUMMARY;
        }
        if (metric instanceof Gauge<?> gauge) {
            return gaugeValue(gauge) != null ? Type.GAUGE : null;
        }
        return null;
    }

    private static void appendFamily(StringBuilder out, String name, Family family) {
        out.append("# HELP ").append(name).append(' ');
        escapeHelp(out, family.help());
        out.append("\n# TYPE ").append(name).append(' ').append(family.type().label()).append('\n');
        family.series().forEach((labels, metric) -> {
            switch (family.type()) {
                case COUNTER -> sample(out, name, labels, number(count(metric)));
                case GAUGE -> {
                    Number value = gaugeValue((Gauge<?>) metric);
                    if (value != null) { // a gauge may change its mind between two reads
                        sample(out, name, labels, number(value));
                    }
                }
                case SUMMARY -> appendSummary(out, name, labels, metric);
            }
        });
    }

    private static void appendSummary(StringBuilder out, String name, String labels, Metric metric) {
        double divisor = metric instanceof Timer ? NANOS_PER_SECOND : 1;
        Snapshot snapshot = ((Sampling) metric).getSnapshot();
        long count = count(metric);
        String prefix = labels.isEmpty() ? "" : labels + ",";
        for (int i = 0; i < QUANTILES.length; i++) {
            double value = snapshot.size() == 0 ? Double.NaN : snapshot.getValue(QUANTILES[i]) / divisor;
            sample(out, name, prefix + "quantile=\"" + QUANTILE_LABELS[i] + "\"", number(value));
        }
        sample(out, name + "_count", labels, Long.toString(count));
        double sum = metric instanceof LatencyTimer timer
                ? timer.sumNanos() / NANOS_PER_SECOND
                : count * snapshot.getMean() / divisor;
        sample(out, name + "_sum", labels, number(sum));
    }

    private static long count(Metric metric) {
        if (metric instanceof Counter counter) {
            return counter.getCount();
        }
        if (metric instanceof Meter meter) {
            return meter.getCount();
        }
        if (metric instanceof Timer timer) {
            return timer.getCount();
        }
        return ((Histogram) metric).getCount();
    }

    private static Number gaugeValue(Gauge<?> gauge) {
        Object value;
        try {
            value = gauge.getValue();
        } catch (RuntimeException e) {
            return null; // a broken gauge must not break the whole scrape
        }
        if (value instanceof Boolean flag) {
            return flag ? 1 : 0;
        }
        return value instanceof Number number ? number : null;
    }

    private static void sample(StringBuilder out, String name, String labels, String value) {
        out.append(name);
        if (!labels.isEmpty()) {
            out.append('{').append(labels).append('}');
        }
        out.append(' ').append(value).append('\n');
    }

    /** Integers as integers (exact, and what a reader expects), other values as Go parses them. */
    static String number(Number value) {
        if (value instanceof Long || value instanceof Integer || value instanceof Short
                || value instanceof Byte) {
            return Long.toString(value.longValue());
        }
        double v = value.doubleValue();
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    private static void escapeHelp(StringBuilder out, String help) {
        for (int i = 0; i < help.length(); i++) {
            char c = help.charAt(i);
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                default -> out.append(c);
            }
        }
    }
}
