package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgressMeterTest {

    private long now;
    private final List<String> lines = new ArrayList<>();
    private final ProgressMeter meter = new ProgressMeter(() -> now, lines::add, "X target: ");

    @Test
    void phaseLinesAreImmediatePercentLinesAtMostOncePerSecond() {
        meter.phase("writing");
        assertThat(lines).containsExactly("X target: writing");

        now += 999_999_999L;
        meter.update(10, 100);
        assertThat(lines).hasSize(1);

        now += 1;
        meter.update(25, 100);
        meter.update(26, 100);
        assertThat(lines).containsExactly("X target: writing", "X target: 25% (25/100)");

        now += 5_000_000_000L;
        meter.update(100, 100); // done: the rate line follows, no "100%"
        assertThat(lines).hasSize(2);

        meter.phase("reading");
        meter.update(50, 100); // a new phase restarts the interval
        assertThat(lines).last().isEqualTo("X target: reading");
    }
}
