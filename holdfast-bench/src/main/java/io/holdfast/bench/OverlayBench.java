package io.holdfast.bench;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.WRITE;

import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.overlay.MergeReport;
import io.holdfast.overlay.OverlayFileSystem;
import io.holdfast.overlay.OverlayMerge;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * {@code holdfast bench overlay}: the Holdfast overlay (holdfast-overlay through its FUSE mount,
 * served in this process by the adapter {@code holdfast overlay mount} uses, with its options)
 * against mergerfs laid out like an overlay ({@link Mergerfs}) and a plain local directory, all on
 * the disk of the work directory and measured in the same run, then the foreground latency through
 * the overlay while {@link OverlayMerge} runs at its defaults.
 *
 * <p>Workloads, each on the three systems in turn (local, mergerfs, overlay):
 *
 * <ul>
 *   <li>{@code maildir}: one writer delivers 4 KiB messages (create {@code tmp/N} exclusively,
 *       write, fsync, close, rename to {@code new/N}) for {@link OverlayBenchScale#maildirSeconds}
 *       into a maildir that exists in the lower layer; messages per second.
 *   <li>{@code untar+sync}: {@code tar -xf} of a deterministic tree of small files (made once per
 *       run) into a new directory, then {@code sync -f} of the work directory's file system;
 *       seconds.
 *   <li>{@code stat-walk}: a walk of that tree reading every entry's attributes, after the kernel's
 *       caches were dropped when allowed ({@code echo 3 > /proc/sys/vm/drop_caches}, root only);
 *       seconds.
 *   <li>{@code copy-up}: append 4 KiB to each of the lower layer's files with fsync; the overlay
 *       copies each file up first, mergerfs (which has no copy-up) and the local directory change
 *       it in place; files per second.
 * </ul>
 *
 * <p>Each workload first runs a smaller or equal round untimed on the same system (maildir for a fifth
 * of its time, at most 2 s; the same untar into another directory, and its walk; copy-ups of a tenth
 * as many other files), so the overlay's code is compiled by the JIT as in a long-running mount and
 * every system has its directories in use, before the timed round. Only the filesystem calls (and
 * the tar and sync processes) are timed. Every workload checks
 * its result (entries delivered, walked, sizes after the append, the overlay's lower layer
 * untouched) and fails rather than report a rate for wrong work. Not thread-safe; one run per
 * instance.
 */
public final class OverlayBench {
    /** Bytes of one maildir message and of one copy-up append. */
    static final int MESSAGE_BYTES = 4096;
    /** Old messages in the lower layer's {@code maildir/cur}. */
    static final int LOWER_MESSAGES = 100;
    /** Files per directory in the copy-up set and the merged set. */
    static final int FILES_PER_DIR = 100;
    /** The mount options of {@code holdfast overlay mount}'s file system name. */
    static final String FS_NAME = "holdfast-overlay";

    private final Path work;
    private final OverlayBenchScale scale;
    private final boolean mergerfs;
    private final Optional<Path> mergerfsExe;
    private final boolean dropCaches;
    private final int cacheTimeoutSeconds;
    private final boolean foreground;
    private final Consumer<String> progress;
    private final long seed;

    private OverlayBench(Builder b) {
        this.work = b.work;
        this.scale = b.scale;
        this.mergerfs = b.mergerfs;
        this.mergerfsExe = b.mergerfsExe != null ? Optional.of(b.mergerfsExe) : Mergerfs.find();
        this.dropCaches = b.dropCaches;
        this.cacheTimeoutSeconds = b.cacheTimeoutSeconds;
        this.foreground = b.foreground;
        this.progress = b.progress;
        this.seed = b.seed;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** Describes a run; {@link #build} checks it. Not thread-safe. */
    public static final class Builder {
        private Path work;
        private OverlayBenchScale scale = OverlayBenchScale.full(20);
        private boolean mergerfs = true;
        private Path mergerfsExe;
        private boolean dropCaches = true;
        private int cacheTimeoutSeconds;
        private boolean foreground = true;
        private Consumer<String> progress = s -> {};
        private long seed = 0x6F7665726C6179L;

        private Builder() {}

        /** An empty or absent directory on the disk to measure (required); everything goes below it. */
        public Builder work(Path work) {
            this.work = work;
            return this;
        }

        /** How much work; default {@link OverlayBenchScale#full} of 20 s. */
        public Builder scale(OverlayBenchScale scale) {
            this.scale = Objects.requireNonNull(scale, "scale");
            return this;
        }

        /** Whether to measure mergerfs (when it is installed); default true. */
        public Builder mergerfs(boolean mergerfs) {
            this.mergerfs = mergerfs;
            return this;
        }

        /** The mergerfs executable; default the one on {@code PATH}. */
        public Builder mergerfsExecutable(Path exe) {
            this.mergerfsExe = exe;
            return this;
        }

        /** Whether to drop the kernel's caches before the walk and the copy-ups (root only); default true. */
        public Builder dropCaches(boolean dropCaches) {
            this.dropCaches = dropCaches;
            return this;
        }

        /**
         * The kernel's attribute and entry cache timeout on both FUSE mounts, 0 to 3600 s; default 0
         * (the default of {@code holdfast overlay mount}).
         */
        public Builder cacheTimeoutSeconds(int seconds) {
            this.cacheTimeoutSeconds = seconds;
            return this;
        }

        /** Whether to measure the foreground latency during a merge; default true. */
        public Builder foreground(boolean foreground) {
            this.foreground = foreground;
            return this;
        }

        /** Where progress lines go; default nowhere. Called on the running thread. */
        public Builder progress(Consumer<String> progress) {
            this.progress = Objects.requireNonNull(progress, "progress");
            return this;
        }

        /** The seed of all content. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * The bench.
         *
         * @throws IllegalArgumentException if no work directory was given or the cache timeout is
         *     out of range
         */
        public OverlayBench build() {
            if (work == null) {
                throw new IllegalArgumentException("a work directory is required");
            }
            if (cacheTimeoutSeconds < 0 || cacheTimeoutSeconds > 3600) {
                throw new IllegalArgumentException("cache timeout must be 0 to 3600 s, got " + cacheTimeoutSeconds);
            }
            return new OverlayBench(this);
        }
    }

    /** A system the workloads run on: a directory, and what to close afterwards. */
    private record Subject(String name, Path root, AutoCloseable closer) {}

    /**
     * Runs everything; blocks for the whole run. Mounts are unmounted before it returns, also on
     * failure; the work directory's content is left for the caller to delete.
     *
     * @return the report
     * @throws IOException if FUSE is unavailable, the work directory is not empty, a mount fails
     *     (except mergerfs's, which is noted and left out), a tool ({@code tar}, {@code sync})
     *     fails, or a workload's result is wrong
     * @throws InterruptedException if interrupted
     */
    public OverlayBenchReport run() throws IOException, InterruptedException {
        if (!FuseMount.isAvailable()) {
            throw new IOException("FUSE is not available here (needs /dev/fuse, libfuse3.so.3 and fusermount3; "
                    + "apt-get install fuse3)");
        }
        Files.createDirectories(work);
        try (Stream<Path> s = Files.list(work)) {
            if (s.findAny().isPresent()) {
                throw new IOException("the work directory " + work + " is not empty");
            }
        }
        List<String> notes = new ArrayList<>();
        boolean canDrop = dropCaches && Files.isWritable(Path.of("/proc/sys/vm/drop_caches"));
        notes.add(
                canDrop
                        ? "caches dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before stat-walk and copy-up: cold"
                        : "caches not dropped" + (dropCaches ? " (not root)" : "")
                                + ": stat-walk and copy-up run warm, right after writing");
        notes.add("the overlay is mounted in this process with holdfast overlay mount's options (fsname " + FS_NAME
                + ", attr/entry/negative timeout " + cacheTimeoutSeconds + " s)");
        notes.add("every workload first runs an untimed warm-up round on each system, so the overlay's Java code is"
                + " compiled as in a long-running mount");
        notes.add("untar uses tar -xf --no-same-owner of a tree of " + scale.treeFiles() + " files in "
                + scale.treeDirs() + " directories; sync is sync -f of the work directory's file system");
        Path tar = prepareTar();
        List<Subject> subjects = new ArrayList<>();
        List<Row> rows = new ArrayList<>();
        try {
            Path local = Files.createDirectories(work.resolve("local"));
            prepareLower(local);
            subjects.add(new Subject("local", local, () -> {}));
            Subject m = mountMergerfs(notes);
            if (m != null) {
                subjects.add(m);
            }
            subjects.add(mountOverlay("overlay"));
            rows.add(measure(subjects, "maildir", "msg/s", true, this::maildir));
            rows.add(measure(subjects, "untar+sync", "s", false, s -> untar(s, tar)));
            rows.add(measure(subjects, "stat-walk", "s", false, s -> statWalk(s, canDrop)));
            rows.add(measure(subjects, "copy-up", "files/s", true, s -> copyUp(s, canDrop)));
            checkOverlayLower();
        } finally {
            closeAll(subjects);
        }
        OverlayBenchReport.Foreground fg = foreground ? foreground() : null;
        return new OverlayBenchReport(rows.stream().map(Row::toReport).toList(), fg, notes);
    }

    /** A measured row under construction. */
    private record Row(String name, String unit, boolean higher, double[] values, long ops) {
        OverlayBenchReport.Row toReport() {
            return new OverlayBenchReport.Row(name, unit, higher, values[0], values[1], values[2], ops);
        }
    }

    /** One workload on one system: the value (rate or seconds) and the operation count. */
    private record Result(double value, long operations) {}

    @FunctionalInterface
    private interface Workload {
        Result run(Subject s) throws IOException, InterruptedException;
    }

    private Row measure(List<Subject> subjects, String name, String unit, boolean higher, Workload w)
            throws IOException, InterruptedException {
        double[] values = {Double.NaN, Double.NaN, Double.NaN};
        long ops = 0;
        for (Subject s : subjects) {
            progress.accept(name + " on " + s.name() + " ...");
            Result r = w.run(s);
            int column = switch (s.name()) {
                case "local" -> 0;
                case "mergerfs" -> 1;
                default -> 2;
            };
            values[column] = r.value();
            ops = r.operations();
            progress.accept(String.format(
                    Locale.ROOT, "%s on %s: %s %s (%d operations)", name, s.name(), number(r.value()), unit, ops));
        }
        return new Row(name, unit, higher, values, ops);
    }

    private static String number(double v) {
        return OverlayBenchReport.number(v);
    }

    // ---- setup ----

    /** Lays out what every system starts with: a maildir with old messages, and the copy-up files. */
    private void prepareLower(Path root) throws IOException {
        Path maildir = root.resolve("maildir");
        Files.createDirectories(maildir.resolve("tmp"));
        Files.createDirectories(maildir.resolve("new"));
        Path cur = Files.createDirectories(maildir.resolve("cur"));
        byte[] message = bytes(MESSAGE_BYTES, seed);
        for (int i = 0; i < LOWER_MESSAGES; i++) {
            Files.write(cur.resolve("old." + i + ":2,S"), message, CREATE_NEW, WRITE);
        }
        byte[] content = bytes(scale.copyUpFileBytes(), seed + 1);
        for (String set : List.of("cu", "cu-warm")) {
            for (int i = 0; i < copyUpCount(set); i++) {
                Path file = copyUpFile(root, set, i);
                Files.createDirectories(file.getParent());
                Files.write(file, content, CREATE_NEW, WRITE);
            }
        }
    }

    /** Files in a copy-up set: {@code cu} (timed) or {@code cu-warm} (a tenth as many, untimed, first). */
    private int copyUpCount(String set) {
        return set.equals("cu") ? scale.copyUpFiles() : Math.max(1, scale.copyUpFiles() / 10);
    }

    private static Path copyUpFile(Path root, String set, int i) {
        return root.resolve(set).resolve("d" + i / FILES_PER_DIR).resolve("f" + i);
    }

    /** Makes the tree (untimed) and its tar file; returns the tar file. */
    private Path prepareTar() throws IOException, InterruptedException {
        progress.accept("preparing a tree of " + scale.treeFiles() + " files in " + scale.treeDirs()
                + " directories and its tar (untimed)");
        Path src = Files.createDirectories(work.resolve("tree-src"));
        List<Path> dirs = new ArrayList<>();
        for (int i = 0; i < scale.treeDirs(); i++) {
            Path parent = i < WorkloadRunner.TREE_DIR_FANOUT ? src : dirs.get(i / WorkloadRunner.TREE_DIR_FANOUT - 1);
            dirs.add(Files.createDirectory(parent.resolve("d" + i)));
        }
        SplittableRandom random = new SplittableRandom(seed + 2);
        byte[] pool = bytes(16 << 10, seed + 3);
        for (int j = 0; j < scale.treeFiles(); j++) {
            int size = random.nextInt(0, 16 << 10);
            try (FileChannel c = FileChannel.open(dirs.get(j % dirs.size()).resolve("f" + j), CREATE_NEW, WRITE)) {
                writeFully(c, ByteBuffer.wrap(pool, 0, size));
            }
        }
        Path tar = work.resolve("tree.tar");
        exec(List.of("tar", "--sort=name", "-cf", tar.toString(), "-C", src.toString(), "."));
        return tar;
    }

    private Subject mountMergerfs(List<String> notes) throws IOException, InterruptedException {
        if (!mergerfs) {
            notes.add("mergerfs not measured (--no-mergerfs)");
            return null;
        }
        if (mergerfsExe.isEmpty()) {
            notes.add("mergerfs NOT MEASURED: no mergerfs on PATH (Debian: apt-get install mergerfs)");
            progress.accept("mergerfs is not installed: measuring local and overlay only");
            return null;
        }
        Path exe = mergerfsExe.get();
        Path dir = Files.createDirectories(work.resolve("mergerfs"));
        Path lower = Files.createDirectories(dir.resolve("lower"));
        Path upper = Files.createDirectories(dir.resolve("upper"));
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        prepareLower(lower);
        try {
            Mergerfs m = Mergerfs.mount(exe, upper, lower, mnt, cacheTimeoutSeconds, dir.resolve("mergerfs.log"));
            notes.add(
                    Mergerfs.version(exe) + ": branches upper=RW:lower=NC, -o " + Mergerfs.options(cacheTimeoutSeconds)
                            + " (creates always on upper; mergerfs has no copy-up: copy-up changes its lower file"
                            + " in place)");
            return new Subject("mergerfs", mnt, m);
        } catch (IOException e) {
            notes.add("mergerfs NOT MEASURED: " + e.getMessage());
            progress.accept("mergerfs could not mount, measuring local and overlay only: " + e.getMessage());
            return null;
        }
    }

    private Subject mountOverlay(String name) throws IOException {
        Path dir = Files.createDirectories(work.resolve(name));
        Path lower = Files.createDirectories(dir.resolve("lower"));
        Path upper = Files.createDirectories(dir.resolve("upper"));
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        prepareLower(lower);
        OverlayMountHandle h = OverlayMountHandle.mount(lower, upper, mnt, cacheTimeoutSeconds);
        return new Subject("overlay", mnt, h);
    }

    /** An overlay file system and its FUSE mount; closing unmounts, then closes the overlay. */
    private record OverlayMountHandle(OverlayFileSystem fs, FuseMount mount) implements AutoCloseable {
        static OverlayMountHandle mount(Path lower, Path upper, Path mnt, int cacheTimeoutSeconds) throws IOException {
            OverlayFileSystem fs = OverlayFileSystem.open(lower, upper, OverlayFileSystem.defaultWorkDirectory(upper));
            try {
                FuseOptions options = FuseOptions.defaults()
                        .withFsName(FS_NAME)
                        .withCacheTimeout(Duration.ofSeconds(cacheTimeoutSeconds));
                return new OverlayMountHandle(fs, FuseMount.mount(fs.root(), mnt, options));
            } catch (IOException | RuntimeException e) {
                fs.close();
                throw e;
            }
        }

        @Override
        public void close() throws IOException {
            try {
                mount.close();
            } finally {
                fs.close();
            }
        }
    }

    private void closeAll(List<Subject> subjects) throws IOException {
        IOException first = null;
        for (Subject s : subjects.reversed()) {
            try {
                s.closer().close();
            } catch (Exception e) {
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                if (first == null) {
                    first = new IOException("could not unmount " + s.name() + " at " + s.root() + ": " + e, e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** The overlay never writes its lower layer: every copy-up file there still has its old size. */
    private void checkOverlayLower() throws IOException {
        Path lower = work.resolve("overlay").resolve("lower");
        for (String set : List.of("cu", "cu-warm")) {
            for (int i = 0; i < copyUpCount(set); i++) {
                long size = Files.size(copyUpFile(lower, set, i));
                if (size != scale.copyUpFileBytes()) {
                    throw new IOException("the overlay wrote its lower layer: " + copyUpFile(lower, set, i) + " has "
                            + size + " bytes, " + scale.copyUpFileBytes() + " before");
                }
            }
        }
    }

    // ---- workloads ----

    private Result maildir(Subject s) throws IOException {
        Path tmp = s.root().resolve("maildir").resolve("tmp");
        Path fresh = s.root().resolve("maildir").resolve("new");
        byte[] message = bytes(MESSAGE_BYTES, seed + 4);
        ByteBuffer buffer = ByteBuffer.wrap(message);
        long warmUntil = System.nanoTime() + (long) (Math.min(2, scale.maildirSeconds() / 5) * 1e9);
        int warm = 0;
        while (System.nanoTime() - warmUntil < 0) {
            deliver(tmp, fresh, "warm." + warm, buffer, warm);
            warm++;
        }
        long limit = (long) (scale.maildirSeconds() * 1e9);
        long nanos = 0;
        int n = 0;
        while (nanos < limit) {
            long start = System.nanoTime();
            deliver(tmp, fresh, n + ".M" + n + "P0.holdfast-bench", buffer, n);
            nanos += System.nanoTime() - start;
            n++;
        }
        long delivered = count(fresh);
        long left = count(tmp);
        if (delivered != n + warm || left != 0) {
            throw new IOException(s.name() + ": delivered " + (n + warm) + " messages but new/ holds " + delivered
                    + " and tmp/ " + left);
        }
        return new Result(n / (nanos / 1e9), n);
    }

    private static void deliver(Path tmp, Path fresh, String name, ByteBuffer buffer, int n) throws IOException {
        Path file = tmp.resolve(name);
        buffer.clear();
        buffer.putInt(0, n);
        try (FileChannel c = FileChannel.open(file, CREATE_NEW, WRITE)) {
            writeFully(c, buffer);
            c.force(true);
        }
        Files.move(file, fresh.resolve(name), StandardCopyOption.ATOMIC_MOVE);
    }

    private Result untar(Subject s, Path tar) throws IOException, InterruptedException {
        Path warm = s.root().resolve("untar-warm");
        Files.createDirectory(warm);
        exec(List.of("tar", "--no-same-owner", "-xf", tar.toString(), "-C", warm.toString()));
        exec(List.of("sync", "-f", work.toString()));
        Path dest = s.root().resolve("untar");
        long start = System.nanoTime();
        Files.createDirectory(dest);
        exec(List.of("tar", "--no-same-owner", "-xf", tar.toString(), "-C", dest.toString()));
        exec(List.of("sync", "-f", work.toString()));
        long nanos = System.nanoTime() - start;
        return new Result(nanos / 1e9, scale.treeFiles());
    }

    private Result statWalk(Subject s, boolean drop) throws IOException, InterruptedException {
        walk(s.root().resolve("untar-warm"), new long[3]);
        if (drop) {
            dropCaches();
        }
        long[] counts = new long[3];
        long start = System.nanoTime();
        walk(s.root().resolve("untar"), counts);
        long nanos = System.nanoTime() - start;
        if (counts[0] != scale.treeDirs() + 1L || counts[1] != scale.treeFiles() || counts[2] != 0) {
            throw new IOException(s.name() + ": the walk found " + counts[0] + " directories, " + counts[1]
                    + " files and " + counts[2] + " other entries; the tar holds " + (scale.treeDirs() + 1L)
                    + " directories and " + scale.treeFiles() + " files");
        }
        return new Result(nanos / 1e9, counts[0] + counts[1]);
    }

    /** Walks {@code root} reading every entry's attributes; counts directories, files and others. */
    private static void walk(Path root, long[] counts) throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                counts[0]++;
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                counts[attrs.isRegularFile() ? 1 : 2]++;
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private Result copyUp(Subject s, boolean drop) throws IOException, InterruptedException {
        ByteBuffer append = ByteBuffer.wrap(bytes(MESSAGE_BYTES, seed + 5));
        appendEach(s.root(), "cu-warm", append);
        if (drop) {
            dropCaches();
        }
        long nanos = appendEach(s.root(), "cu", append);
        long want = (long) scale.copyUpFileBytes() + MESSAGE_BYTES;
        for (String set : List.of("cu", "cu-warm")) {
            for (int i = 0; i < copyUpCount(set); i++) {
                long size = Files.size(copyUpFile(s.root(), set, i));
                if (size != want) {
                    throw new IOException(s.name() + ": " + copyUpFile(s.root(), set, i) + " has " + size
                            + " bytes after the append, not " + want);
                }
            }
        }
        return new Result(scale.copyUpFiles() / (nanos / 1e9), scale.copyUpFiles());
    }

    /** Appends {@code append} with fsync to each file of a copy-up set; returns the nanoseconds spent. */
    private long appendEach(Path root, String set, ByteBuffer append) throws IOException {
        long nanos = 0;
        for (int i = 0; i < copyUpCount(set); i++) {
            append.clear();
            long start = System.nanoTime();
            try (FileChannel c = FileChannel.open(copyUpFile(root, set, i), WRITE, APPEND)) {
                writeFully(c, append);
                c.force(true);
            }
            nanos += System.nanoTime() - start;
        }
        return nanos;
    }

    // ---- foreground during a merge ----

    private OverlayBenchReport.Foreground foreground() throws IOException, InterruptedException {
        Path dir = Files.createDirectories(work.resolve("merge"));
        Path lower = Files.createDirectories(dir.resolve("lower"));
        Path upper = Files.createDirectories(dir.resolve("upper"));
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        prepareLower(lower);
        progress.accept("foreground: writing " + scale.mergeFiles() + " files, " + scale.mergeBytes()
                + " bytes into the upper layer (untimed)");
        long upperBytes = 0;
        byte[] pool = bytes(1 << 20, seed + 6);
        for (int i = 0; i < scale.mergeFiles(); i++) {
            Path file = mergeFile(upper, i);
            Files.createDirectories(file.getParent());
            long size = scale.mergeFileBytes(i);
            try (FileChannel c = FileChannel.open(file, CREATE_NEW, WRITE)) {
                for (long done = 0; done < size; ) {
                    int n = (int) Math.min(pool.length, size - done);
                    writeFully(c, ByteBuffer.wrap(pool, 0, n));
                    done += n;
                }
            }
            upperBytes += size;
        }
        exec(List.of("sync", "-f", work.toString()));
        OverlayMountHandle h = OverlayMountHandle.mount(lower, upper, mnt, cacheTimeoutSeconds);
        try (h) {
            Files.createDirectories(mnt.resolve("fg").resolve("tmp"));
            Files.createDirectories(mnt.resolve("fg").resolve("new"));
            try (OverlayForeground loop = new OverlayForeground(mnt, scale, seed)) {
                loop.start();
                progress.accept(String.format(
                        Locale.ROOT,
                        "foreground: %d cycles/s through the overlay, idle for %.1f s",
                        scale.foregroundRate(),
                        scale.idleSeconds()));
                Thread.sleep((long) (scale.idleSeconds() * 1000));
                OverlayBenchReport.Phase idle = loop.nextPhase();
                progress.accept("foreground: idle p99 deliver "
                        + millis(idle.deliver().p99Nanos()) + ", read "
                        + millis(idle.read().p99Nanos())
                        + "; now merging the upper layer into the lower one (OverlayMerge defaults)");
                OverlayMerge merge = OverlayMerge.builder(lower, upper).build();
                MergeReport r = merge.run();
                OverlayBenchReport.Phase merging = loop.nextPhase();
                progress.accept("foreground: merge p99 deliver "
                        + millis(merging.deliver().p99Nanos()) + ", read "
                        + millis(merging.read().p99Nanos()));
                return new OverlayBenchReport.Foreground(
                        scale.foregroundRate(),
                        scale.mergeFiles(),
                        upperBytes,
                        idle,
                        merging,
                        new OverlayBenchReport.MergeRun(
                                r.filesCopied(),
                                r.bytesCopied(),
                                r.elapsedNanos() / 1e9,
                                r.passes(),
                                r.complete(),
                                r.errorCount(),
                                OverlayMerge.DEFAULT_BYTES_PER_SECOND,
                                OverlayMerge.DEFAULT_OPS_PER_SECOND));
            }
        }
    }

    static Path mergeFile(Path root, int i) {
        return root.resolve("data").resolve("d" + i / FILES_PER_DIR).resolve("f" + i);
    }

    private static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
    }

    // ---- helpers ----

    private void dropCaches() throws IOException, InterruptedException {
        exec(List.of("sync", "-f", work.toString()));
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3", StandardCharsets.US_ASCII);
    }

    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    static void writeFully(FileChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    private static long count(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    /** Runs a tool; fails with its output unless it exits 0 within 10 minutes. */
    private static void exec(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " did not finish within 10 minutes");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed with exit " + p.exitValue() + ": "
                    + new String(out, StandardCharsets.UTF_8).strip());
        }
    }
}
