package io.holdfast.client;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HedgeDelayTest {
    @Test
    void startsAtTheMaximumUntilTheWindowIsFull() {
        HedgeDelay d = new HedgeDelay();
        for (int i = 0; i < HedgeDelay.WINDOW - 1; i++) {
            d.record(1_000);
        }
        assertThat(d.nanos()).isEqualTo(HedgeDelay.MAX_NANOS);
        d.record(1_000);
        assertThat(d.nanos()).isEqualTo(HedgeDelay.MIN_NANOS); // 1 µs reads: clamped up to 2 ms
    }

    @Test
    void followsTheNinetiethPercentile() {
        HedgeDelay d = new HedgeDelay();
        // 90 % of reads take 3 ms, 6 % take 8 ms, 4 % wait 500 ms (the heartbeat case)
        for (int i = 0; i < HedgeDelay.WINDOW * 4; i++) {
            int k = i % 100;
            d.record(k < 90 ? 3_000_000 : k < 96 ? 8_000_000 : 500_000_000);
        }
        assertThat(d.nanos()).isBetween(3_000_000L, 8_000_000L);
    }

    @Test
    void slowMembersRaiseItOnlyToTheMaximum() {
        HedgeDelay d = new HedgeDelay();
        for (int i = 0; i < HedgeDelay.WINDOW; i++) {
            d.record(400_000_000);
        }
        assertThat(d.nanos()).isEqualTo(HedgeDelay.MAX_NANOS);
        for (int i = 0; i < HedgeDelay.WINDOW; i++) {
            d.record(4_000_000);
        }
        assertThat(d.nanos()).isEqualTo(4_000_000);
    }
}
