package io.hablock.cluster.metrics;

import static org.assertj.core.api.Assertions.fail;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Checks a scrape against the Prometheus text exposition format 0.0.4, line by line. */
final class Exposition {
    private static final String NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
    private static final String LABEL = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
    private static final String VALUE =
            "(?:NaN|[+-]Inf|[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?)";
    private static final Pattern SAMPLE = Pattern.compile(
            "(" + NAME + ")(\\{" + LABEL + "(?:," + LABEL + ")*\\})? " + VALUE);
    private static final Pattern HELP =
            Pattern.compile("# HELP (" + NAME + ") (?:[^\\\\\\n]|\\\\[\\\\n])*");
    private static final Pattern TYPE =
            Pattern.compile("# TYPE (" + NAME + ") (counter|gauge|summary|histogram|untyped)");

    private Exposition() {}

    /**
     * Fails unless every line is a valid HELP, TYPE or sample line, each family is typed once
     * before its samples and its samples are together, and no series appears twice.
     */
    static void assertValid(String body) {
        if (!body.isEmpty() && !body.endsWith("\n")) {
            fail("exposition does not end with a newline");
        }
        Set<String> families = new HashSet<>();
        Set<String> series = new HashSet<>();
        String family = null;
        String type = null;
        List<String> lines = body.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            String where = "line " + (i + 1) + ": " + line;
            Matcher m;
            if ((m = TYPE.matcher(line)).matches()) {
                if (!families.add(m.group(1))) {
                    fail("family typed twice, " + where);
                }
                family = m.group(1);
                type = m.group(2);
            } else if ((m = HELP.matcher(line)).matches()) {
                if (families.contains(m.group(1))) {
                    fail("HELP after the family's TYPE, " + where);
                }
            } else if ((m = SAMPLE.matcher(line)).matches()) {
                String name = m.group(1);
                boolean ofFamily = name.equals(family) || ("summary".equals(type)
                        && (name.equals(family + "_count") || name.equals(family + "_sum")));
                if (!ofFamily) {
                    fail("sample outside its family's block, " + where);
                }
                String labels = m.group(2) == null ? "" : m.group(2);
                if (!series.add(name + labels)) {
                    fail("series given twice, " + where);
                }
            } else {
                fail("not in the exposition format, " + where);
            }
        }
    }
}
