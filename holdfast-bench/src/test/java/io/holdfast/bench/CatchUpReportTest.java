package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The report of {@code holdfast bench catch-up}: percentiles, text and JSON; nothing here starts a node. */
class CatchUpReportTest {
    @Test
    void percentilesAreNearestRank() {
        long[] nanos = new long[200];
        for (int i = 0; i < nanos.length; i++) {
            nanos[i] = (nanos.length - i) * 1_000_000L; // 200 ms .. 1 ms, unsorted input
        }
        CatchUpReport.Latency l = CatchUpReport.Latency.of(nanos, 100); // the first 100: 200 .. 101 ms
        assertThat(l.count()).isEqualTo(100);
        assertThat(l.p50Nanos()).isEqualTo(150_000_000L);
        assertThat(l.p90Nanos()).isEqualTo(190_000_000L);
        assertThat(l.p99Nanos()).isEqualTo(199_000_000L);
        assertThat(l.maxNanos()).isEqualTo(200_000_000L);
        assertThat(nanos[0]).as("input untouched").isEqualTo(200_000_000L);
        assertThat(CatchUpReport.Latency.of(nanos, 0)).isEqualTo(CatchUpReport.Latency.NONE);
    }

    private static CatchUpReport sample(String error, long failedDuring) {
        CatchUpReport.Latency fast = new CatchUpReport.Latency(1000, 2_000_000, 5_000_000, 10_000_000, 40_000_000);
        CatchUpReport.Latency slow = new CatchUpReport.Latency(600, 3_000_000, 9_000_000, 25_000_000, 900_000_000);
        CatchUpReport.Phase normal = new CatchUpReport.Phase(20.0, fast, fast, fast, 0, List.of());
        CatchUpReport.Phase snap = new CatchUpReport.Phase(8.0, slow, slow, slow, 0, List.of());
        CatchUpReport.Phase during = new CatchUpReport.Phase(
                40.0,
                slow,
                slow,
                slow,
                failedDuring,
                failedDuring == 0 ? List.of() : List.of("ETIMEDOUT: query GetAttr got no answer"));
        CatchUpReport.Round round = new CatchUpReport.Round(
                1,
                "127.0.0.1:7003",
                "127.0.0.1:7004",
                "127.0.0.1:7001",
                32L << 20,
                1093,
                1L << 30,
                9.5,
                12.5,
                normal,
                snap,
                during,
                40.0,
                2.0,
                1L << 30,
                32.0,
                32.0 * (1 << 20),
                true,
                35.0,
                error);
        return new CatchUpReport(
                new CatchUpReport.Setup(
                        List.of("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"),
                        "127.0.0.1:7004",
                        1L << 30,
                        64,
                        1 << 20,
                        64.0,
                        20_000),
                List.of(round));
    }

    @Test
    void theTextReportNamesTheRatiosAndFailures() {
        CatchUpReport r = sample(null, 0);
        String text = r.toText();
        assertThat(text)
                .contains("1 GiB in 64 files, 1 MiB writes, loaded in 64.0 s (16 MiB/s)")
                .contains("replace 127.0.0.1:7003 by 127.0.0.1:7004 (a follower; the leader is 127.0.0.1:7001), "
                        + "catch-up rate 32 MiB/s")
                .contains("catch-up time      40.0 s")
                .contains("effective rate     25.6 MiB/s")
                .contains("first bytes after 2.0 s; 1 GiB received, 32 MiB/s over 32.0 s")
                .contains("longest stall      35.0 s")
                .contains("p99 during / normal 2.50x")
                .contains("requests/s during / normal 0.30x")
                .contains("failed foreground requests: 0");
        assertThat(text.lines()
                        .filter(l -> l.startsWith("    normal"))
                        .findFirst()
                        .orElseThrow())
                .contains("20.0", "1000", "50.0", "2.00", "5.00", "10.00", "40.00");
        assertThat(r.failedOperations()).isZero();
        assertThat(r.completed()).isTrue();

        CatchUpReport bad = sample("ETIMEDOUT: no progress", 3);
        assertThat(bad.toText())
                .contains(
                        "FAILED             ETIMEDOUT: no progress",
                        "failure: ETIMEDOUT: query GetAttr",
                        "failed foreground requests: 3");
        assertThat(bad.completed()).isFalse();
    }

    @Test
    void theJsonReportCarriesTheSameNumbers() throws Exception {
        var json = new ObjectMapper().readTree(sample(null, 0).toJson());
        var round = json.get("rounds").get(0);
        assertThat(json.get("setup").get("dataBytes").asLong()).isEqualTo(1L << 30);
        assertThat(round.get("rateBytesPerSecond").asLong()).isEqualTo(32L << 20);
        assertThat(round.get("catchUpSeconds").asDouble()).isEqualTo(40.0);
        assertThat(round.get("p99Ratio").asDouble()).isEqualTo(2.5);
        assertThat(round.get("normal").get("all").get("p99Ms").asDouble()).isEqualTo(10.0);
        assertThat(round.get("during").get("opsPerSecond").asDouble()).isEqualTo(15.0);
        assertThat(round.get("error").isNull()).isTrue();
        assertThat(json.get("failedOperations").asLong()).isZero();
    }
}
