package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.fuse.FuseMount;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs {@link OverlayBench} in its smallest configuration, local and overlay only (no mergerfs, no
 * dropped caches), through a real FUSE mount and real tar and sync, and checks that the report
 * holds measured numbers and that nothing stays mounted. No speed is asserted: speed goals are
 * never timed tests. Skipped when FUSE is not available.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class OverlayBenchIT {
    @TempDir
    Path tmp;

    @Test
    void smallestRunMeasuresLocalAndOverlayWithoutMergerfs() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        OverlayBenchScale smallest = new OverlayBenchScale(0.3, 40, 4, 10, 8192, 20, 1 << 20, 1, 50);
        List<String> progress = new ArrayList<>();
        Path work = tmp.resolve("work");
        OverlayBenchReport r = OverlayBench.builder()
                .work(work)
                .scale(smallest)
                .mergerfs(false)
                .dropCaches(false)
                .progress(progress::add)
                .build()
                .run();
        System.out.print(r.toTable());

        assertThat(r.rows())
                .extracting(OverlayBenchReport.Row::workload)
                .containsExactly("maildir", "untar+sync", "stat-walk", "copy-up");
        for (OverlayBenchReport.Row row : r.rows()) {
            assertThat(row.local()).as(row.workload() + " local").isPositive().isFinite();
            assertThat(row.overlay())
                    .as(row.workload() + " overlay")
                    .isPositive()
                    .isFinite();
            assertThat(row.mergerfs()).as(row.workload() + " mergerfs").isNaN();
            assertThat(row.overlayVsLocal()).as(row.workload()).isPositive().isFinite();
            assertThat(row.overlayVsMergerfs()).as(row.workload()).isNaN();
            assertThat(row.operations()).as(row.workload()).isPositive();
        }
        assertThat(r.rows().get(2).operations()).as("walked entries").isEqualTo(4 + 1 + 40);
        assertThat(r.rows().get(3).operations()).as("copy-ups").isEqualTo(10);

        OverlayBenchReport.Foreground f = r.foreground();
        assertThat(f).isNotNull();
        // the operation under way when a phase ends belongs to it, so the first delivery is in the idle phase
        assertThat(f.idle().deliver().count()).isPositive();
        assertThat(f.idle().read().count() + f.merging().read().count()).isPositive();
        assertThat(f.merging().deliver().count() + f.merging().read().count()).isPositive();
        assertThat(f.idle().failed() + f.merging().failed()).isZero();
        assertThat(f.idle().deliver().p99Nanos()).isPositive();
        assertThat(f.merge().files()).isGreaterThanOrEqualTo(20);
        assertThat(f.merge().bytes()).isGreaterThanOrEqualTo(1 << 20);
        assertThat(f.merge().errors()).isZero();
        // what the merge wrote is in the lower layer now, file for file
        assertThat(Files.size(OverlayBench.mergeFile(work.resolve("merge/lower"), 1)))
                .isEqualTo(OverlayBenchScale.MERGE_SMALL_BYTES);

        assertThat(r.notes()).anyMatch(n -> n.contains("mergerfs not measured"));
        assertThat(r.toTable())
                .contains("maildir (msg/s")
                .contains("copy-up (files/s")
                .contains("p99 merge/idle");
        JsonNode json = new ObjectMapper().readTree(r.toJson());
        assertThat(json.path("rows").size()).isEqualTo(4);
        assertThat(json.path("rows").get(0).path("mergerfs").isNull()).isTrue();
        assertThat(json.path("rows").get(0).path("overlay").asDouble()).isPositive();
        assertThat(json.path("foreground").path("mergeRun").path("bytes").asLong())
                .isGreaterThanOrEqualTo(1 << 20);
        assertThat(progress).anyMatch(l -> l.startsWith("copy-up on overlay:"));

        try (Stream<String> mounts = Files.lines(Path.of("/proc/self/mountinfo"))) {
            assertThat(mounts.filter(l -> l.contains(tmp.toString())))
                    .as("mounts left behind")
                    .isEmpty();
        }
    }
}
