package io.holdfast.overlay;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A merge killed for real: run in a child JVM (paced so it takes seconds), killed with SIGKILL once
 * its journal records a few files (so mid-file, mid-record or mid-rename, wherever it is), then run
 * again here; the base must equal what the overlay showed, with no temporary file left.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class MergeKillTest {
    @TempDir
    Path base;

    @ParameterizedTest(name = "into a new base: {0}")
    @CsvSource({"false", "true"})
    void aMergeKilledWithSigkillFinishesWhenRunAgain(boolean into) throws Exception {
        Path lower = Files.createDirectory(base.resolve("lower"));
        Path upper = Files.createDirectory(base.resolve("upper"));
        Path work = base.resolve("work");
        Path newBase = base.resolve("new");
        for (int i = 0; i < 10; i++) {
            Files.writeString(lower.resolve("old" + i), "lower " + i);
        }
        try (OverlayFileSystem fs = OverlayFileSystem.open(lower, upper, work)) {
            Path root = fs.root();
            Files.createDirectory(root.resolve("d"));
            for (int i = 0; i < 40; i++) {
                Files.write(root.resolve("d/f" + i), OverlayMergeTest.randomBytes(64 * 1024, i));
            }
            for (int i = 0; i < 5; i++) {
                Files.delete(root.resolve("old" + i));
            }
        }
        Map<String, String> model;
        try (OverlayFileSystem fs = OverlayFileSystem.open(lower, upper, work)) {
            model = OverlayMergeTest.snapshot(fs.root());
        }
        Path journal = OverlayMerge.journalFile(work);

        Process child = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "-cp",
                        System.getProperty("java.class.path"),
                        MergeKillChild.class.getName(),
                        lower.toString(),
                        upper.toString(),
                        work.toString(),
                        into ? newBase.toString() : "-",
                        Integer.toString(512 * 1024))
                .redirectErrorStream(true)
                .redirectOutput(base.resolve("child.log").toFile())
                .start();
        try {
            awaitRecords(journal, 8, child, Duration.ofSeconds(90));
        } finally {
            child.destroyForcibly(); // SIGKILL
            child.waitFor();
        }
        assertThat(child.exitValue()).as("killed, not finished").isEqualTo(137);
        long recordedBefore = fileRecords(journal);
        assertThat(recordedBefore).isBetween(8L, 39L);

        MergeReport r = OverlayMerge.builder(lower, upper)
                .work(work)
                .into(into ? newBase : null)
                .bytesPerSecond(0)
                .operationsPerSecond(0)
                .build()
                .run();

        assertThat(r.clean()).as("%s", r).isTrue();
        assertThat(r.filesCopied()).isBetween(40 - recordedBefore, 40 - recordedBefore + 1);
        Path target = into ? newBase : lower;
        OverlayMergeTest.assertSameTree(target, model);
        try (Stream<Path> s = Files.walk(target)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(OverlayMerge.TEMP_PREFIX)))
                    .isEmpty();
        }
    }

    /** Waits until the journal has {@code n} file records; fails if the child ends or the deadline passes. */
    private static void awaitRecords(Path journal, int n, Process child, Duration limit)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (fileRecords(journal) < n) {
            assertThat(child.isAlive()).as("the child merge still runs").isTrue();
            assertThat(System.nanoTime())
                    .as("%d file records within %s", n, limit)
                    .isLessThan(deadline);
            child.waitFor(20, TimeUnit.MILLISECONDS);
        }
    }

    private static long fileRecords(Path journal) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(journal, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return 0;
        }
        return lines.stream().filter(l -> l.startsWith("F\t")).count();
    }
}
