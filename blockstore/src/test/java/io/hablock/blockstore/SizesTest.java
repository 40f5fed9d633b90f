package io.hablock.blockstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {

    @ParameterizedTest
    @CsvSource({
        "4096, 4096",
        "512M, 536870912",
        "10G, 10737418240",
        "1T, 1099511627776",
        "1P, 1125899906842624",
        "2k, 2048",
        "10GiB, 10737418240",
        "10gib, 10737418240",
        "10GB, 10737418240",
        "10Gi, 10737418240",
        "512B, 512",
        "' 7 M ', 7340032",
        "8191P, 9222246136947933184"
    })
    void parses(String text, long bytes) {
        assertThat(Sizes.parse(text)).isEqualTo(bytes);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "10X", "", "G", "1.5G", "-5", "-5G", "10 G B", "0x10", "ten", "10GG", "10Bi"
            })
    void refusesGarbage(String text) {
        assertThatThrownBy(() -> Sizes.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(
                        "invalid size '"
                                + text
                                + "': expected a number with an optional unit K, M, G, T or P, e.g."
                                + " 10G");
    }

    @Test
    void refusesZeroAndOverflow() {
        assertThatThrownBy(() -> Sizes.parse("0G"))
                .hasMessage("invalid size '0G': must be greater than zero");
        assertThatThrownBy(() -> Sizes.parse("8192P"))
                .hasMessage("invalid size '8192P': too large (at most 8191P)");
        assertThatThrownBy(() -> Sizes.parse("99999999999999999999999"))
                .hasMessageContaining("too large");
        assertThat(Sizes.parse(String.valueOf(Long.MAX_VALUE))).isEqualTo(Long.MAX_VALUE);
    }

    @ParameterizedTest
    @CsvSource({
        "0, 0B",
        "512, 512B",
        "1023, 1023B",
        "1024, 1K",
        "536870912, 512M",
        "10737418240, 10G",
        "1610612736, 1.5G",
        "1536, 1.5K",
        "1073741823, 1.0G",
        "1048575, 1.0M",
        "1099511627776, 1T",
        "9223372036854775807, 8192.0P"
    })
    void formats(long bytes, String text) {
        assertThat(Sizes.format(bytes)).isEqualTo(text);
    }

    @Test
    void formatRefusesNegative() {
        assertThatThrownBy(() -> Sizes.format(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Property
    void wholeUnitsRoundTrip(
            @ForAll @LongRange(min = 1, max = 1023) long n,
            @ForAll @IntRange(min = 0, max = 5) int exp) {
        long bytes = n << (10 * exp);
        assertThat(Sizes.parse(Sizes.format(bytes))).isEqualTo(bytes);
    }

    @Property
    void formatIsWithinFivePercent(
            @ForAll @LongRange(min = 1, max = Long.MAX_VALUE / 2) long bytes) {
        String text = Sizes.format(bytes);
        char unit = text.charAt(text.length() - 1);
        int exp = unit == 'B' ? 0 : "KMGTP".indexOf(unit) + 1;
        double shown =
                Double.parseDouble(text.substring(0, text.length() - 1)) * Math.pow(1024, exp);
        assertThat(shown).isCloseTo(bytes, org.assertj.core.data.Percentage.withPercentage(5));
    }
}
