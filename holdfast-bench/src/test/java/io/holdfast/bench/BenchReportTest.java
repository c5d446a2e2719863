package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchReportTest {

    private final BenchReport report = new BenchReport(List.of(
            new BenchResult(Workload.MAILDIR, "msg/s", 512.4, 2991.0, 2000, 8_192_000, Duration.ofMillis(3903)),
            new BenchResult(Workload.SEQ_READ, "MB/s", 61.25, Double.NaN, 1024, 1L << 30, Duration.ofSeconds(17))));

    @Test
    void tableIsAlignedAndShowsRatioAndGoal() {
        List<String> lines = report.toTable().lines().toList();
        assertThat(lines.get(0)).startsWith("workload").contains("Holdfast", "local", "ratio");
        assertThat(lines.get(1))
                .startsWith("MAILDIR")
                .contains("512 msg/s", "2991 msg/s", "0.17x", "≥ 300 msg/s, aim 500");
        assertThat(lines.get(2)).startsWith("SEQ_READ").contains("61.3 MB/s", " - ", "≥ 600 MB/s");
        // Right-aligned numeric columns end at the same position in every row.
        int ratioEnd = lines.get(0).indexOf("ratio") + "ratio".length();
        assertThat(lines.get(1).substring(0, ratioEnd)).endsWith("0.17x");
        assertThat(lines.get(2).substring(0, ratioEnd)).endsWith("-");
    }

    @Test
    void jsonWritesNullForMissingBaseline() {
        assertThat(report.toJson())
                .startsWith("{\"results\":[{\"workload\":\"MAILDIR\",\"unit\":\"msg/s\",\"target\":512.4,"
                        + "\"baseline\":2991.0,\"ratio\":")
                .contains("\"operations\":2000,\"bytes\":8192000,\"targetTimeNanos\":3903000000}")
                .contains("{\"workload\":\"SEQ_READ\",\"unit\":\"MB/s\",\"target\":61.25,"
                        + "\"baseline\":null,\"ratio\":null,\"operations\":1024,\"bytes\":1073741824,"
                        + "\"targetTimeNanos\":17000000000}]}");
    }

    @Test
    void ratioIsTargetOverBaseline() {
        assertThat(report.results().get(0).ratio()).isEqualTo(512.4 / 2991.0);
        assertThat(report.results().get(1).ratio()).isNaN();
    }
}
