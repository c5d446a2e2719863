package io.holdfast.bench;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Runs the {@code holdfast bench} workloads against a target directory and, optionally, a
 * local baseline directory in the same process, and reports each rate and their ratio.
 *
 * <p>{@link #run()} creates a fresh, uniquely named subdirectory {@code holdfast-bench-*} in
 * the target and in the baseline, runs each selected workload in {@link Workload} order, first
 * on the target and then on the baseline, and deletes both subdirectories afterwards (also
 * when a workload fails) unless {@link Builder#keepFiles(boolean)} is set. All I/O goes
 * through {@code java.nio.file}, so any {@link Path} works: a directory on a FUSE mount, a
 * local directory, or a path of a {@code holdfast://} file system.
 *
 * <p>A bench is single-use and not thread-safe: {@link #run()} may be called once, from one
 * thread, and blocks until every workload is done. Disk space needed in each directory is
 * about {@link BenchScale#seqBytes()} plus 4 KiB per maildir message plus the tree.
 *
 * <pre>{@code
 * BenchReport report = Bench.builder()
 *     .target(Path.of("/mnt/holdfast"))
 *     .baseline(Path.of("/var/tmp"))
 *     .scale(BenchScale.quick())
 *     .progress(System.err::println)
 *     .build()
 *     .run();
 * System.out.print(report.toTable());
 * }</pre>
 */
public final class Bench {

    /** The default seed for the generated data. */
    public static final long DEFAULT_SEED = 0x486F6C6466617374L;

    private static final String WORK_DIR_PREFIX = "holdfast-bench-";
    private static final int MAX_WORK_DIR_ATTEMPTS = 1000;

    private final Path target;
    private final Path baseline;
    private final Set<Workload> workloads;
    private final BenchScale scale;
    private final LongSupplier nanoClock;
    private final Consumer<String> progress;
    private final long seed;
    private final boolean keepFiles;
    private final WorkloadRunner.IoHook beforeSeqRead;
    private boolean used;

    private Bench(Builder builder) {
        this.target = builder.target;
        this.baseline = builder.baseline;
        this.workloads = EnumSet.copyOf(builder.workloads);
        this.scale = builder.scale;
        this.nanoClock = builder.nanoClock;
        this.progress = builder.progress;
        this.seed = builder.seed;
        this.keepFiles = builder.keepFiles;
        this.beforeSeqRead = builder.beforeSeqRead;
    }

    /** A builder with all workloads, {@link BenchScale#defaults()} and {@link #DEFAULT_SEED}. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Runs the selected workloads on the target and the baseline; blocks until done.
     *
     * @return one result per selected workload, in {@link Workload} order
     * @throws IOException if a workload fails, or if the data it reads back or the entries it
     *     finds differ from what it wrote; the message names the workload, the side and the
     *     path. Also if a work directory cannot be created or deleted.
     * @throws IllegalStateException if called more than once
     */
    public BenchReport run() throws IOException {
        if (used) {
            throw new IllegalStateException("a Bench runs once; build a new one");
        }
        used = true;
        progress.accept(String.format(
                Locale.ROOT,
                "holdfast bench: seed=0x%x scale=%s workloads=%s target=%s baseline=%s",
                seed,
                scale,
                workloads,
                target,
                baseline == null ? "none" : baseline));
        List<Path> workDirs = new ArrayList<>(2);
        IOException failure = null;
        try {
            Path targetWork = createWorkDir(target);
            workDirs.add(targetWork);
            WorkloadRunner targetRunner = runner("target", targetWork);
            WorkloadRunner baselineRunner = null;
            if (baseline != null) {
                Path baselineWork = createWorkDir(baseline);
                workDirs.add(baselineWork);
                baselineRunner = runner("baseline", baselineWork);
            }
            List<BenchResult> results = new ArrayList<>();
            for (Workload workload : workloads) {
                WorkloadRunner.Measurement onTarget = measure(workload, "target", targetWork, targetRunner);
                double baselineRate = Double.NaN;
                if (baselineRunner != null) {
                    WorkloadRunner.Measurement onBaseline =
                            measure(workload, "baseline", workDirs.get(1), baselineRunner);
                    if (onBaseline.operations() != onTarget.operations() || onBaseline.bytes() != onTarget.bytes()) {
                        throw new AssertionError(workload + ": target and baseline did different work");
                    }
                    baselineRate = rate(workload, onBaseline);
                }
                results.add(new BenchResult(
                        workload,
                        workload.unit(),
                        rate(workload, onTarget),
                        baselineRate,
                        onTarget.operations(),
                        onTarget.bytes(),
                        Duration.ofNanos(onTarget.nanos())));
            }
            return new BenchReport(results);
        } catch (IOException e) {
            failure = e;
            throw e;
        } finally {
            cleanUp(workDirs, failure);
        }
    }

    private WorkloadRunner runner(String side, Path workDir) {
        return new WorkloadRunner(side, workDir, scale, nanoClock, progress, seed, beforeSeqRead);
    }

    private WorkloadRunner.Measurement measure(Workload workload, String side, Path workDir, WorkloadRunner runner)
            throws IOException {
        WorkloadRunner.Measurement m;
        try {
            m = runner.run(workload);
        } catch (IOException e) {
            throw new IOException(workload + " on " + side + " " + workDir + " failed: " + e.getMessage(), e);
        }
        progress.accept(String.format(
                Locale.ROOT,
                "%s %s: %.1f %s (%d ops, %d bytes in %.3f s)",
                workload,
                side,
                rate(workload, m),
                workload.unit(),
                m.operations(),
                m.bytes(),
                m.nanos() / 1e9));
        return m;
    }

    /** The rate in {@link Workload#unit()}; a zero duration counts as one nanosecond. */
    static double rate(Workload workload, WorkloadRunner.Measurement m) {
        double seconds = Math.max(1L, m.nanos()) / 1e9;
        return switch (workload) {
            case MAILDIR, STAT_TREE -> m.operations() / seconds;
            case SEQ_WRITE, SEQ_READ -> m.bytes() / 1e6 / seconds;
        };
    }

    private Path createWorkDir(Path root) throws IOException {
        String base = WORK_DIR_PREFIX + Long.toHexString(seed) + "-"
                + ProcessHandle.current().pid();
        for (int attempt = 0; attempt < MAX_WORK_DIR_ATTEMPTS; attempt++) {
            Path dir = root.resolve(base + "-" + attempt);
            try {
                return Files.createDirectory(dir);
            } catch (FileAlreadyExistsException e) {
                // Another run in this directory; try the next name.
            } catch (IOException e) {
                throw new IOException("cannot create work directory " + dir + ": " + e.getMessage(), e);
            }
        }
        throw new IOException("cannot create work directory in " + root + ": " + MAX_WORK_DIR_ATTEMPTS + " names "
                + base + "-* taken");
    }

    private void cleanUp(List<Path> workDirs, IOException failure) throws IOException {
        for (Path dir : workDirs) {
            if (keepFiles) {
                progress.accept("keeping " + dir);
                continue;
            }
            try {
                deleteRecursively(dir);
            } catch (IOException e) {
                IOException cleanup = new IOException("cannot delete work directory " + dir + ": " + e.getMessage(), e);
                if (failure != null) {
                    failure.addSuppressed(cleanup);
                } else {
                    throw cleanup;
                }
            }
        }
    }

    /** Deletes {@code dir} and everything below it; symbolic links are deleted, never followed. */
    static void deleteRecursively(Path dir) throws IOException {
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /**
     * Configures a {@link Bench}. Not thread-safe; {@link #build()} checks the arguments and may
     * be called more than once.
     */
    public static final class Builder {
        private Path target;
        private Path baseline;
        private Set<Workload> workloads = EnumSet.allOf(Workload.class);
        private BenchScale scale = BenchScale.defaults();
        private LongSupplier nanoClock = System::nanoTime;
        private Consumer<String> progress = line -> {};
        private long seed = DEFAULT_SEED;
        private boolean keepFiles;
        private WorkloadRunner.IoHook beforeSeqRead = file -> {};

        private Builder() {}

        /** The directory under test, e.g. a Holdfast mount; required; must be a directory. */
        public Builder target(Path target) {
            this.target = Objects.requireNonNull(target, "target");
            return this;
        }

        /**
         * The local directory to compare with; optional (default none: only the target runs and
         * baselines are {@code NaN}); must be a directory.
         */
        public Builder baseline(Path baseline) {
            this.baseline = Objects.requireNonNull(baseline, "baseline");
            return this;
        }

        /** The workloads to run; default all; must not be empty. Run in {@link Workload} order. */
        public Builder workloads(Set<Workload> workloads) {
            Objects.requireNonNull(workloads, "workloads");
            if (workloads.isEmpty()) {
                throw new IllegalArgumentException("workloads must not be empty");
            }
            this.workloads = EnumSet.copyOf(workloads);
            return this;
        }

        /** How much work to do; default {@link BenchScale#defaults()}. */
        public Builder scale(BenchScale scale) {
            this.scale = Objects.requireNonNull(scale, "scale");
            return this;
        }

        /**
         * The monotonic clock in nanoseconds used for timing and for spacing progress lines;
         * default {@link System#nanoTime()}. Tests pass a fake clock.
         */
        public Builder nanoClock(LongSupplier nanoClock) {
            this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
            return this;
        }

        /**
         * Receives progress lines, called on the thread running {@link Bench#run()}: one per
         * workload phase and side, one with each measured rate, and for long phases at most one
         * per second of {@link #nanoClock(LongSupplier)} with percent done. Default: discard.
         */
        public Builder progress(Consumer<String> progress) {
            this.progress = Objects.requireNonNull(progress, "progress");
            return this;
        }

        /** Seed of the generated file contents; default {@link Bench#DEFAULT_SEED}. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Whether to keep the work directories after the run; default false (delete them). */
        public Builder keepFiles(boolean keepFiles) {
            this.keepFiles = keepFiles;
            return this;
        }

        /** Test hook: called with the sequential file of each side before it is read back. */
        Builder beforeSeqRead(WorkloadRunner.IoHook hook) {
            this.beforeSeqRead = Objects.requireNonNull(hook, "hook");
            return this;
        }

        /**
         * Checks the arguments and builds a single-use {@link Bench}.
         *
         * @throws IllegalArgumentException if the target is missing, or the target or the
         *     baseline is not an existing directory
         */
        public Bench build() {
            if (target == null) {
                throw new IllegalArgumentException("target directory is required");
            }
            requireDirectory("target", target);
            if (baseline != null) {
                requireDirectory("baseline", baseline);
            }
            return new Bench(this);
        }

        private static void requireDirectory(String role, Path path) {
            if (!Files.isDirectory(path)) {
                throw new IllegalArgumentException(
                        role + " " + path + (Files.exists(path) ? " is not a directory" : " does not exist"));
            }
        }
    }
}
