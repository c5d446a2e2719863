package io.holdfast.cli;

import com.sun.management.OperatingSystemMXBean;
import io.holdfast.bench.GeoLagSetup;
import io.holdfast.bench.Lsyncd;
import io.holdfast.bench.ReplicationLag;
import io.holdfast.client.HoldfastClient;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.georep.GeoStatus;
import io.holdfast.mirror.LocalChangeSource;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
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
            "Replicators: lsyncd (Debian package lsyncd with rsync; default.rsync with --delay-seconds),",
            "mirror (holdfast mirror in this process: fanotify as root, else inotify), and georep: an embedded",
            "three-node cluster (TLS, loopback) whose volume receives the deliveries through the NIO provider,",
            "replicated by the geo-replication worker to a local directory, the worker reaching the nodes only",
            "through delay proxies that add --rtt (and --link-bandwidth). Several replicators (comma",
            "separated) run one after the other and print one table.",
            "",
            "Example:  holdfast bench lag --replicator georep,mirror,lsyncd --rates 5,200,1000 --seconds 60"
        },
        exitCodeList = {"1:the replicator could not start, or writing the source failed"})
final class LagBenchCommand implements Callable<Integer> {
    @Option(
            names = "--replicator",
            split = ",",
            paramLabel = "NAME",
            description = "lsyncd, mirror or georep, or several, comma separated (default: lsyncd).")
    List<String> replicators = List.of("lsyncd");

    @Option(
            names = "--rtt",
            paramLabel = "MS",
            description = "georep: round-trip time the delay proxies add, milliseconds (default: ${DEFAULT-VALUE}).")
    int rttMillis = 50;

    @Option(
            names = "--link-bandwidth",
            paramLabel = "MiB/s",
            description =
                    "georep: the proxies' bandwidth per direction, MiB/s; 0 for none (default: ${DEFAULT-VALUE}).")
    double linkMiB;

    @Option(
            names = "--cut-seconds",
            paramLabel = "S",
            description = "georep: after the rates, stop the worker (a cut link), deliver at the last rate for S"
                    + " seconds, start it again and measure the catch-up: entries and files per second until"
                    + " every message delivered during the cut has arrived (default: 0, no cut).")
    int cutSeconds;

    @Option(
            names = "--bandwidth",
            paramLabel = "MiB/s",
            description = "georep: the worker's own limit on content read (GeoOptions.bytesPerSecond); 0 for none.")
    double bandwidthMiB;

    @Option(
            names = "--compression",
            paramLabel = "zstd|none",
            description =
                    "georep: whether the worker's client asks for zstd-compressed replies (default: ${DEFAULT-VALUE}).",
            defaultValue = "zstd")
    String compression = "zstd";

    @Option(
            names = "--body",
            paramLabel = "filled|text|random",
            description = "What each message holds: one byte repeated, mail-like text, or random bytes"
                    + " (default: ${DEFAULT-VALUE}).",
            defaultValue = "filled")
    String body = "filled";

    @Option(
            names = "--message-bytes",
            paramLabel = "N",
            description = "Size of each message (default: ${DEFAULT-VALUE}).",
            defaultValue = "4096")
    int messageBytes = ReplicationLag.MESSAGE_BYTES;

    @Option(
            names = "--rates",
            split = ",",
            paramLabel = "N",
            description = "Deliveries per second, one run each (default: 5,200,1000).")
    List<Integer> rates = List.of(5, 200, 1000);

    @Option(names = "--seconds", paramLabel = "S", description = "Length of each run (default: ${DEFAULT-VALUE}).")
    int seconds = 60;

    @Option(
            names = "--writers",
            paramLabel = "N",
            description = "Delivering threads (default: 4; georep: 64, each delivery being several round trips"
                    + " to the cluster).")
    int writers;

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
            description = "mirror, georep: do not force copied files and the position to disk (rsync, and so lsyncd,"
                    + " does not either); faster, but a power cut can lose what the target claims to have.")
    boolean noFsync;

    PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        if (seconds < 1
                || writers < 0
                || drainSeconds < 0
                || !(delaySeconds >= 0)
                || rates.isEmpty()
                || rttMillis < 0
                || cutSeconds < 0
                || rttMillis > 20_000
                || !(linkMiB >= 0)
                || !(bandwidthMiB >= 0)
                || Double.isInfinite(linkMiB)
                || Double.isInfinite(bandwidthMiB)) {
            throw new IllegalArgumentException("--seconds must be positive, --writers, --drain-seconds, "
                    + "--delay-seconds, --link-bandwidth and --bandwidth not negative, --rtt 0 to 20000, "
                    + "--rates not empty");
        }
        for (int r : rates) {
            if (r < 1) {
                throw new IllegalArgumentException("--rates must be positive, got " + r);
            }
        }
        if (!List.of("zstd", "none").contains(compression)) {
            throw new IllegalArgumentException("--compression must be zstd or none, not " + compression);
        }
        if (!List.of("filled", "text", "random").contains(body)) {
            throw new IllegalArgumentException("--body must be filled, text or random, not " + body);
        }
        if (messageBytes < 1 || messageBytes > 16 << 20) {
            throw new IllegalArgumentException("--message-bytes must be 1 to 16 MiB, not " + messageBytes);
        }
        for (String r : replicators) {
            if (!List.of("lsyncd", "mirror", "georep").contains(r)) {
                throw new IllegalArgumentException("--replicator must be lsyncd, mirror or georep, not " + r);
            }
        }
        boolean temporary = work == null;
        Path dir = temporary ? Files.createTempDirectory("holdfast-lag") : Files.createDirectories(work);
        List<String> lines = new ArrayList<>();
        try {
            for (String replicator : replicators) {
                run(replicator, dir.resolve(replicator), lines);
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

    private void run(String replicator, Path dir, List<String> lines) throws Exception {
        Files.createDirectories(dir);
        String label = switch (replicator) {
            case "mirror" -> noFsync ? "mirror-nofsync" : "mirror";
            case "georep" -> "georep-rtt" + rttMillis + (noFsync ? "-nofsync" : "") + "-" + compression;
            default -> replicator;
        };
        int threads = writers > 0 ? writers : replicator.equals("georep") ? 64 : 4;
        Consumer<String> progress = s -> System.err.println("  " + s);
        GeoLagSetup georep = null;
        AutoCloseable running;
        Path source;
        Path target;
        if (replicator.equals("georep")) {
            georep = GeoLagSetup.start(
                    dir,
                    Duration.ofNanos(rttMillis * 500_000L),
                    Math.round(linkMiB * (1 << 20)),
                    GeoOptions.defaults("lag-bench")
                            .withWaitMillis(500)
                            .withFsync(!noFsync)
                            .withBytesPerSecond(Math.round(bandwidthMiB * (1 << 20))),
                    compression,
                    progress);
            running = georep;
            source = georep.source();
            target = georep.target();
        } else {
            source = Files.createDirectories(dir.resolve("source"));
            target = dir.resolve("target");
            running = start(replicator, source, target, dir);
        }
        try (AutoCloseable r = running) {
            ReplicationLag lag = new ReplicationLag(source, target, progress)
                    .withBody(ReplicationLag.Body.valueOf(body.toUpperCase(Locale.ROOT)), messageBytes);
            long cpuBefore = processCpuNanos();
            lag.prepare(Duration.ofSeconds(120));
            int first = 0;
            for (int rate : rates) {
                System.err.printf(Locale.ROOT, "%s: %d deliveries/s for %d s%n", label, rate, seconds);
                ReplicationLag.Result res =
                        lag.run(rate, Duration.ofSeconds(seconds), Duration.ofSeconds(drainSeconds), threads, first);
                first += res.delivered();
                lines.add(String.format(
                        Locale.ROOT,
                        "%-14s %6d/s %8d %9.1f/s %8d %9.1f %9.1f %9.1f",
                        label,
                        rate,
                        res.delivered(),
                        res.achievedPerSecond(),
                        res.arrived(),
                        res.p50Millis(),
                        res.p99Millis(),
                        res.maxMillis()));
            }
            if (georep != null && cutSeconds > 0) {
                lines.add(catchUp(georep, lag, rates.getLast(), threads, first, target.resolve("new")));
            }
            if (georep != null) {
                progress.accept(GeorepCommands.line(georep.status()));
                HoldfastClient.CompressionStats z = georep.compressionStats();
                progress.accept(String.format(
                        Locale.ROOT,
                        "%.1f MiB through the delay proxies; compression %s: %d replies compressed, %.1f MiB"
                                + " sent as %.1f MiB; process CPU %.1f s",
                        georep.bytesThroughProxies() / 1048576.0,
                        georep.compressing() ? "zstd" : "none",
                        z.replies(),
                        z.rawBytes() / 1048576.0,
                        z.wireBytes() / 1048576.0,
                        (processCpuNanos() - cpuBefore) / 1e9));
            }
        }
    }

    /** CPU time of this whole process (cluster, proxies, worker, writers), ns; -1 if the JVM cannot tell. */
    private static long processCpuNanos() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os
                ? os.getProcessCpuTime()
                : -1;
    }

    /**
     * The worker stopped while {@code rate} deliveries a second go on for {@link #cutSeconds}, then
     * started: how long until every message delivered meanwhile is at the target, in entries and
     * files per second.
     */
    private String catchUp(GeoLagSetup georep, ReplicationLag lag, int rate, int threads, int first, Path arrivals)
            throws Exception {
        georep.stopWorker();
        GeoStatus stopped = georep.status();
        System.err.printf(Locale.ROOT, "georep: worker stopped; %d deliveries/s for %d s%n", rate, cutSeconds);
        ReplicationLag.Result res = lag.run(rate, Duration.ofSeconds(cutSeconds), Duration.ZERO, threads, first);
        long want = first + res.delivered();
        long start = System.nanoTime();
        georep.startWorker();
        long deadline = start + TimeUnit.SECONDS.toNanos(Math.max(60, drainSeconds));
        long have;
        while ((have = count(arrivals)) < want && System.nanoTime() - deadline < 0) {
            Thread.sleep(100); // counting the files of another component's directory: no event to wait for
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long entries = georep.status().position() - stopped.position();
        return String.format(
                Locale.ROOT,
                "catch-up after a cut of %d s at %d/s: %d entries, %d files in %.1f s: %.0f entries/s, %.0f files/s%s",
                cutSeconds,
                rate,
                entries,
                res.delivered(),
                seconds,
                entries / seconds,
                res.delivered() / seconds,
                have < want ? " (" + (want - have) + " files missing at the deadline)" : "");
    }

    private static long count(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".")).count();
        }
    }

    private AutoCloseable start(String replicator, Path source, Path target, Path dir) throws IOException {
        return switch (replicator) {
            case "lsyncd" ->
                Lsyncd.start(source, target, dir.resolve("lsyncd"), Duration.ofMillis(Math.round(delaySeconds * 1000)));
            case "mirror" -> mirror(source, target, !noFsync);
            default -> throw new IllegalArgumentException("--replicator must be lsyncd, mirror or georep");
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
