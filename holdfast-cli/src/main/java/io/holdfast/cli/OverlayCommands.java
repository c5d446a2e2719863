package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.nio.HoldfastFileSystem;
import io.holdfast.common.Units;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.overlay.FaultyFileSystem;
import io.holdfast.overlay.MergeProgress;
import io.holdfast.overlay.MergeReport;
import io.holdfast.overlay.OverlayFileSystem;
import io.holdfast.overlay.OverlayMerge;
import io.holdfast.overlay.OverlayStatus;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code holdfast overlay}: a union of a damaged (read-only) file system and a healthy writable one,
 * mounted with FUSE ({@code mount}), and what it has done and seen ({@code status}).
 */
@Command(
        name = "overlay",
        mixinStandardHelpOptions = true,
        description = {
            "Keep a damaged file system in service: mount a union of it (LOWER, read-only, never written) under a",
            "healthy writable directory (UPPER). Reads come from UPPER, else LOWER; every change goes to UPPER (a",
            "changed LOWER file is copied up first); a delete leaves a whiteout in UPPER. A LOWER file that cannot",
            "be read fails with EIO for that file only, and is listed by 'holdfast overlay status'; it can still be",
            "replaced by writing it anew (truncating) or renaming another file over it.",
            "",
            "UPPER is in Linux overlayfs's format (whiteouts are character devices 0/0, opaque directories carry",
            "user.overlay.opaque=y), so the kernel can mount the same layers too:",
            "  mount -t overlay overlay -o lowerdir=LOWER,upperdir=UPPER,workdir=W,userxattr MNT",
            "Where UPPER cannot hold device nodes or user xattrs, the aufs format (.wh.NAME files) is used instead.",
            "",
            "'holdfast overlay merge' folds UPPER back into LOWER (or into a new base), paced and resumable."
        },
        subcommands = {OverlayCommands.Mount.class, OverlayCommands.Status.class, OverlayCommands.Merge.class})
final class OverlayCommands {
    private OverlayCommands() {}

    @Command(
            name = "mount",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Mount the union of LOWER under UPPER at MOUNTPOINT with FUSE and serve it in the foreground.",
                "Stop with Ctrl-C, SIGTERM or 'fusermount3 -u MOUNTPOINT'. Each of LOWER and UPPER is a local",
                "directory or VOLUME:/dir on a Holdfast cluster (--cluster). Copy-ups are built in a work directory",
                "(default: .NAME.overlay-work beside UPPER, on the same file system) and renamed into UPPER, so a",
                "crash never leaves a half-copied file visible. The work directory also holds the status record.",
                "",
                "Examples:",
                "  holdfast overlay mount /mnt/damaged /srv/healthy/upper /srv/data",
                "  holdfast overlay mount /mnt/damaged mail:/rescue /srv/mail --cluster a:7001"
            },
            exitCodeList = {
                "0:unmounted after Ctrl-C, SIGTERM or fusermount3 -u",
                "1:could not mount (no FUSE, a layer missing, layers overlapping, cluster unreachable)"
            })
    static final class Mount implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(index = "0", paramLabel = "LOWER", description = "The read-only layer (never written).")
        String lower;

        @Parameters(index = "1", paramLabel = "UPPER", description = "The writable layer: an existing directory.")
        String upper;

        @Parameters(index = "2", paramLabel = "MOUNTPOINT", description = "An existing, empty local directory.")
        Path mountPoint;

        @Option(
                names = "--work",
                paramLabel = "DIR",
                description = "The work directory, on UPPER's file system and outside both layers "
                        + "(default: .NAME.overlay-work beside UPPER).")
        String work;

        @Option(
                names = "--inject-lower-errors",
                paramLabel = "GLOB",
                description = {
                    "FAULT INJECTION, for drills and demos only: reads of LOWER files whose path relative to",
                    "LOWER matches GLOB ('*' within a name, '**' across directories) fail with EIO, as over bad",
                    "sectors. Repeatable. Shows what the overlay does over a failing disk; LOWER is not changed."
                })
        List<String> injectLowerErrors = List.of();

        @Mixin
        FuseMountOptions fuse;

        @Override
        public Integer call() throws Exception {
            for (String glob : injectLowerErrors) {
                new FaultyFileSystem(Path.of("/")).failReadsMatching(glob); // a bad pattern: exit 2, nothing done
            }
            if (!FuseMount.isAvailable()) {
                System.err.println("holdfast overlay mount: FUSE is not available here "
                        + "(needs /dev/fuse, libfuse3.so.3 and fusermount3; apt-get install fuse3)");
                return 1;
            }
            if (!Files.isDirectory(mountPoint)) {
                System.err.println(
                        "holdfast overlay mount: mount point " + mountPoint + " is not an existing directory");
                return 1;
            }
            Path realMountPoint = mountPoint.toRealPath();
            ClientLogging.quietClient();
            Locations locations = new Locations(cluster::address, cluster.env());
            OverlayFileSystem overlay;
            FuseMount mount;
            try {
                Path lowerPath = locations.resolve(lower).path();
                if (!injectLowerErrors.isEmpty()) {
                    FaultyFileSystem faulty = new FaultyFileSystem(lowerPath);
                    injectLowerErrors.forEach(faulty::failReadsMatching);
                    lowerPath = faulty.root();
                }
                Path upperPath = locations.resolve(upper).path();
                Path workPath = work == null
                        ? OverlayFileSystem.defaultWorkDirectory(upperPath)
                        : locations.resolve(work).path();
                overlay = OverlayFileSystem.open(lowerPath, upperPath, workPath);
                boolean holdfastUpper = upperPath.getFileSystem() instanceof HoldfastFileSystem;
                FuseOptions options = fuse.fuseOptions(false, "holdfast-overlay", Duration.ZERO)
                        .withCapabilities(new Capabilities(false, Capabilities.Ownership.PROCESS, holdfastUpper));
                try {
                    mount = FuseMount.mount(overlay.root(), mountPoint, options);
                } catch (IOException | RuntimeException e) {
                    overlay.close();
                    throw e;
                }
            } catch (IOException | RuntimeException e) {
                locations.close();
                if (e instanceof IllegalArgumentException iae) {
                    throw iae;
                }
                System.err.println(
                        "holdfast overlay mount: cannot mount " + lower + " under " + upper + " at " + mountPoint + ": "
                                + (e.getClass() == IOException.class ? e.getMessage() : Errors.describe(e)));
                return 1;
            }
            OverlayFileSystem served = overlay;
            Serve.run(
                    "holdfast-overlay-unmount",
                    new FuseServed(
                            "holdfast overlay mount",
                            "mounted " + lower + " under " + upper + " at " + mountPoint + " ("
                                    + served.whiteoutFormat() + " whiteouts, work directory " + served.work()
                                    + (injectLowerErrors.isEmpty()
                                            ? ""
                                            : "; INJECTING read errors on LOWER paths matching "
                                                    + String.join(", ", injectLowerErrors))
                                    + ")",
                            mount,
                            mountPoint,
                            realMountPoint,
                            List.of(served, locations)));
            return 0;
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = {
                "Show what an overlay of UPPER has done and seen since it was mounted: copy-ups, whiteouts, opaque",
                "directories, and every path of the lower layer that failed (operation, count, first and last time,",
                "error). Read from the status record in the work directory, which a mounted overlay rewrites every",
                "second when something changed and once more at unmount. Works while mounted and after.",
                "",
                "Examples:",
                "  holdfast overlay status /srv/healthy/upper",
                "  holdfast overlay status /srv/healthy/upper --json",
                "  holdfast overlay status mail:/rescue --cluster a:7001"
            },
            exitCodeList = {
                "0:the record was read (also when it lists lower errors)",
                "1:no status record there (never mounted, or another --work)"
            })
    static final class Status implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(
                index = "0",
                paramLabel = "UPPER",
                description = "The overlay's upper layer: a local directory or VOLUME:/dir.")
        String upper;

        @Option(names = "--work", paramLabel = "DIR", description = "The work directory, if not the default.")
        String work;

        @Option(names = "--json", description = "Print the record as it is stored (JSON).")
        boolean json;

        @Override
        public Integer call() throws IOException {
            ClientLogging.quietClient();
            String text;
            Path file;
            try (Locations locations = new Locations(cluster::address, cluster.env())) {
                Path w = work == null
                        ? OverlayFileSystem.defaultWorkDirectory(
                                locations.resolve(upper).path())
                        : locations.resolve(work).path();
                file = w.resolve(OverlayFileSystem.STATUS_FILE);
                try {
                    text = Files.readString(file, StandardCharsets.UTF_8);
                } catch (NoSuchFileException e) {
                    System.err.println("holdfast overlay status: no status record " + file + " (was " + upper
                            + " ever mounted as an upper layer? give --work if another work directory)");
                    return 1;
                }
            }
            if (json) {
                System.out.print(text);
                return 0;
            }
            JsonNode r = new ObjectMapper().readTree(text);
            if (!OverlayStatus.FORMAT.equals(r.path("format").asText())) {
                System.err.println("holdfast overlay status: " + file + " is not an overlay status record");
                return 1;
            }
            if (r.path("version").asInt() > OverlayStatus.VERSION) {
                System.err.println("holdfast overlay status: " + file + " has version "
                        + r.path("version").asInt() + ", newer than this holdfast (" + OverlayStatus.VERSION + ")");
                return 1;
            }
            System.out.println(render(r));
            return 0;
        }

        static String render(JsonNode r) {
            StringBuilder b = new StringBuilder();
            b.append("lower           ").append(r.path("lower").asText()).append('\n');
            b.append("upper           ")
                    .append(r.path("upper").asText())
                    .append(" (")
                    .append(r.path("whiteoutFormat").asText())
                    .append(" whiteouts)\n");
            b.append("mounted         ")
                    .append(r.path("openedAt").asText())
                    .append(", record of ")
                    .append(r.path("updatedAt").asText())
                    .append('\n');
            b.append("copy-ups        ")
                    .append(r.path("copyUps").asLong())
                    .append(" (")
                    .append(r.path("copyUpBytes").asLong())
                    .append(" bytes)\n");
            b.append("whiteouts       ").append(r.path("whiteouts").asLong()).append('\n');
            b.append("opaque dirs     ")
                    .append(r.path("opaqueDirectories").asLong())
                    .append('\n');
            JsonNode paths = r.path("lowerErrorPaths");
            b.append("lower errors    ")
                    .append(r.path("lowerErrors").asLong())
                    .append(" on ")
                    .append(paths.size() + r.path("lowerErrorPathsDropped").asLong())
                    .append(" paths");
            for (JsonNode e : paths) {
                b.append("\n  ")
                        .append(e.path("path").asText())
                        .append("  ")
                        .append(e.path("operation").asText())
                        .append(" x")
                        .append(e.path("count").asLong())
                        .append("  first ")
                        .append(e.path("first").asText())
                        .append("  last ")
                        .append(e.path("last").asText())
                        .append("  ")
                        .append(e.path("message").asText());
            }
            long dropped = r.path("lowerErrorPathsDropped").asLong();
            if (dropped > 0) {
                b.append("\n  ... and ").append(dropped).append(" more paths not kept");
            }
            return b.toString();
        }
    }

    @Command(
            name = "merge",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Fold UPPER back into LOWER (in place), or with --into build NEWBASE = LOWER + UPPER and leave LOWER",
                "untouched: upper files, links and special files are written over the base's (each into a temporary",
                "name in its directory, then renamed, so readers never see half a file); whiteouts delete (whole",
                "subtrees); an opaque directory's old content goes; modes, owners (as root), times and user xattrs",
                "are kept, and hard links stay together. Paced (--rate, --ops-per-second), with progress lines and an",
                "ETA. Resumable: the journal merge.journal in the work directory records what is done; after a kill",
                "or crash run the same command again. Safe while the overlay stays mounted: a file changed during",
                "the merge is merged again, a new whiteout applied; passes repeat until one finds nothing to do.",
                "A LOWER entry that cannot be read while building NEWBASE is reported with its path and left out.",
                "--empty-upper then removes from UPPER what was merged and has not changed since (unmount first),",
                "so the base can be used on its own.",
                "",
                "Examples:",
                "  holdfast overlay merge /mnt/repaired /srv/healthy/upper --rate 32",
                "  holdfast overlay merge /mnt/damaged /srv/healthy/upper --into /srv/newbase --empty-upper"
            },
            exitCodeList = {
                "0:merged completely, no errors",
                "1:could not merge (a layer missing, NEWBASE not empty, journal of another merge, base not writable)",
                "3:merged, but entries failed (listed on stderr) or kept changing: run the command again"
            })
    static final class Merge implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(index = "0", paramLabel = "LOWER", description = "The base (merged into unless --into).")
        String lower;

        @Parameters(index = "1", paramLabel = "UPPER", description = "The overlay's upper layer.")
        String upper;

        @Option(
                names = "--into",
                paramLabel = "NEWBASE",
                description = "Build a new base here (absent or empty) from LOWER + UPPER; LOWER is not written.")
        String into;

        @Option(
                names = "--rate",
                paramLabel = "MiB/s",
                defaultValue = "16",
                description = "Content written per second, in MiB (default: ${DEFAULT-VALUE}; 0: no limit).")
        double rate;

        @Option(
                names = "--ops-per-second",
                paramLabel = "N",
                defaultValue = "1000",
                description = "Operations on the base per second (default: ${DEFAULT-VALUE}; 0: no limit).")
        long opsPerSecond;

        @Option(
                names = "--empty-upper",
                description = "Once complete, remove from UPPER what was merged and has not changed since.")
        boolean emptyUpper;

        @Option(
                names = "--work",
                paramLabel = "DIR",
                description = "The overlay's work directory, which holds the journal (default: .NAME.overlay-work "
                        + "beside UPPER).")
        String work;

        @Option(
                names = "--max-passes",
                paramLabel = "N",
                defaultValue = "10",
                description = "Passes over UPPER at most while it keeps changing (default: ${DEFAULT-VALUE}).")
        int maxPasses;

        @Option(
                names = "--progress-every",
                paramLabel = "SECONDS",
                defaultValue = "2",
                description = "Seconds between progress lines (default: ${DEFAULT-VALUE}; 0: every operation).")
        double progressEvery;

        @Override
        public Integer call() throws Exception {
            if (!(rate >= 0) || Double.isInfinite(rate) || opsPerSecond < 0 || !(progressEvery >= 0)) {
                throw new IllegalArgumentException(
                        "--rate, --ops-per-second and --progress-every must not be " + "negative (0: no limit)");
            }
            ClientLogging.quietClient();
            try (Locations locations = new Locations(cluster::address, cluster.env())) {
                Path lowerPath = locations.resolve(lower).path();
                Path upperPath = locations.resolve(upper).path();
                OverlayMerge.Builder b = OverlayMerge.builder(lowerPath, upperPath)
                        .bytesPerSecond((long) (rate * (1 << 20)))
                        .operationsPerSecond(opsPerSecond)
                        .emptyUpper(emptyUpper)
                        .maxPasses(maxPasses);
                if (into != null) {
                    b.into(locations.resolve(into).path());
                }
                if (work != null) {
                    b.work(locations.resolve(work).path());
                }
                MergeLines lines = new MergeLines(System.out, System.err, System::nanoTime, progressEvery);
                OverlayMerge merge = b.listener(lines).build();
                MergeReport r;
                try {
                    r = merge.run();
                } catch (IOException e) {
                    System.err.println("holdfast overlay merge: " + Errors.describe(e) + " (what was done is kept in "
                            + merge.journal() + "; run again to resume)");
                    return 1;
                }
                System.out.println(MergeLines.summary(r));
                if (!r.complete()) {
                    System.err.println("holdfast overlay merge: not complete after " + r.passes() + " passes ("
                            + (r.stillChanging().isEmpty()
                                    ? "the last pass still found work"
                                    : "still changing: " + String.join(", ", r.stillChanging()))
                            + "); run again");
                }
                if (r.errorCount() > 0) {
                    System.err.println("holdfast overlay merge: " + r.errorCount() + " entries failed:");
                    for (MergeReport.Problem p : r.errors()) {
                        System.err.println(
                                "  " + p.layer() + " " + p.path() + "  " + p.operation() + ": " + p.message());
                    }
                    if (r.errorCount() > r.errors().size()) {
                        System.err.println(
                                "  ... and " + (r.errorCount() - r.errors().size()) + " more");
                    }
                }
                return r.clean() ? 0 : 3;
            }
        }
    }

    /**
     * The progress lines of {@code holdfast overlay merge}: one when a pass starts (what it expects to
     * do), then at most one every interval (files and bytes done of expected, rate, ETA, operations),
     * problems at once on the error stream. Not thread-safe (called on the merging thread).
     */
    static final class MergeLines implements OverlayMerge.ProgressListener {
        private final PrintStream out;
        private final PrintStream err;
        private final LongSupplier nanoClock;
        private final long everyNanos;
        private long lastNanos = Long.MIN_VALUE;

        MergeLines(PrintStream out, PrintStream err, LongSupplier nanoClock, double everySeconds) {
            this.out = out;
            this.err = err;
            this.nanoClock = nanoClock;
            this.everyNanos = (long) (everySeconds * 1e9);
        }

        @Override
        public void phaseStarted(MergeProgress p) {
            out.println(name(p) + ": " + p.filesToDo() + " files, " + Units.size(p.bytesToDo()) + " to write");
            lastNanos = nanoClock.getAsLong();
        }

        @Override
        public void progress(MergeProgress p) {
            long now = nanoClock.getAsLong();
            if (now - lastNanos < everyNanos) {
                return;
            }
            lastNanos = now;
            out.println(line(p));
        }

        @Override
        public void problem(MergeReport.Problem p) {
            err.println("holdfast overlay merge: " + p.layer() + " " + p.path() + ": " + p.operation() + " failed: "
                    + p.message());
        }

        private static String name(MergeProgress p) {
            return switch (p.phase()) {
                case "lower" -> "copying LOWER";
                case "empty" -> "emptying UPPER";
                default -> "pass " + p.pass();
            };
        }

        static String line(MergeProgress p) {
            double seconds = Math.max(p.elapsedNanos(), 1) / 1e9;
            StringBuilder s = new StringBuilder(name(p)).append(": ");
            s.append(p.filesDone()).append('/').append(p.filesToDo()).append(" files  ");
            s.append(Units.size(p.bytesDone())).append('/').append(Units.size(p.bytesToDo()));
            s.append("  ").append(Units.rate(p.bytesDone() / seconds));
            long eta = p.etaSeconds();
            if (eta >= 0) {
                s.append(String.format(Locale.ROOT, "  ETA %d:%02d", eta / 60, eta % 60));
            }
            s.append("  ").append(p.operations()).append(" operations");
            return s.toString();
        }

        static String summary(MergeReport r) {
            StringBuilder s = new StringBuilder();
            s.append(r.complete() ? "merged into " : "partly merged into ").append(r.target());
            s.append(String.format(Locale.ROOT, " in %.1f s, %d passes%n", r.elapsedNanos() / 1e9, r.passes()));
            s.append("  files copied     ").append(r.filesCopied()).append(" (").append(Units.size(r.bytesCopied()));
            s.append("), hard links ").append(r.linksMade()).append('\n');
            if (r.lowerFilesCopied() > 0) {
                s.append("  from LOWER       ").append(r.lowerFilesCopied()).append(" (");
                s.append(Units.size(r.lowerBytesCopied())).append(")\n");
            }
            s.append("  directories      ").append(r.directoriesMade()).append(" made, ");
            s.append(r.attributeUpdates()).append(" attributes set\n");
            s.append("  deletes          ").append(r.deletes()).append('\n');
            s.append("  opaque replaced  ").append(r.opaqueReplacements()).append('\n');
            s.append("  unchanged        ").append(r.skipped()).append(" (merged before)\n");
            s.append("  copied again     ").append(r.retries()).append(" (changed while copied)\n");
            if (r.upperEntriesRemoved() + r.upperEntriesKept() > 0) {
                s.append("  UPPER emptied    ").append(r.upperEntriesRemoved()).append(" removed, ");
                s.append(r.upperEntriesKept()).append(" kept (changed since)\n");
            }
            s.append("  errors           ").append(r.errorCount());
            return s.toString();
        }
    }
}
