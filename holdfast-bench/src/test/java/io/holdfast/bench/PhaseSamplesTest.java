package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PhaseSamplesTest {
    @Test
    void keepsTwoKindsAndTheirUnion() {
        PhaseSamples p = new PhaseSamples(1_000, 100, true);
        for (int i = 1; i <= 10; i++) {
            p.record(true, i * 1_000L, null);
        }
        p.record(false, 50_000, null);
        p.record(false, 60_000, null);
        assertThat(p.first().count()).isEqualTo(10);
        assertThat(p.first().p50Nanos()).isEqualTo(5_000);
        assertThat(p.first().maxNanos()).isEqualTo(10_000);
        assertThat(p.second().count()).isEqualTo(2);
        assertThat(p.both().count()).isEqualTo(12);
        assertThat(p.both().maxNanos()).isEqualTo(60_000);
        assertThat(p.seconds(2_001_000)).isEqualTo(0.002);
    }

    @Test
    void failuresAreCountedTimedOnlyIfAskedAndTheirMessagesBounded() {
        PhaseSamples timed = new PhaseSamples(0, 100, true);
        PhaseSamples untimed = new PhaseSamples(0, 100, false);
        for (int i = 0; i < 8; i++) {
            timed.record(true, 7, "failure " + i);
            untimed.record(true, 7, "failure " + i);
        }
        assertThat(timed.failed()).isEqualTo(8);
        assertThat(untimed.failed()).isEqualTo(8);
        assertThat(timed.first().count()).isEqualTo(8);
        assertThat(untimed.first().count()).isZero();
        assertThat(timed.failures()).hasSize(PhaseSamples.KEEP_FAILURES).startsWith("failure 0");
    }

    @Test
    void latenciesPastTheBoundAreCountedAsDoneButNotTimed() {
        PhaseSamples p = new PhaseSamples(0, 2_000, true);
        for (int i = 0; i < 5_000; i++) {
            p.record(false, i < 2_000 ? 1 : 1_000_000, null);
        }
        assertThat(p.second().count()).isEqualTo(2_000);
        assertThat(p.second().maxNanos()).as("only the first 2,000 were kept").isEqualTo(1);
    }
}
