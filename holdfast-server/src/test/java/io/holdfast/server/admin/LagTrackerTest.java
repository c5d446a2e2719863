package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Lag in seconds from sampled commit indexes, with a fake clock. */
class LagTrackerTest {
    private static final long S = 1_000_000_000L;
    private final UUID g = UUID.randomUUID();
    private final LagTracker lag = new LagTracker();

    @Test
    void aFollowerThatHoldsEverythingCommittedHasNoLag() {
        lag.record(g, 0, 10);
        assertThat(lag.lagSeconds(g, 10, 10, 5 * S)).isZero();
        assertThat(lag.lagSeconds(g, 12, 10, 5 * S)).isZero();
    }

    @Test
    void lagIsTheAgeOfTheFirstSampleBeyondTheMatchIndex() {
        lag.record(g, 0, 10);
        lag.record(g, 1 * S, 20);
        lag.record(g, 2 * S, 30);
        lag.record(g, 3 * S, 30); // no change: not kept
        lag.record(g, 4 * S, 45);
        // holds up to 20: lacks 21..45, of which 21 was first seen committed at 2 s
        assertThat(lag.lagSeconds(g, 20, 45, 6 * S)).isCloseTo(4.0, within(1e-9));
        // holds up to 25: the first sample above it is still the one at 2 s
        assertThat(lag.lagSeconds(g, 25, 45, 6 * S)).isCloseTo(4.0, within(1e-9));
        // holds up to 30: lacks 31..45, first seen at 4 s
        assertThat(lag.lagSeconds(g, 30, 45, 6 * S)).isCloseTo(2.0, within(1e-9));
        // a follower that stops at 20 while the others go on lags more and more
        assertThat(lag.lagSeconds(g, 20, 45, 16 * S)).isCloseTo(14.0, within(1e-9));
    }

    @Test
    void beyondTheHistoryTheLagIsAtLeastItsAge() {
        for (int i = 0; i < LagTracker.HISTORY + 10; i++) {
            lag.record(g, i * S, 100 + i);
        }
        long now = (LagTracker.HISTORY + 10) * S;
        // index 100 is older than every kept sample: the oldest kept one (at 10 s) bounds it
        assertThat(lag.lagSeconds(g, 100, 100 + LagTracker.HISTORY + 9, now))
                .isCloseTo(LagTracker.HISTORY, within(1e-9));
    }

    @Test
    void unknownOrForgottenGroupsHaveNoLag() {
        assertThat(lag.lagSeconds(g, 1, 5, S)).isZero();
        lag.record(g, 0, 5);
        lag.retain(Set.of());
        assertThat(lag.lagSeconds(g, 1, 5, 10 * S)).isZero();
    }
}
