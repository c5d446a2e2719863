package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The health rules shared by the status page and the CLI. */
class HealthTest {
    private static StatusReport.Member m(String a, boolean up, Long lag, Double lagSeconds) {
        return new StatusReport.Member(a, "follower", up, null, null, null, lag, lagSeconds, null, null);
    }

    @Test
    void rules() {
        assertThat(Health.assess(List.of(m("a", true, 0L, 0.0), m("b", true, null, null), m("c", true, 3L, 0.5)), "a"))
                .isEqualTo(new Health.Assessment(Health.HEALTHY, ""));
        assertThat(Health.assess(List.of(m("a", true, 0L, 0.0), m("b", true, 0L, 0.0), m("c", false, 0L, 0.0)), "a"))
                .isEqualTo(new Health.Assessment(Health.DEGRADED, "1 of 3 members down: c"));
        assertThat(Health.assess(
                                List.of(m("a", true, 0L, 0.0), m("b", false, null, null), m("c", false, null, null)),
                                "a")
                        .health())
                .isEqualTo(Health.UNAVAILABLE);
        assertThat(Health.assess(List.of(m("a", true, 0L, 0.0), m("b", true, 5000L, null), m("c", true, 0L, 0.0)), "a"))
                .isEqualTo(new Health.Assessment(Health.DEGRADED, "catching up: b"));
        assertThat(Health.assess(List.of(m("a", true, 0L, 0.0), m("b", true, 1L, 30.0)), "a")
                        .health())
                .isEqualTo(Health.DEGRADED);
        assertThat(Health.assess(
                        List.of(m("a", true, null, null), m("b", true, null, null), m("c", true, null, null)), null))
                .isEqualTo(new Health.Assessment(Health.UNAVAILABLE, "no leader known (election in progress?)"));
        assertThat(Health.assess(List.of(), "a").health()).isEqualTo(Health.UNAVAILABLE);
        assertThat(Health.assess(List.of(m("a", true, 0L, 0.0)), "a").health()).isEqualTo(Health.HEALTHY);
        assertThat(Health.DEGRADED.worst(Health.UNAVAILABLE)).isEqualTo(Health.UNAVAILABLE);
        assertThat(Health.DEGRADED.worst(Health.HEALTHY)).isEqualTo(Health.DEGRADED);
    }
}
