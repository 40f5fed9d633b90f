package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The budget's rules, on the budget alone (MemoryBudgetTest has them against real clients). */
class MemoryBudgetRulesTest {
    private static final long MIB = 1 << 20;

    @Test
    void aConnectionThatHoldsMemoryGetsNoMoreBeyondTheLimit() {
        MemoryBudget budget = new MemoryBudget(64 * MIB);
        MemoryBudget.Account hog = budget.open();
        assertThat(hog.tryReserve(60 * MIB)).isTrue();
        assertThat(hog.tryReserve(8 * MIB)).as("past the limit, holding memory already").isFalse();
        assertThat(hog.tryReserve(4 * MIB)).as("up to the limit").isTrue();
    }

    @Test
    void aConnectionThatHoldsNothingGetsTheFloorOrItsShareUpToOneAndAHalfTimesTheLimit() {
        MemoryBudget budget = new MemoryBudget(64 * MIB);
        MemoryBudget.Account hog = budget.open();
        assertThat(hog.tryReserve(64 * MIB)).isTrue();
        MemoryBudget.Account small = budget.open();
        assertThat(small.tryReserve(MemoryBudget.FLOOR_BYTES)).as("the floor").isTrue();
        small.release(MemoryBudget.FLOOR_BYTES);
        MemoryBudget.Account fair = budget.open();
        assertThat(fair.tryReserve(16 * MIB)).as("its share: 64 MiB / 2").isTrue();
        MemoryBudget.Account late = budget.open();
        assertThat(late.tryReserve(22 * MIB)).as("over its share of 64 / 3").isFalse();
        assertThat(late.tryReserve(17 * MIB)).as("within its share, past 1.5 x the limit").isFalse();
        assertThat(late.tryReserve(MemoryBudget.FLOOR_BYTES)).as("the floor, always").isTrue();
        assertThat(budget.used()).isEqualTo(80 * MIB + MemoryBudget.FLOOR_BYTES);
    }

    /**
     * A connection that wants more than there is, while the budget is below its limit, is not
     * woken again and again (it spun on its event loop before): only a release wakes it, and when
     * it fits it is woken at once.
     */
    @Test
    void aWaiterIsWokenOnlyByAReleaseOrWhenItFits() {
        MemoryBudget budget = new MemoryBudget(64 * MIB);
        MemoryBudget.Account hog = budget.open();
        MemoryBudget.Account other = budget.open();
        assertThat(hog.tryReserve(56 * MIB)).isTrue();
        assertThat(other.tryReserve(4 * MIB)).isTrue();
        assertThat(hog.tryReserve(8 * MIB)).isFalse();
        AtomicInteger woken = new AtomicInteger();
        budget.await(hog, 8 * MIB, woken::incrementAndGet);
        assertThat(woken).as("60 of 64 MiB used, 8 wanted: no room, no wake").hasValue(0);
        other.release(4 * MIB);
        assertThat(woken).as("woken by the release").hasValue(1);
        assertThat(hog.tryReserve(8 * MIB)).isTrue();
        budget.await(other, MIB, woken::incrementAndGet);
        assertThat(woken).as("room already: woken at once").hasValue(2);
    }
}
