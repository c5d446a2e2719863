package io.holdfast.bench;

import io.holdfast.common.Units;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * One run of {@code holdfast bench catch-up} around a {@link CatchUpBench}: its work directory,
 * the nodes' log file, the disk-space check, and the clean-up afterwards.
 *
 * <p>Kept apart from {@link CatchUpBench} on purpose: {@link #run} points slf4j's simple logger
 * at a file before the first logger exists, so nothing this class initialises (its static
 * fields, the methods called before that) may touch a class that logs; calling a static method
 * of {@link CatchUpBench} would initialise it and the client classes it refers to. Stateless.
 */
public final class CatchUpBenchRun {
    private CatchUpBenchRun() {}

    /**
     * The directory a run works in: {@code dir} (absolute and normalised), created if new, or a
     * fresh temporary directory {@code holdfast-catchup-*} if {@code dir} is null.
     *
     * @throws IllegalArgumentException if {@code dir} exists and is not empty
     * @throws IOException if it cannot be created or listed
     */
    public static Path prepareWorkDirectory(Path dir) throws IOException {
        if (dir == null) {
            return Files.createTempDirectory("holdfast-catchup-");
        }
        Path d = dir.toAbsolutePath().normalize();
        if (Files.exists(d)) {
            try (Stream<Path> s = Files.list(d)) {
                if (s.findAny().isPresent()) {
                    throw new IllegalArgumentException(d + " is not empty; --dir needs an empty or new directory");
                }
            }
        }
        return Files.createDirectories(d);
    }

    /**
     * Runs the {@link CatchUpBench} in {@link CatchUpBench.Settings#dir} (from {@link
     * #prepareWorkDirectory}) as {@code holdfast bench catch-up} does: the nodes, which run in this
     * process, log to {@code nodes.log} there (unless slf4j's simple logger already has a log file;
     * this sets system properties, so call it before anything logs); checks that the directory's
     * file system has {@link CatchUpBench.Settings#bytesNeeded} free; runs; and deletes the
     * directory afterwards unless {@code keep} (a failed deletion is reported on {@code progress},
     * not thrown).
     *
     * @param progress where progress lines go (stderr)
     * @return the report; a replacement that failed ends the run and is in the report
     * @throws IllegalArgumentException if the directory's file system has too little free space
     * @throws IOException if the cluster cannot be set up or the data cannot be loaded
     * @throws InterruptedException if interrupted; every node is stopped
     */
    public static CatchUpReport run(CatchUpBench.Settings settings, boolean keep, PrintStream progress)
            throws IOException, InterruptedException {
        Path work = Objects.requireNonNull(settings.dir(), "settings.dir");
        if (System.getProperty("org.slf4j.simpleLogger.logFile") == null) {
            System.setProperty(
                    "org.slf4j.simpleLogger.logFile", work.resolve("nodes.log").toString());
            System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        }
        try {
            long free = Files.getFileStore(work).getUsableSpace();
            if (free < settings.bytesNeeded()) {
                throw new IllegalArgumentException(String.format(
                        Locale.ROOT,
                        "%s has %s free; the bench needs about %s for --size %s and %d round(s). Choose --dir "
                                + "elsewhere or a smaller --size",
                        work,
                        Units.size(free),
                        Units.size(settings.bytesNeeded()),
                        Units.size(settings.dataBytes()),
                        settings.ratesBytesPerSecond().size()));
            }
            return new CatchUpBench(settings, progress).run();
        } finally {
            if (keep) {
                progress.println("holdfast bench catch-up: kept " + work);
            } else {
                try {
                    Bench.deleteRecursively(work);
                } catch (IOException e) {
                    progress.println("holdfast bench catch-up: could not delete " + work + ": " + e);
                }
            }
        }
    }
}
