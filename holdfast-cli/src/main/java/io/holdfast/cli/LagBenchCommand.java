package io.holdfast.cli;

import io.holdfast.bench.Lsyncd;
import io.holdfast.bench.ReplicationLag;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.mirror.LocalChangeSource;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast bench lag}: replication lag of maildir deliveries ({@link ReplicationLag}) through
 * a replicator started for the run.
 */
@Command(
        name = "lag",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Measure replication lag: maildir deliveries (write tmp/N, 4 KiB, fsync, rename to new/N) into a",
            "source directory at each --rates for --seconds, while a replicator copies the tree to a target",
            "directory; per message, the time from its rename at the source to its arrival at the target.",
            "Prints one line per rate: delivered, achieved rate, arrived, lag p50/p99/max in milliseconds.",
            "Replicators: lsyncd (Debian package lsyncd with rsync; default.rsync with --delay-seconds) and",
            "mirror (holdfast mirror in this process: fanotify as root, else inotify).",
            "",
            "Example:  holdfast bench lag --replicator lsyncd --rates 5,200,1000 --seconds 60"
        },
        exitCodeList = {"1:the replicator could not start, or writing the source failed"})
final class LagBenchCommand implements Callable<Integer> {
    @Option(names = "--replicator", paramLabel = "NAME", description = "lsyncd or mirror (default: ${DEFAULT-VALUE}).")
    String replicator = "lsyncd";

    @Option(
            names = "--rates",
            split = ",",
            paramLabel = "N",
            description = "Deliveries per second, one run each (default: 5,200,1000).")
    List<Integer> rates = List.of(5, 200, 1000);

    @Option(names = "--seconds", paramLabel = "S", description = "Length of each run (default: ${DEFAULT-VALUE}).")
    int seconds = 60;

    @Option(names = "--writers", paramLabel = "N", description = "Delivering threads (default: ${DEFAULT-VALUE}).")
    int writers = 4;

    @Option(
            names = "--delay-seconds",
            paramLabel = "S",
            description = "lsyncd's delay: how long it collects events before rsync (default: ${DEFAULT-VALUE}).")
    double delaySeconds = 1;

    @Option(
            names = "--drain-seconds",
            paramLabel = "S",
            description = "How long to wait for the last messages after a run (default: ${DEFAULT-VALUE}).")
    int drainSeconds = 60;

    @Option(
            names = "--work",
            paramLabel = "DIR",
            description = "Where the source and target go (default: a new temporary directory, deleted afterwards).")
    Path work;

    @Option(
            names = "--no-fsync",
            description = "mirror: do not force copied files and the position to disk (rsync, and so lsyncd, does not"
                    + " either); faster, but a power cut can lose what the target claims to have.")
    boolean noFsync;

    PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        if (seconds < 1 || writers < 1 || drainSeconds < 0 || !(delaySeconds >= 0) || rates.isEmpty()) {
            throw new IllegalArgumentException("--seconds and --writers must be positive, --drain-seconds and "
                    + "--delay-seconds not negative, --rates not empty");
        }
        for (int r : rates) {
            if (r < 1) {
                throw new IllegalArgumentException("--rates must be positive, got " + r);
            }
        }
        boolean temporary = work == null;
        Path dir = temporary ? Files.createTempDirectory("holdfast-lag") : Files.createDirectories(work);
        Path source = dir.resolve("source");
        Path target = dir.resolve("target");
        Files.createDirectories(source);
        List<String> lines = new ArrayList<>();
        try (AutoCloseable running = start(source, target, dir)) {
            ReplicationLag lag = new ReplicationLag(source, target, s -> System.err.println("  " + s));
            lag.prepare(Duration.ofSeconds(120));
            int first = 0;
            for (int rate : rates) {
                System.err.printf(Locale.ROOT, "%s: %d deliveries/s for %d s%n", replicator, rate, seconds);
                ReplicationLag.Result r =
                        lag.run(rate, Duration.ofSeconds(seconds), Duration.ofSeconds(drainSeconds), writers, first);
                first += r.delivered();
                lines.add(String.format(
                        Locale.ROOT,
                        "%-14s %6d/s %8d %9.1f/s %8d %9.1f %9.1f %9.1f",
                        replicator + (noFsync && replicator.equals("mirror") ? "-nofsync" : ""),
                        rate,
                        r.delivered(),
                        r.achievedPerSecond(),
                        r.arrived(),
                        r.p50Millis(),
                        r.p99Millis(),
                        r.maxMillis()));
            }
        } finally {
            if (temporary) {
                deleteTree(dir);
            }
        }
        out.println("replicator         rate delivered  achieved  arrived  p50(ms)   p99(ms)   max(ms)");
        lines.forEach(out::println);
        return ExitCodes.OK;
    }

    private AutoCloseable start(Path source, Path target, Path dir) throws IOException {
        return switch (replicator) {
            case "lsyncd" ->
                Lsyncd.start(source, target, dir.resolve("lsyncd"), Duration.ofMillis(Math.round(delaySeconds * 1000)));
            case "mirror" -> mirror(source, target, !noFsync);
            default -> throw new IllegalArgumentException("--replicator must be lsyncd or mirror, not " + replicator);
        };
    }

    /** {@code holdfast mirror} in this process: the capture and the worker, stopped on close. */
    private static AutoCloseable mirror(Path source, Path target, boolean fsync) throws IOException {
        Files.createDirectories(target);
        LocalChangeSource capture = LocalChangeSource.open(source.toRealPath());
        GeoReplicator r = new GeoReplicator(
                new MirrorCommand.Restartable(capture),
                source.toRealPath(),
                target.toRealPath(),
                GeoOptions.defaults("lag-bench").withWaitMillis(500).withFsync(fsync));
        Thread worker = Thread.ofPlatform().daemon().name("lag-bench-mirror").start(() -> {
            try {
                r.run();
            } catch (IOException | InterruptedException e) {
                System.err.println("mirror stopped: " + e);
            }
        });
        return () -> {
            r.stop();
            worker.join(30_000);
            capture.close();
            System.err.println("  " + GeorepCommands.line(r.status()));
        };
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
