package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.ScrubStats;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The scrub status table and exit status, from members' answers (no cluster). */
class ScrubCommandsTest {
    private static ScrubStats stats(
            ScrubStats.State state,
            long passes,
            long done,
            long total,
            long startMillis,
            long unrepairable,
            String quarantine) {
        return new ScrubStats(
                state,
                quarantine,
                passes,
                done,
                total,
                done,
                done / 65536,
                0,
                0,
                unrepairable,
                0,
                0,
                startMillis,
                startMillis == 0 || state == ScrubStats.State.RUNNING ? 0 : startMillis + 1000,
                0,
                16L << 20,
                "");
    }

    private record Printed(int exit, String out) {}

    private static Printed print(Map<String, Response> members) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int exit = ScrubCommands.print(Map.of("v", members), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        return new Printed(exit, bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aPassThatNeverRanIsNotShownAsDone() {
        Map<String, Response> members = new LinkedHashMap<>();
        members.put("10.0.0.1:7001", new Response.ScrubStatus(stats(ScrubStats.State.IDLE, 0, 0, 0, 0, 0, "")));
        members.put(
                "10.0.0.2:7001",
                new Response.ScrubStatus(stats(ScrubStats.State.IDLE, 1, 200_000, 200_000, 1_700_000_000_000L, 0, "")));
        members.put(
                "10.0.0.3:7001",
                new Response.ScrubStatus(
                        stats(ScrubStats.State.RUNNING, 1, 50_000, 200_000, 1_700_000_100_000L, 0, "")));
        Printed p = print(members);
        assertThat(p.exit()).isZero();
        assertThat(p.out())
                .containsPattern("(?m)^  10\\.0\\.0\\.1:7001 +idle +never run +0 B +0 .* never +on request$");
        assertThat(p.out()).containsPattern("(?m)^  10\\.0\\.0\\.2:7001 +idle +100% +195 KiB ");
        assertThat(p.out()).containsPattern("(?m)^  10\\.0\\.0\\.3:7001 +running +25% +48\\.8 KiB ");
        assertThat(p.out()).doesNotContainPattern("10\\.0\\.0\\.1:7001 .*100%");

        ScrubStats never = stats(ScrubStats.State.IDLE, 0, 0, 0, 0, 0, "");
        assertThat(ScrubCommands.Status.Member.of("a", new Response.ScrubStatus(never))
                        .progress())
                .isNull();
        assertThat(ScrubCommands.Status.Member.of("b", members.get("10.0.0.2:7001"))
                        .progress())
                .isEqualTo(1.0);
        assertThat(ScrubCommands.pass(stats(ScrubStats.State.PAUSED, 0, 0, 0, 0, 0, "")))
                .isEqualTo("never run");
    }

    @Test
    void exitStatusIsFourForDamageAndThreeForAMemberThatDidNotAnswer() {
        Map<String, Response> down = new LinkedHashMap<>();
        down.put("10.0.0.1:7001", new Response.ScrubStatus(stats(ScrubStats.State.IDLE, 0, 0, 0, 0, 0, "")));
        down.put("10.0.0.2:7001", new Response.Error(Errno.ETIMEDOUT, "no answer"));
        Printed p = print(down);
        assertThat(p.exit()).isEqualTo(ScrubCommands.EXIT_DOWN).isEqualTo(3);
        assertThat(p.out()).containsPattern("(?m)^  10\\.0\\.0\\.2:7001 +DOWN \\(ETIMEDOUT: no answer\\)$");

        Map<String, Response> damaged = new LinkedHashMap<>(down);
        damaged.put(
                "10.0.0.3:7001",
                new Response.ScrubStatus(stats(ScrubStats.State.IDLE, 1, 10, 10, 1_700_000_000_000L, 1, "")));
        assertThat(print(damaged).exit()).isEqualTo(ScrubCommands.EXIT_DAMAGED).isEqualTo(4);
    }
}
