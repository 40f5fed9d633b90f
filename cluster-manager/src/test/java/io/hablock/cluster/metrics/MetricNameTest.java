package io.hablock.cluster.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MetricNameTest {

    @Test
    void registryKeyIsTheSeriesSyntaxWithSortedLabels() {
        MetricName name = MetricName.of("hablock_volume_ops", "volume", "db", "op", "read");

        assertThat(name.registryKey()).isEqualTo("hablock_volume_ops{op=\"read\",volume=\"db\"}");
        assertThat(MetricName.of("plain").registryKey()).isEqualTo("plain");
    }

    @Test
    void keysParseBackToTheSameName() {
        MetricName name = MetricName.of("f", "volume", "a\\b\"c\nd,e=\"f\"}", "peer", "");

        assertThat(name.registryKey())
                .isEqualTo("f{peer=\"\",volume=\"a\\\\b\\\"c\\nd,e=\\\"f\\\"}\"}");
        assertThat(MetricName.fromRegistryKey(name.registryKey())).isEqualTo(name);
        assertThat(MetricName.fromRegistryKey("plain")).isEqualTo(MetricName.of("plain"));
    }

    @Test
    void keysThatDoNotParseBecomeSanitizedNamesWithoutLabels() {
        assertThat(MetricName.fromRegistryKey("jvm.threads.count")).isEqualTo(MetricName.of("jvm_threads_count"));
        assertThat(MetricName.fromRegistryKey("9lives")).isEqualTo(MetricName.of("_9lives"));
        assertThat(MetricName.fromRegistryKey("a{b=\"c")).isEqualTo(MetricName.of("a_b__c"));
        assertThat(MetricName.fromRegistryKey("a{b=\"c\\x\"}")).isEqualTo(MetricName.of("a_b__c_x__"));
        assertThat(MetricName.fromRegistryKey("a{quantile=\"1\"}").labels()).isEmpty();
        assertThat(MetricName.fromRegistryKey("")).isEqualTo(MetricName.of("_"));
    }

    @Test
    void invalidNamesAreRefused() {
        assertThatThrownBy(() -> MetricName.of("bad-name")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MetricName.of("f", "bad-label", "v"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MetricName.of("f", "quantile", "v"))
                .hasMessage("invalid or reserved label name: quantile");
        assertThatThrownBy(() -> MetricName.of("f", "__name__", "v"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MetricName.of("f", "volume")).isInstanceOf(IllegalArgumentException.class);
    }
}
