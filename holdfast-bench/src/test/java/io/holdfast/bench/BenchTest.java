package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchTest {

    /** 3 MiB plus a partial chunk, so the last write and read are short. */
    private static final long SEQ_BYTES = (3L << 20) + 12_345;

    private static final BenchScale TINY = new BenchScale(20, SEQ_BYTES, 50, 7);

    @TempDir
    Path target;

    @TempDir
    Path baseline;

    @Test
    void runsEveryWorkloadOnTargetAndBaselineAndCleansUp() throws IOException {
        List<String> progress = new ArrayList<>();
        BenchReport report = Bench.builder()
                .target(target)
                .baseline(baseline)
                .scale(TINY)
                .progress(progress::add)
                .build()
                .run();

        assertThat(report.results()).extracting(BenchResult::workload).containsExactly(Workload.values());
        for (BenchResult r : report.results()) {
            assertThat(r.target()).as(r.workload() + " target").isPositive().isFinite();
            assertThat(r.baseline()).as(r.workload() + " baseline").isPositive().isFinite();
            assertThat(r.ratio()).as(r.workload() + " ratio").isPositive().isFinite();
            assertThat(r.targetTime()).as(r.workload() + " time").isPositive();
            assertThat(r.unit()).isEqualTo(r.workload().unit());
        }
        long chunks = 4; // 3 full MiB and one partial
        assertThat(result(report, Workload.MAILDIR))
                .extracting(BenchResult::operations, BenchResult::bytes)
                .containsExactly(20L, 20L * 4096);
        assertThat(result(report, Workload.SEQ_WRITE))
                .extracting(BenchResult::operations, BenchResult::bytes)
                .containsExactly(chunks, SEQ_BYTES);
        assertThat(result(report, Workload.SEQ_READ))
                .extracting(BenchResult::operations, BenchResult::bytes)
                .containsExactly(chunks, SEQ_BYTES);
        assertThat(result(report, Workload.STAT_TREE))
                .extracting(BenchResult::operations, BenchResult::bytes)
                .containsExactly(1L + 7 + 50, 0L);

        assertThat(entries(target)).isEmpty();
        assertThat(entries(baseline)).isEmpty();

        String table = report.toTable();
        for (Workload w : Workload.values()) {
            assertThat(table).contains(w.name());
            assertThat(report.toJson()).contains("\"workload\":\"" + w.name() + "\"");
            assertThat(progress).anyMatch(line -> line.startsWith(w + " target: "));
            assertThat(progress).anyMatch(line -> line.startsWith(w + " baseline: "));
        }
        assertThat(table).contains("Holdfast", "local", "ratio", "TARGETS.md", "MB = 10^6 bytes");
    }

    @Test
    void keepFilesLeavesTheDeliveredMaildir() throws IOException {
        Bench.builder()
                .target(target)
                .workloads(Set.of(Workload.MAILDIR))
                .scale(TINY)
                .keepFiles(true)
                .build()
                .run();

        List<Path> workDirs = entries(target);
        assertThat(workDirs).hasSize(1);
        assertThat(workDirs.getFirst().getFileName().toString()).startsWith("holdfast-bench-");
        assertThat(entries(workDirs.getFirst().resolve("maildir/new"))).hasSize(20);
        assertThat(entries(workDirs.getFirst().resolve("maildir/tmp"))).isEmpty();
    }

    @Test
    void withoutBaselineOnlyTheTargetRuns() throws IOException {
        BenchReport report = Bench.builder()
                .target(target)
                .workloads(EnumSet.of(Workload.STAT_TREE, Workload.MAILDIR))
                .scale(TINY)
                .build()
                .run();

        assertThat(report.results())
                .extracting(BenchResult::workload)
                .containsExactly(Workload.MAILDIR, Workload.STAT_TREE);
        assertThat(report.results()).allSatisfy(r -> {
            assertThat(r.target()).isPositive();
            assertThat(r.baseline()).isNaN();
            assertThat(r.ratio()).isNaN();
        });
        assertThat(report.toJson()).contains("\"baseline\":null", "\"ratio\":null");
        assertThat(entries(target)).isEmpty();
    }

    @Test
    void seqReadAloneWritesItsFileUntimed() throws IOException {
        List<Path> seen = new ArrayList<>();
        BenchReport report = Bench.builder()
                .target(target)
                .baseline(baseline)
                .workloads(Set.of(Workload.SEQ_READ))
                .scale(TINY)
                .beforeSeqRead(seen::add)
                .build()
                .run();

        assertThat(report.results()).singleElement().satisfies(r -> {
            assertThat(r.workload()).isEqualTo(Workload.SEQ_READ);
            assertThat(r.bytes()).isEqualTo(SEQ_BYTES);
        });
        assertThat(seen).hasSize(2);
    }

    @Test
    void corruptionBetweenWriteAndReadFailsSeqRead() throws IOException {
        AtomicInteger corrupted = new AtomicInteger();
        Bench bench = Bench.builder()
                .target(target)
                .baseline(baseline)
                .scale(TINY)
                .beforeSeqRead(file -> {
                    flipByte(file, SEQ_BYTES / 2);
                    corrupted.incrementAndGet();
                })
                .build();

        assertThatThrownBy(bench::run)
                .isInstanceOf(IOException.class)
                .hasMessageContaining("SEQ_READ on target")
                .hasMessageContaining("data mismatch: CRC32C")
                .hasMessageContaining("seq.dat");
        assertThat(corrupted).hasValue(1);
        assertThat(entries(target)).isEmpty();
        assertThat(entries(baseline)).isEmpty();
    }

    @Test
    void swappedBlocksFailVerification() {
        // Two 4 KiB blocks of the same 1 MiB pattern swapped between chunks: only the offset
        // stamps tell them apart, so this checks the stamps reach the checksum.
        Bench bench = Bench.builder()
                .target(target)
                .workloads(Set.of(Workload.SEQ_READ))
                .scale(TINY)
                .beforeSeqRead(file -> swapBlocks(file, 0, 1L << 20, 4096))
                .build();

        assertThatThrownBy(bench::run).isInstanceOf(IOException.class).hasMessageContaining("data mismatch: CRC32C");
    }

    @Test
    void truncatedOrExtendedFileFailsSeqRead() throws IOException {
        Bench truncating = Bench.builder()
                .target(target)
                .workloads(Set.of(Workload.SEQ_READ))
                .scale(TINY)
                .beforeSeqRead(file -> {
                    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                        ch.truncate(SEQ_BYTES - 1);
                    }
                })
                .build();
        assertThatThrownBy(truncating::run)
                .isInstanceOf(IOException.class)
                .hasMessageContaining("SEQ_READ")
                .hasMessageContaining("file ends after " + (SEQ_BYTES - 1) + " bytes");

        Bench extending = Bench.builder()
                .target(target)
                .workloads(Set.of(Workload.SEQ_READ))
                .scale(TINY)
                .beforeSeqRead(file -> Files.write(file, new byte[1], StandardOpenOption.APPEND))
                .build();
        assertThatThrownBy(extending::run).isInstanceOf(IOException.class).hasMessageContaining("longer than");
    }

    @Test
    void sameSeedWritesSameBytesDifferentSeedDifferentBytes() throws IOException {
        List<Long> crcs = new ArrayList<>();
        for (long seed : new long[] {1, 1, 2}) {
            Path dir = Files.createTempDirectory(target, "seed");
            Bench.builder()
                    .target(dir)
                    .workloads(Set.of(Workload.SEQ_READ))
                    .scale(TINY)
                    .seed(seed)
                    .beforeSeqRead(file -> {
                        CRC32C crc = new CRC32C();
                        crc.update(Files.readAllBytes(file));
                        crcs.add(crc.getValue());
                    })
                    .build()
                    .run();
        }
        assertThat(crcs.get(0)).isEqualTo(crcs.get(1)).isNotEqualTo(crcs.get(2));
    }

    @Test
    void progressUsesTheInjectedClock() throws IOException {
        AtomicLong now = new AtomicLong();
        List<String> progress = new ArrayList<>();
        // Every clock read advances 100 ms, so long phases emit percent lines, but never two
        // within one second of the fake clock.
        BenchReport report = Bench.builder()
                .target(target)
                .workloads(Set.of(Workload.MAILDIR))
                .scale(TINY)
                .nanoClock(() -> now.addAndGet(100_000_000L))
                .progress(progress::add)
                .build()
                .run();

        assertThat(progress).anyMatch(line -> line.matches("MAILDIR target: \\d+% \\(\\d+/20\\)"));
        // Each message is timed between two consecutive clock reads, so counts exactly 100 ms;
        // the progress read in between messages is not counted.
        assertThat(report.results().getFirst().targetTime().toMillis()).isEqualTo(20 * 100);
        long percentLines = progress.stream().filter(l -> l.contains("%")).count();
        assertThat(percentLines).isLessThanOrEqualTo(20 * 300 / 1000);
    }

    @Test
    void runsOnlyOnce() throws IOException {
        Bench bench = Bench.builder()
                .target(target)
                .workloads(Set.of(Workload.MAILDIR))
                .scale(TINY)
                .build();
        bench.run();
        assertThatThrownBy(bench::run).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void rejectsBadArguments() throws IOException {
        assertThatThrownBy(() -> Bench.builder().build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("target directory is required");
        Path file = Files.writeString(target.resolve("plain"), "x");
        assertThatThrownBy(() -> Bench.builder().target(file).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("target " + file + " is not a directory");
        Path missing = target.resolve("missing");
        assertThatThrownBy(() -> Bench.builder().target(missing).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not exist");
        assertThatThrownBy(() -> Bench.builder().target(target).baseline(file).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("baseline " + file + " is not a directory");
        assertThatThrownBy(() -> Bench.builder().workloads(Set.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("workloads must not be empty");
        assertThatThrownBy(() -> Bench.builder().target(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void rejectsBadScales() {
        assertThatThrownBy(() -> new BenchScale(0, 1, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("scale maildirMessages must be > 0, got 0");
        assertThatThrownBy(() -> new BenchScale(1, -1, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("scale seqBytes must be > 0, got -1");
        assertThatThrownBy(() -> new BenchScale(1, 1, 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("scale treeFiles must be > 0, got 0");
        assertThatThrownBy(() -> new BenchScale(1, 1, 1, -5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("scale treeDirs must be > 0, got -5");
        assertThatThrownBy(() -> new BenchScale(1, BenchScale.MAX_SEQ_BYTES + 1, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("seqBytes must be ≤");
        assertThat(BenchScale.defaults()).isEqualTo(new BenchScale(2000, 1L << 30, 5000, 250));
        assertThat(BenchScale.quick()).isEqualTo(new BenchScale(200, 32L << 20, 500, 25));
    }

    private static BenchResult result(BenchReport report, Workload workload) {
        return report.results().stream()
                .filter(r -> r.workload() == workload)
                .findFirst()
                .orElseThrow();
    }

    private static List<Path> entries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    private static void flipByte(Path file, long position) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, position);
            b.put(0, (byte) (b.get(0) ^ 0x01)).clear();
            ch.write(b, position);
        }
    }

    private static void swapBlocks(Path file, long a, long b, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer first = ByteBuffer.allocate(length);
            ByteBuffer second = ByteBuffer.allocate(length);
            ch.read(first, a);
            ch.read(second, b);
            // The blocks differ only in their 8-byte offset stamps.
            assertThat(first.array()).isNotEqualTo(second.array());
            assertThat(ByteBuffer.wrap(first.array(), 8, length - 8))
                    .isEqualTo(ByteBuffer.wrap(second.array(), 8, length - 8));
            ch.write(first.flip(), b);
            ch.write(second.flip(), a);
        }
    }
}
