package io.hablock.cluster.metrics;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The checker the other tests rely on must itself reject what Prometheus would. */
class ExpositionTest {

    @Test
    void acceptsWellFormedFamilies() {
        assertThatCode(() -> Exposition.assertValid("""
                # HELP a_total Help with \\\\ and \\n.
                # TYPE a_total counter
                a_total{x="q\\"\\\\\\n",y=""} 1
                # TYPE s summary
                s{quantile="0.5"} NaN
                s_count 2
                s_sum 1.5E-4
                """)).doesNotThrowAnyException();
    }

    @Test
    void rejectsMalformedLines() {
        String[] bad = {
            "a-b 1\n",                                    // invalid name
            "# TYPE a counter\na{x=\"unterminated} 1\n",  // bad label value
            "# TYPE a counter\na{x=\"\\t\"} 1\n",          // unknown escape
            "# TYPE a counter\na 1,5\n",                  // bad value
            "# TYPE a counter\na 1",                      // no final newline
            "# TYPE a counter\n# TYPE a gauge\n",         // typed twice
            "# TYPE a counter\nb 1\n",                    // sample outside its family
            "# TYPE a counter\na 1\na 2\n",               // same series twice
            "# TYPE a widget\n",                          // unknown type
        };
        for (String body : bad) {
            assertThatThrownBy(() -> Exposition.assertValid(body)).as(body).isInstanceOf(AssertionError.class);
        }
    }
}
