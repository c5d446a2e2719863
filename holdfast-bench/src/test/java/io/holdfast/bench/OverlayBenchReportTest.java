package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The overlay bench's report (ratios, table, JSON) and scale; nothing here mounts anything. */
class OverlayBenchReportTest {
    private static final CatchUpReport.Latency IDLE =
            new CatchUpReport.Latency(100, 1_000_000, 0, 4_000_000, 9_000_000);
    private static final CatchUpReport.Latency BUSY = new CatchUpReport.Latency(80, 2_000_000, 0, 6_000_000, 9_500_000);

    private static OverlayBenchReport.Foreground foreground() {
        return new OverlayBenchReport.Foreground(
                50,
                2000,
                256L << 20,
                new OverlayBenchReport.Phase(20, IDLE, IDLE, 0, List.of()),
                new OverlayBenchReport.Phase(16, BUSY, IDLE, 1, List.of("read: boom")),
                new OverlayBenchReport.MergeRun(2000, 256L << 20, 16, 3, true, 0, 16L << 20, 1000));
    }

    @Test
    void ratiosAreSpeedsSoTimesAreInverted() {
        OverlayBenchReport.Row rate = new OverlayBenchReport.Row("maildir", "msg/s", true, 400, 200, 300, 10);
        assertThat(rate.overlayVsMergerfs()).isEqualTo(1.5);
        assertThat(rate.overlayVsLocal()).isEqualTo(0.75);
        OverlayBenchReport.Row time = new OverlayBenchReport.Row("untar+sync", "s", false, 1, 4, 2, 10);
        assertThat(time.overlayVsMergerfs()).as("mergerfs took twice as long").isEqualTo(2.0);
        assertThat(time.overlayVsLocal()).isEqualTo(0.5);
    }

    @Test
    void aMissingSystemHasNoRatio() {
        OverlayBenchReport.Row r = new OverlayBenchReport.Row("copy-up", "files/s", true, 100, Double.NaN, 50, 10);
        assertThat(r.overlayVsMergerfs()).isNaN();
        assertThat(r.overlayVsLocal()).isEqualTo(0.5);
        assertThat(new OverlayBenchReport.Row("x", "s", false, 0, 1, 1, 1).overlayVsLocal())
                .isNaN();
    }

    @Test
    void tableShowsEverySystemTheRatiosTheLatenciesAndTheNotes() {
        OverlayBenchReport r = new OverlayBenchReport(
                List.of(
                        new OverlayBenchReport.Row("maildir", "msg/s", true, 400, Double.NaN, 300, 10),
                        new OverlayBenchReport.Row("stat-walk", "s", false, 0.5, 2, 1, 10)),
                foreground(),
                List.of("mergerfs NOT MEASURED: no mergerfs on PATH"));
        String t = r.toTable();
        assertThat(t).contains("maildir (msg/s, higher is better)");
        assertThat(t.lines().filter(l -> l.startsWith("maildir")).findFirst().orElseThrow())
                .contains("400", "300", "-", "0.75x");
        assertThat(t.lines().filter(l -> l.startsWith("stat-walk")).findFirst().orElseThrow())
                .contains("0.500", "2.00", "1.00", "2.00x", "0.50x");
        assertThat(t.lines().filter(l -> l.startsWith("deliver")).findFirst().orElseThrow())
                .contains("1.00 ms", "4.00 ms", "2.00 ms", "6.00 ms", "1.50x");
        assertThat(t).contains("merge failure: read: boom");
        assertThat(t).contains("2000 files, 256.0 MiB in 16.0 s = 16.0 MiB/s, 3 passes, complete");
        assertThat(t).contains("Note: mergerfs NOT MEASURED");
        assertThat(t).endsWith(System.lineSeparator());
    }

    @Test
    void jsonHasNullsForWhatWasNotMeasured() throws Exception {
        OverlayBenchReport r = new OverlayBenchReport(
                List.of(new OverlayBenchReport.Row("maildir", "msg/s", true, 400, Double.NaN, 300, 10)),
                foreground(),
                List.of("n"));
        JsonNode j = new ObjectMapper().readTree(r.toJson());
        JsonNode row = j.path("rows").get(0);
        assertThat(row.path("mergerfs").isNull()).isTrue();
        assertThat(row.path("overlayVsMergerfs").isNull()).isTrue();
        assertThat(row.path("overlayVsLocal").asDouble()).isEqualTo(0.75);
        assertThat(row.path("higherIsBetter").asBoolean()).isTrue();
        JsonNode f = j.path("foreground");
        assertThat(f.path("idle").path("deliver").path("p99Nanos").asLong()).isEqualTo(4_000_000);
        assertThat(f.path("merge").path("failed").asLong()).isEqualTo(1);
        assertThat(f.path("deliverP99Ratio").asDouble()).isEqualTo(1.5);
        assertThat(f.path("mergeRun").path("bytesPerSecond").asDouble()).isEqualTo(16.0 * (1 << 20));
        assertThat(j.path("notes").get(0).asText()).isEqualTo("n");

        JsonNode none = new ObjectMapper().readTree(new OverlayBenchReport(List.of(), null, List.of()).toJson());
        assertThat(none.path("foreground").isNull()).isTrue();
    }

    @Test
    void scaleRefusesOutOfRangeValuesAndSpreadsTheMergedBytes() {
        assertThatThrownBy(() -> OverlayBenchScale.full(0)).hasMessageContaining("maildirSeconds");
        assertThatThrownBy(() -> new OverlayBenchScale(1, 0, 1, 1, 1, 1, 8192, 1, 1))
                .hasMessageContaining("treeFiles");
        assertThatThrownBy(() -> new OverlayBenchScale(1, 1, 1, 1, 1, 10, 8191, 1, 1))
                .hasMessageContaining("mergeBytes");
        OverlayBenchScale s = OverlayBenchScale.full(20);
        long total = 0;
        for (int i = 0; i < s.mergeFiles(); i++) {
            total += s.mergeFileBytes(i);
        }
        assertThat(total).isBetween(s.mergeBytes() - 100, s.mergeBytes());
        assertThat(s.mergeFileBytes(1)).isEqualTo(OverlayBenchScale.MERGE_SMALL_BYTES);
        assertThat(s.mergeFileBytes(0)).isGreaterThan(1 << 20);
    }
}
