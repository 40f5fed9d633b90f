package io.hablock.cluster.metrics;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A metric family name plus labels, and how the pair is carried through Dropwizard, whose
 * registry only knows flat string keys.
 *
 * <p>The registry key is the Prometheus series syntax itself: {@code family{k="v",...}}, labels
 * sorted by name, values escaped as the exposition format escapes them (backslash, double quote,
 * newline). {@link #fromRegistryKey} parses it back, so the exporter needs no side index and
 * stays correct for anything registered through this class, whoever registers it. A key that
 * does not parse (a plain Dropwizard name such as {@code jvm.threads}) is exported as a family
 * without labels, its name sanitized.
 *
 * @param family a valid Prometheus metric name, without the {@code _total} suffix of counters
 * @param labels label name to value, sorted by name; never {@code quantile} or {@code le}
 */
public record MetricName(String family, SortedMap<String, String> labels) {

    private static final Pattern FAMILY = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    public MetricName {
        if (!FAMILY.matcher(family).matches()) {
            throw new IllegalArgumentException("invalid metric name: " + family);
        }
        TreeMap<String, String> copy = new TreeMap<>();
        labels.forEach((name, value) -> {
            if (!LABEL.matcher(name).matches() || name.startsWith("__")
                    || name.equals("quantile") || name.equals("le")) {
                throw new IllegalArgumentException("invalid or reserved label name: " + name);
            }
            copy.put(name, value);
        });
        labels = Collections.unmodifiableSortedMap(copy);
    }

    /** A name from its family and alternating label names and values. */
    public static MetricName of(String family, String... labelNamesAndValues) {
        if (labelNamesAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("labels must come as name, value pairs");
        }
        TreeMap<String, String> labels = new TreeMap<>();
        for (int i = 0; i < labelNamesAndValues.length; i += 2) {
            labels.put(labelNamesAndValues[i], labelNamesAndValues[i + 1]);
        }
        return new MetricName(family, labels);
    }

    /** The value of a label, or null when absent. */
    public String label(String name) {
        return labels.get(name);
    }

    /** The key under which this name is registered in a {@code MetricRegistry}. */
    public String registryKey() {
        if (labels.isEmpty()) {
            return family;
        }
        StringBuilder key = new StringBuilder(family).append('{');
        appendLabels(key, labels);
        return key.append('}').toString();
    }

    /**
     * Appends {@code k="v",...} (no braces) with values escaped for the exposition format.
     */
    static void appendLabels(StringBuilder out, Map<String, String> labels) {
        boolean first = true;
        for (Map.Entry<String, String> label : labels.entrySet()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            out.append(label.getKey()).append("=\"");
            escapeLabelValue(out, label.getValue());
            out.append('"');
        }
    }

    static void escapeLabelValue(StringBuilder out, String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '"' -> out.append("\\\"");
                case '\n' -> out.append("\\n");
                default -> out.append(c);
            }
        }
    }

    /**
     * The name a registry key stands for: the exact name when the key was made by
     * {@link #registryKey()}, otherwise the whole key as a sanitized family without labels.
     * Never throws.
     */
    public static MetricName fromRegistryKey(String key) {
        MetricName parsed = parse(key);
        return parsed != null ? parsed : new MetricName(sanitize(key), new TreeMap<>());
    }

    /** A valid metric name made of {@code raw}: every other character becomes {@code _}. */
    static String sanitize(String raw) {
        StringBuilder name = new StringBuilder(raw.length() + 1);
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            boolean valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'
                    || (c >= '0' && c <= '9' && i > 0);
            if (i == 0 && c >= '0' && c <= '9') {
                name.append('_').append(c);
            } else {
                name.append(valid ? c : '_');
            }
        }
        return name.length() == 0 ? "_" : name.toString();
    }

    /** Strict parse of {@code family{k="v",...}}; null when the key is not of that form. */
    private static MetricName parse(String key) {
        int brace = key.indexOf('{');
        String family = brace < 0 ? key : key.substring(0, brace);
        if (!FAMILY.matcher(family).matches()) {
            return null;
        }
        TreeMap<String, String> labels = new TreeMap<>();
        if (brace >= 0) {
            if (!key.endsWith("}") || !parseLabels(key, brace + 1, key.length() - 1, labels)) {
                return null;
            }
        }
        try {
            return new MetricName(family, labels);
        } catch (IllegalArgumentException reservedLabel) {
            return null;
        }
    }

    private static boolean parseLabels(String key, int from, int end, Map<String, String> into) {
        int i = from;
        while (i < end) {
            int eq = key.indexOf("=\"", i);
            if (eq < 0 || eq >= end) {
                return false;
            }
            String name = key.substring(i, eq);
            StringBuilder value = new StringBuilder();
            int j = eq + 2;
            for (; j < end; j++) {
                char c = key.charAt(j);
                if (c == '"') {
                    break;
                }
                if (c == '\\') {
                    if (++j >= end) {
                        return false;
                    }
                    char escaped = key.charAt(j);
                    switch (escaped) {
                        case '\\', '"' -> value.append(escaped);
                        case 'n' -> value.append('\n');
                        default -> {
                            return false;
                        }
                    }
                } else {
                    value.append(c);
                }
            }
            if (j >= end || into.put(name, value.toString()) != null) {
                return false; // unterminated value, or a label given twice
            }
            i = j + 1;
            if (i < end) {
                if (key.charAt(i) != ',') {
                    return false;
                }
                i++;
            }
        }
        return true;
    }
}
