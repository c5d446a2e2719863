package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.bench.CatchUpBench;
import io.holdfast.server.NodeOptions;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Options of {@code holdfast bench catch-up} (its report: {@code CatchUpReportTest}); nothing here starts a node. */
class CatchUpBenchCommandTest {
    private static final Path DIR = Path.of("/nonexistent/catchup");

    private static CatchUpBench.Settings parse(String... args) {
        CatchUpBenchCommand c = new CatchUpBenchCommand();
        new CommandLine(c).parseArgs(args);
        return c.settings(DIR);
    }

    @Test
    void defaultsAreOneGibibyteAtTheServersRateWithATwentySecondBaseline() {
        CatchUpBench.Settings s = parse();
        assertThat(s.dataBytes()).isEqualTo(1L << 30);
        assertThat(s.ratesBytesPerSecond()).containsExactly(NodeOptions.DEFAULT_CATCH_UP_RATE);
        assertThat(s.baselineSeconds()).isEqualTo(20);
        assertThat(s.snapshotThreshold()).isEqualTo(20_000);
        assertThat(s.dir()).isEqualTo(DIR);
    }

    @Test
    void quickIsSixtyFourMebibytesAndExplicitOptionsWin() {
        assertThat(parse("--quick").dataBytes()).isEqualTo(64L << 20);
        assertThat(parse("--quick").baselineSeconds()).isEqualTo(10);
        CatchUpBench.Settings s = parse("--quick", "--size", "1.5GiB", "--baseline-seconds", "7", "--rate", "128");
        assertThat(s.dataBytes()).isEqualTo(3L << 29);
        assertThat(s.baselineSeconds()).isEqualTo(7);
        assertThat(s.ratesBytesPerSecond()).containsExactly(128L << 20);
    }

    @Test
    void ratesGiveOneRoundEach() {
        assertThat(parse("--rates", "8,32,0.5").ratesBytesPerSecond()).containsExactly(8L << 20, 32L << 20, 1L << 19);
    }

    @Test
    void contradictoryOrOutOfRangeOptionsAreRefused() {
        assertThatThrownBy(() -> parse("--rate", "8", "--rates", "8,32"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("not both");
        assertThatThrownBy(() -> parse("--rate", "0"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("positive");
        assertThatThrownBy(() -> parse("--rates", "1,2,3,4,5,6,7,8,9"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("at most 8");
        assertThatThrownBy(() -> parse("--baseline-seconds", "0"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("baseline");
        assertThatThrownBy(() -> parse("--size", "lots"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("not a size");
    }

    @Test
    void sizesTakeBinaryUnits() {
        CatchUpBenchCommand.SizeConverter c = new CatchUpBenchCommand.SizeConverter();
        assertThat(c.convert("4096")).isEqualTo(4096L);
        assertThat(c.convert("64MiB")).isEqualTo(64L << 20);
        assertThat(c.convert("64m")).isEqualTo(64L << 20);
        assertThat(c.convert("1 GiB")).isEqualTo(1L << 30);
        assertThat(c.convert("2T")).isEqualTo(2L << 40);
        assertThat(c.convert("12KB")).isEqualTo(12L << 10);
        assertThatThrownBy(() -> c.convert("0")).isInstanceOf(CommandLine.TypeConversionException.class);
        assertThatThrownBy(() -> c.convert("1PB")).isInstanceOf(CommandLine.TypeConversionException.class);
    }
}
