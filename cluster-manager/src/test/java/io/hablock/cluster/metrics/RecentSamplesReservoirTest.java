package io.hablock.cluster.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RecentSamplesReservoirTest {

    private final ManualClock clock = new ManualClock();

    @Test
    void keepsTheLatestSamplesAndTheSumOfAll() {
        RecentSamplesReservoir reservoir = new RecentSamplesReservoir(4, Duration.ofMinutes(1), clock);
        for (long v = 1; v <= 10; v++) {
            reservoir.update(v);
        }

        assertThat(reservoir.getSnapshot().getValues()).containsExactly(7, 8, 9, 10);
        assertThat(reservoir.size()).isEqualTo(4);
        assertThat(reservoir.sum()).isEqualTo(55);
    }

    @Test
    void samplesOlderThanTheWindowLeaveTheSnapshotButNotTheSum() {
        RecentSamplesReservoir reservoir = new RecentSamplesReservoir(8, Duration.ofMinutes(1), clock);
        reservoir.update(100);
        clock.advance(Duration.ofSeconds(45));
        reservoir.update(200);
        clock.advance(Duration.ofSeconds(30));

        assertThat(reservoir.getSnapshot().getValues()).containsExactly(200);
        clock.advance(Duration.ofMinutes(1));
        assertThat(reservoir.getSnapshot().size()).isZero();
        assertThat(reservoir.sum()).isEqualTo(300);
    }

    @Test
    void capacityMustBeAPowerOfTwo() {
        assertThatThrownBy(() -> new RecentSamplesReservoir(1000, Duration.ofMinutes(1), clock))
                .hasMessage("capacity must be a power of two: 1000");
    }
}
