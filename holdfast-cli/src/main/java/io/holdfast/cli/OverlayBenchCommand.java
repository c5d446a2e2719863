package io.holdfast.cli;

import io.holdfast.bench.OverlayBench;
import io.holdfast.bench.OverlayBenchReport;
import io.holdfast.bench.OverlayBenchScale;
import io.holdfast.common.TreeCopier;
import io.holdfast.fuse.FuseMount;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code holdfast bench overlay}: the Holdfast overlay's FUSE mount against mergerfs and a plain
 * local directory ({@link OverlayBench}), and the foreground latency during a merge.
 */
@Command(
        name = "overlay",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Measure the overlay ('holdfast overlay mount') against mergerfs and a plain local directory, all three",
            "on the disk of --work and in the same run, then its foreground latency while a merge runs.",
            "",
            "Systems: local (a directory); mergerfs (Debian package mergerfs, skipped with a note if missing) with",
            "the branches upper=RW:lower=NC and -o category.create=ff,cache.files=off: creates go to upper like",
            "an overlay's, but mergerfs has no copy-up; the overlay, mounted in this process with the FUSE adapter",
            "and options of 'holdfast overlay mount'. Each starts with the same content (a maildir and the",
            "copy-up files in its lower layer). Both FUSE mounts cache attributes and names for --cache-timeout.",
            "",
            "Workloads, each on the three systems in turn:",
            "  maildir     one writer: create tmp/N, write 4 KiB, fsync, rename to new/N, for --seconds (msg/s)",
            "  untar+sync  tar -xf of a generated tree of small files, then sync -f (seconds)",
            "  stat-walk   a walk of that tree reading every entry's attributes, caches dropped first (seconds)",
            "  copy-up     append 4 KiB with fsync to each lower file; the overlay copies it up first (files/s)",
            "Each first runs an untimed warm-up round (so the overlay's Java code is compiled, as in a mount",
            "that has run a while). The table gives each system's number and the overlay's speed over",
            "mergerfs's and local's: above 1.00x the overlay is faster (for times: the other's time over the",
            "overlay's).",
            "",
            "Foreground: the overlay's upper layer holds a few thousand files (256 MiB; --quick: 16 MiB); 50",
            "cycles a second, each a 4 KiB delivery (write, fsync, rename) and a stat+read of a random file,",
            "for --seconds idle, then while 'holdfast overlay merge' folds the upper layer into the lower one at",
            "its defaults (16 MiB/s, 1000 operations/s). Printed: p50 and p99 of both phases, their ratio",
            "(goal: p99 during the merge at most 2x idle) and the merge's achieved rate.",
            "",
            "As root, the kernel's caches are dropped (echo 3 > /proc/sys/vm/drop_caches) before the walk and the",
            "copy-ups; otherwise those run warm, as the report notes. Progress goes to stderr, the report to",
            "stdout. Needs FUSE, tar and sync. The work directory is deleted afterwards unless --work is given.",
            "",
            "Examples:  holdfast bench overlay",
            "           holdfast bench overlay --quick --no-mergerfs --json",
            "           holdfast bench overlay --seconds 60 --work /srv/scratch/overlay-bench"
        },
        exitCodeList = {"1:FUSE is not available, or a mount, tool or workload failed"})
final class OverlayBenchCommand implements Callable<Integer> {
    /** Default --seconds at full scale. */
    static final int DEFAULT_SECONDS = 20;
    /** Default --seconds with --quick. */
    static final int QUICK_SECONDS = 3;

    @Spec
    CommandSpec spec;

    @Option(
            names = "--seconds",
            paramLabel = "N",
            description = "How long maildir delivery runs on each system and the idle foreground is measured "
                    + "(default: " + DEFAULT_SECONDS + "; with --quick " + QUICK_SECONDS + ").")
    Integer seconds;

    @Option(
            names = "--quick",
            description = "Small scale: a tree of 500 files, 100 copy-ups, a 16 MiB merge (default: 4000 files, 1000 "
                    + "copy-ups, 256 MiB).")
    boolean quick;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = "--no-mergerfs", description = "Do not measure mergerfs, even when it is installed.")
    boolean noMergerfs;

    @Option(names = "--no-foreground", description = "Skip the foreground latency measurement during a merge.")
    boolean noForeground;

    @Option(
            names = "--no-drop-caches",
            description = "Do not drop the kernel's caches before stat-walk and copy-up (they then run warm).")
    boolean noDropCaches;

    @Option(
            names = "--cache-timeout",
            paramLabel = "SECONDS",
            description = "Attribute and name cache timeout of both FUSE mounts, whole seconds (default: "
                    + "${DEFAULT-VALUE}, as 'holdfast overlay mount').")
    int cacheTimeout = 0;

    @Option(
            names = "--work",
            paramLabel = "DIR",
            description = "An empty or absent directory on the disk to measure, kept afterwards (default: a new "
                    + "temporary directory under java.io.tmpdir, deleted afterwards).")
    Path work;

    PrintStream out = System.out;

    /** The scale of these options. */
    OverlayBenchScale scale() {
        int s = seconds != null ? seconds : quick ? QUICK_SECONDS : DEFAULT_SECONDS;
        if (s < 1 || s > 3600) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--seconds must be 1 to 3600, got " + s);
        }
        if (cacheTimeout < 0 || cacheTimeout > 3600) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(), "--cache-timeout must be 0 to 3600 seconds, got " + cacheTimeout);
        }
        return quick ? OverlayBenchScale.quick(s) : OverlayBenchScale.full(s);
    }

    @Override
    public Integer call() throws Exception {
        OverlayBenchScale scale = scale();
        if (!FuseMount.isAvailable()) {
            System.err.println("holdfast bench overlay: FUSE is not available here "
                    + "(needs /dev/fuse, libfuse3.so.3 and fusermount3; apt-get install fuse3)");
            return ExitCodes.FAILED;
        }
        boolean temporary = work == null;
        Path dir = temporary ? Files.createTempDirectory("holdfast-overlay-bench-") : work;
        System.err.println("work directory: " + dir + (temporary ? " (temporary)" : ""));
        OverlayBenchReport report;
        try {
            report = OverlayBench.builder()
                    .work(dir)
                    .scale(scale)
                    .mergerfs(!noMergerfs)
                    .dropCaches(!noDropCaches)
                    .cacheTimeoutSeconds(cacheTimeout)
                    .foreground(!noForeground)
                    .progress(s -> System.err.println("  " + s))
                    .build()
                    .run();
        } catch (IOException e) {
            System.err.println("holdfast bench overlay: " + Errors.describe(e));
            return ExitCodes.FAILED;
        } finally {
            if (temporary) {
                deleteQuietly(dir);
            }
        }
        out.print(json ? report.toJson() + System.lineSeparator() : report.toTable());
        out.flush();
        return ExitCodes.OK;
    }

    private static void deleteQuietly(Path dir) {
        try {
            new TreeCopier(CopyProgress.NONE, e -> {}).delete(dir, true);
        } catch (IOException e) {
            System.err.println("holdfast bench overlay: could not delete " + dir + ": " + Errors.describe(e));
        }
    }
}
