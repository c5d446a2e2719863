package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.bench.OverlayBenchScale;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Options of {@code holdfast bench overlay} (its report: {@code OverlayBenchReportTest}); nothing here mounts. */
class OverlayBenchCommandTest {
    private static OverlayBenchCommand parse(String... args) {
        OverlayBenchCommand c = new OverlayBenchCommand();
        new CommandLine(c).parseArgs(args);
        return c;
    }

    @Test
    void defaultsAreTheFullScaleForTwentySecondsWithMergerfs() {
        OverlayBenchCommand c = parse();
        assertThat(c.scale()).isEqualTo(OverlayBenchScale.full(20));
        assertThat(c.noMergerfs).isFalse();
        assertThat(c.json).isFalse();
        assertThat(c.cacheTimeout).isZero();
        assertThat(c.work).isNull();
    }

    @Test
    void quickIsSmallAndShortAndSecondsWin() {
        assertThat(parse("--quick").scale()).isEqualTo(OverlayBenchScale.quick(3));
        assertThat(parse("--quick", "--seconds", "7").scale()).isEqualTo(OverlayBenchScale.quick(7));
        assertThat(parse("--seconds", "60").scale().maildirSeconds()).isEqualTo(60);
        assertThat(parse("--no-mergerfs", "--json").noMergerfs).isTrue();
    }

    @Test
    void outOfRangeOptionsAreRefused() {
        assertThatThrownBy(() -> parse("--seconds", "0").scale())
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--seconds");
        assertThatThrownBy(() -> parse("--cache-timeout", "-1").scale())
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--cache-timeout");
        assertThatThrownBy(() -> parse("--seconds", "x")).isInstanceOf(CommandLine.ParameterException.class);
    }

    @Test
    void helpTeachesTheSystemsWorkloadsAndGoals() {
        Cli r = Cli.run("bench", "overlay", "--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("mergerfs", "category.create=ff", "copy-up", "stat-walk", "p99", "--no-mergerfs");
        assertThat(Cli.run("bench", "--help").out()).contains("holdfast bench overlay");
    }
}
