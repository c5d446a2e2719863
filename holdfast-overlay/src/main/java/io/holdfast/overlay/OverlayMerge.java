package io.holdfast.overlay;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import io.holdfast.common.Pacer;
import io.holdfast.common.SpecialFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.LongSupplier;
import java.util.zip.CRC32C;

/**
 * The paced, resumable merge of an overlay's upper layer back into a base: the lower layer itself
 * (in place), or a new directory that receives lower + upper ({@link Builder#into}). The result is
 * the union as the overlay shows it: upper files, links and special files written over the base's;
 * whiteouts applied as deletes (whole subtrees); an opaque directory's old base content removed;
 * directories' mode, owner, times and user extended attributes set as in the upper layer.
 *
 * <p><b>Design.</b> One thread walks the upper layer in name order, in passes. Each entry lands in
 * the base atomically: a file (symbolic link, special file, hard link) is built under a temporary
 * name {@value #TEMP_PREFIX}NAME in its target directory (content, user extended attributes of
 * files and directories, owner where the process may, mode, times; the data forced to disk) and renamed over NAME, so a
 * reader of the base sees the old entry or the whole new one (names starting with
 * {@value #TEMP_PREFIX} are therefore reserved in the base). Names that are hard links of one file
 * in the upper layer are written as hard links of one file in the base. What is done goes into a
 * journal ({@link #JOURNAL_FILE} in the work directory, see {@link MergeJournal}): an upper file is
 * recorded with its state (size, modification and change times, inode, link count and mode) after
 * it landed; a run finds an entry whose state matches its record (and whose name in the base holds
 * an entry of its type and size) already done and skips it, so a
 * merge killed at any moment finishes its work when run again (a temporary file a kill left is
 * removed first). Pacing: every operation on the base (a file written, a directory made, an entry
 * deleted, a directory's attributes set) takes one token of an operation-rate {@link Pacer}, and
 * every byte of content one token of a byte-rate one; reading the upper layer's metadata is not
 * paced.
 *
 * <p><b>While the overlay stays mounted and in use.</b> What is guaranteed: a file changed in the
 * upper layer while it is copied (its state differs before and after the copy) is copied again (at
 * most {@value #MAX_ATTEMPTS} times, then left to the next pass); one changed after it landed has a
 * state other than its record and is copied again by the next pass; a whiteout or opaque directory
 * that appears is applied by the next pass; an entry the journal records as merged that has left
 * the upper layer without a whiteout (deleted or renamed through the overlay where the overlay did
 * not see a lower entry) is removed from the base. The merge makes passes until one finds nothing
 * to do ({@link MergeReport#complete}), at most {@link Builder#maxPasses}; the base then holds the
 * union as it was during that last pass. Not guaranteed: the base matches the union at any one
 * instant while writers are active (a pass takes time; each file is individually consistent, not a
 * tree); a change that leaves size, modification time and change time all as they were (a
 * rewrite within one timestamp tick, a few milliseconds on Linux before 6.13's fine-grained
 * timestamps) can go unseen; writes to a file still open by a writer after the last pass are only
 * merged by another run. A merge in place changes the lower layer behind the mounted overlay,
 * which the overlay does not expect: what it shows stays right (the upper layer still wins), but
 * its cache of which directories exist below can be stale, so delete through it before merging in
 * place where that matters. The base must not be written by anything else during the merge.
 *
 * <p><b>Damaged lower layer.</b> While building a new base, a lower entry that cannot be read
 * (listing, {@code lstat}, data, link target, extended attributes) is recorded as a
 * {@link MergeReport.Problem} with its path and left out, and the merge goes on; a later run tries
 * it again. The lower layer is never written with {@link Builder#into}.
 *
 * <p><b>Emptying the upper layer</b> ({@link Builder#emptyUpper}, only after a complete merge):
 * each upper entry whose state still equals its record is removed (recorded first, so a kill in
 * between is no loss), whiteouts applied are removed, and directories left empty; anything changed
 * since stays. Do it with the overlay unmounted: the base can then be used directly.
 *
 * <p>Whiteouts are read in the format the overlay's work directory records ({@code WORK/format}),
 * {@link WhiteoutFormat#KERNEL} if it has none; {@code trusted.overlay.*} attributes (the kernel's
 * without {@code -o userxattr}) cannot be read from Java and are not seen. Hard links inside the
 * lower layer are kept together when building a new base within one run; names of a linked file
 * copied by different runs (after a kill) become separate files.
 *
 * <p>Specification followed for the layers' meaning: the kernel's {@code
 * Documentation/filesystems/overlayfs.rst}, "whiteouts and opaque directories". One run at a time
 * per journal; an instance runs once. Not thread-safe.
 */
public final class OverlayMerge {
    /** The journal's name in the work directory. */
    public static final String JOURNAL_FILE = "merge.journal";
    /** Prefix of the temporary names in the base. */
    public static final String TEMP_PREFIX = ".hf-merge.";
    /** Default byte rate: 16 MiB/s. */
    public static final long DEFAULT_BYTES_PER_SECOND = 16L << 20;
    /** Default operation rate: 1000 operations per second. */
    public static final long DEFAULT_OPS_PER_SECOND = 1000;
    /** Default most passes over the upper layer: 10. */
    public static final int DEFAULT_MAX_PASSES = 10;
    /** Copies of one changing file within one pass before it is left to the next pass: 3. */
    public static final int MAX_ATTEMPTS = 3;
    /** Most paths kept in {@link MergeReport#errors} and {@link MergeReport#stillChanging}: 1000. */
    public static final int MAX_LISTED = 1000;

    private static final System.Logger LOG = System.getLogger(OverlayMerge.class.getName());
    /** Pacer tokens per operation, so a pacer's burst (at least 64 Ki tokens) is a tenth of a second. */
    private static final long OP_TOKENS = 1_000_000;

    private static final int COPY_BUFFER = 1 << 20;
    private static final int NAME_MAX = 255;

    /** Told where a merge is, after every operation; called on the merging thread. */
    @FunctionalInterface
    public interface ProgressListener {
        /** Where the merge is now. Must not block long: the merge waits. */
        void progress(MergeProgress progress);

        /** A pass over the upper layer (or the lower phase, pass 0) starts. */
        default void phaseStarted(MergeProgress progress) {}

        /** An entry could not be merged; the merge goes on. */
        default void problem(MergeReport.Problem problem) {}
    }

    /** Test hook: called at chosen points; may throw to stop the merge there as a kill would. */
    interface Hook {
        Hook NONE = new Hook() {};

        /** Before each paced operation on the base. */
        default void beforeOperation(String operation, String rel) throws IOException {}

        /** After an upper file landed in the base, before the journal records it. */
        default void landed(String rel) throws IOException {}

        /** After each chunk of file content written to a temporary file. */
        default void chunkWritten(String rel, long bytesSoFar) throws IOException {}
    }

    /**
     * Starts the description of a merge of {@code upper} into {@code lower}.
     *
     * @param lower the base: the overlay's lower layer (merged in place unless {@link Builder#into})
     * @param upper the overlay's upper layer
     */
    public static Builder builder(Path lower, Path upper) {
        return new Builder(lower, upper);
    }

    /** How to merge; {@link #build} checks it. Not thread-safe. */
    public static final class Builder {
        private final Path lower;
        private final Path upper;
        private Path into;
        private Path work;
        private long bytesPerSecond = DEFAULT_BYTES_PER_SECOND;
        private long opsPerSecond = DEFAULT_OPS_PER_SECOND;
        private boolean emptyUpper;
        private int maxPasses = DEFAULT_MAX_PASSES;
        private boolean durable = true;
        private ProgressListener listener;
        private LongSupplier nanoTime = System::nanoTime;
        private Pacer.Sleeper sleeper = Pacer.Sleeper.SYSTEM;
        private Hook hook = Hook.NONE;

        private Builder(Path lower, Path upper) {
            this.lower = Objects.requireNonNull(lower, "lower");
            this.upper = Objects.requireNonNull(upper, "upper");
        }

        /**
         * Builds a new base {@code newBase} (absent or empty; created) from lower + upper; the
         * lower layer is then not written.
         */
        public Builder into(Path newBase) {
            this.into = newBase;
            return this;
        }

        /** The overlay's work directory (holds the journal); default {@link OverlayFileSystem#defaultWorkDirectory}. */
        public Builder work(Path work) {
            this.work = work;
            return this;
        }

        /** Content bytes per second written into the base; 0 for no limit. Default 16 MiB/s. */
        public Builder bytesPerSecond(long bytesPerSecond) {
            this.bytesPerSecond = bytesPerSecond;
            return this;
        }

        /** Operations per second on the base; 0 for no limit. Default 1000. */
        public Builder operationsPerSecond(long opsPerSecond) {
            this.opsPerSecond = opsPerSecond;
            return this;
        }

        /** Whether to empty the upper layer of what was merged once the merge is complete. Default false. */
        public Builder emptyUpper(boolean emptyUpper) {
            this.emptyUpper = emptyUpper;
            return this;
        }

        /** Most passes over the upper layer, 1 to 1000. Default 10. */
        public Builder maxPasses(int maxPasses) {
            this.maxPasses = maxPasses;
            return this;
        }

        /** Where progress goes; default nowhere (and no scan before each pass). */
        public Builder listener(ProgressListener listener) {
            this.listener = listener;
            return this;
        }

        /** Whether each file's data is forced to disk before it is renamed into place. Default true. */
        Builder durable(boolean durable) {
            this.durable = durable;
            return this;
        }

        /** The pacers' clock and sleep (tests). */
        Builder clock(LongSupplier nanoTime, Pacer.Sleeper sleeper) {
            this.nanoTime = Objects.requireNonNull(nanoTime);
            this.sleeper = Objects.requireNonNull(sleeper);
            return this;
        }

        Builder hook(Hook hook) {
            this.hook = Objects.requireNonNull(hook);
            return this;
        }

        /**
         * The merge.
         *
         * @throws IllegalArgumentException if a rate is negative, the passes out of range, or the
         *     directories overlap (the work directory or new base inside a layer, or a layer inside it)
         */
        public OverlayMerge build() {
            if (bytesPerSecond < 0 || opsPerSecond < 0) {
                throw new IllegalArgumentException("rates must not be negative (0 = no limit): " + bytesPerSecond
                        + " bytes/s, " + opsPerSecond + " operations/s");
            }
            if (maxPasses < 1 || maxPasses > 1000) {
                throw new IllegalArgumentException("maxPasses must be 1 to 1000, got " + maxPasses);
            }
            return new OverlayMerge(this);
        }
    }

    private final Path lower;
    private final Path upper;
    private final Path target;
    private final Path work;
    private final boolean into;
    private final boolean emptyUpper;
    private final boolean durable;
    private final int maxPasses;
    private final Pacer bytePacer;
    private final Pacer opPacer;
    private final ProgressListener listener;
    private final LongSupplier nanoTime;
    private final Hook hook;
    private boolean ran;

    // the state of a run
    private WhiteoutFormat format;
    private MergeJournal journal;
    private final Map<Long, String> linkTargets = new HashMap<>();
    private final Map<Long, String> lowerLinks = new HashMap<>();
    private final Set<String> seen = new HashSet<>();
    private final Set<String> incomplete = new HashSet<>();
    private final List<String> stillChanging = new ArrayList<>();
    private final List<MergeReport.Problem> problems = new ArrayList<>();
    private final Set<String> warned = new HashSet<>();
    private long errorCount;
    private long filesCopied;
    private long bytesCopied;
    private long linksMade;
    private long directoriesMade;
    private long attributeUpdates;
    private long deletes;
    private long opaqueReplacements;
    private long lowerFilesCopied;
    private long lowerBytesCopied;
    private long retries;
    private long skipped;
    private long removed;
    private long kept;
    private long operations;
    private String phase = "merge";
    private int pass;
    private long phaseStart;
    private long phaseFiles;
    private long phaseBytes;
    private long phaseFilesToDo;
    private long phaseBytesToDo;

    private OverlayMerge(Builder b) {
        this.lower = b.lower.toAbsolutePath().normalize();
        this.upper = b.upper.toAbsolutePath().normalize();
        this.into = b.into != null;
        this.target = into ? b.into.toAbsolutePath().normalize() : lower;
        this.work =
                b.work != null ? b.work.toAbsolutePath().normalize() : OverlayFileSystem.defaultWorkDirectory(upper);
        this.emptyUpper = b.emptyUpper;
        this.durable = b.durable;
        this.maxPasses = b.maxPasses;
        this.bytePacer = b.bytesPerSecond == 0 ? null : new Pacer(b.bytesPerSecond, b.nanoTime, b.sleeper);
        this.opPacer = b.opsPerSecond == 0 ? null : new Pacer(b.opsPerSecond * OP_TOKENS, b.nanoTime, b.sleeper);
        this.listener = b.listener;
        this.nanoTime = b.nanoTime;
        this.hook = b.hook;
        List<Path> all = into ? List.of(lower, upper, work, target) : List.of(lower, upper, work);
        for (int i = 0; i < all.size(); i++) {
            for (int j = 0; j < all.size(); j++) {
                Path a = all.get(i);
                Path c = all.get(j);
                if (i != j && a.getFileSystem() == c.getFileSystem() && a.startsWith(c)) {
                    throw new IllegalArgumentException(
                            "the directories overlap: " + a + " is inside " + c + " (lower " + lower + ", upper "
                                    + upper + ", work " + work + (into ? ", new base " + target : "") + ")");
                }
            }
        }
    }

    /** The journal of a merge with the work directory {@code work}. */
    public static Path journalFile(Path work) {
        return work.resolve(JOURNAL_FILE);
    }

    /** The base this merge writes: the new base, or the lower layer. */
    public Path target() {
        return target;
    }

    /** The journal this merge keeps. */
    public Path journal() {
        return journalFile(work);
    }

    /**
     * Runs the merge (blocking; long: paced) and reports what it did. Run it again after a kill,
     * a crash or an {@link IOException}: it resumes from the journal.
     *
     * @return what changed; {@link MergeReport#complete} false if entries kept changing
     * @throws java.nio.file.NotDirectoryException if a layer is not a directory
     * @throws IOException if the base cannot be written (disk full, permission), the journal is
     *     corrupt or belongs to another merge, or the new base is not empty and has no journal;
     *     failures to read single upper or lower entries are not thrown but reported
     * @throws InterruptedException if interrupted while pacing (the journal keeps what is done)
     * @throws IllegalStateException if this merge already ran
     */
    public MergeReport run() throws IOException, InterruptedException {
        if (ran) {
            throw new IllegalStateException("this merge already ran: build another");
        }
        ran = true;
        long start = nanoTime.getAsLong();
        for (Path p : into ? List.of(lower, upper) : List.of(upper)) {
            if (!Files.isDirectory(p)) {
                throw new NotDirectoryException(p.toString());
            }
        }
        if (!into && !Files.isDirectory(lower)) {
            throw new NotDirectoryException(lower.toString());
        }
        Path journalPath = journal();
        if (into && Files.exists(target, NOFOLLOW_LINKS) && !Files.exists(journalPath) && !isEmptyDirectory(target)) {
            throw new IOException(
                    "the new base " + target + " is not empty, and " + journalPath + " has no merge into it to resume");
        }
        Files.createDirectories(work);
        if (into) {
            Files.createDirectories(target);
        }
        format = readFormat();
        boolean complete = false;
        try (MergeJournal j = MergeJournal.open(journalPath, lower.toString(), upper.toString(), target.toString())) {
            journal = j;
            removeLeftoverTemp();
            for (Map.Entry<String, MergeJournal.Entry> e : j.upperEntries().entrySet()) {
                if (e.getValue().kind == 'F' && e.getValue().ino >= 0) {
                    linkTargets.put(e.getValue().ino, e.getKey());
                }
            }
            if (into && !j.lowerDone("")) {
                lowerPhase();
            }
            phase = "merge";
            while (pass < maxPasses) {
                pass++;
                seen.clear();
                incomplete.clear();
                stillChanging.clear();
                startPhase(true);
                boolean did = mergeDirectory("");
                did |= removeVanished();
                if (!did && stillChanging.isEmpty()) {
                    complete = true;
                    break;
                }
            }
            if (complete && emptyUpper) {
                emptyPhase();
            }
            j.sync();
        }
        return new MergeReport(
                target.toString(),
                complete,
                pass,
                filesCopied,
                bytesCopied,
                linksMade,
                directoriesMade,
                attributeUpdates,
                deletes,
                opaqueReplacements,
                lowerFilesCopied,
                lowerBytesCopied,
                retries,
                skipped,
                removed,
                kept,
                List.copyOf(stillChanging.subList(0, Math.min(MAX_LISTED, stillChanging.size()))),
                List.copyOf(problems),
                errorCount,
                nanoTime.getAsLong() - start);
    }

    private static boolean isEmptyDirectory(Path p) throws IOException {
        if (!Files.isDirectory(p, NOFOLLOW_LINKS)) {
            return false;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
            return !ds.iterator().hasNext();
        }
    }

    private WhiteoutFormat readFormat() throws IOException {
        Path f = work.resolve("format");
        if (!Files.exists(f)) {
            return WhiteoutFormat.KERNEL;
        }
        String s = Files.readString(f, StandardCharsets.UTF_8).trim();
        try {
            return WhiteoutFormat.valueOf(s);
        } catch (IllegalArgumentException e) {
            throw new IOException("corrupt " + f + ": '" + s + "' is not KERNEL or AUFS");
        }
    }

    private void removeLeftoverTemp() throws IOException {
        String rel = journal.lastTemp();
        if (rel == null) {
            return;
        }
        Path tmp = tempFor(targetPath(rel));
        try {
            if (Files.deleteIfExists(tmp)) {
                LOG.log(System.Logger.Level.INFO, "removed " + tmp + ", left by an interrupted merge");
            }
        } catch (NoSuchFileException | NotDirectoryException e) {
            // its directory is gone
        }
    }

    // ------------------------------------------------------------------ paths and metadata

    private Path upperPath(String rel) {
        return rel.isEmpty() ? upper : upper.resolve(rel);
    }

    private Path lowerPath(String rel) {
        return rel.isEmpty() ? lower : lower.resolve(rel);
    }

    private Path targetPath(String rel) {
        return rel.isEmpty() ? target : target.resolve(rel);
    }

    /** The temporary name beside {@code p}: {@value #TEMP_PREFIX}NAME, or a hash of NAME if that is too long. */
    static Path tempFor(Path p) {
        String name = p.getFileName().toString();
        String tmp = TEMP_PREFIX + name;
        if (tmp.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
            CRC32C c = new CRC32C();
            c.update(name.getBytes(StandardCharsets.UTF_8));
            tmp = TEMP_PREFIX + "h" + HexFormat.of().toHexDigits((int) c.getValue()) + "." + name.length();
        }
        return p.resolveSibling(tmp);
    }

    private static Attrs stat(Path p) throws IOException {
        if (p.getFileSystem().supportedFileAttributeViews().contains("unix")) {
            Map<String, Object> m = Files.readAttributes(p, Overlay.UNIX_ATTRS, NOFOLLOW_LINKS);
            return Attrs.ofUnix(m, m.get("ino"));
        }
        return Attrs.ofBasic(Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW_LINKS));
    }

    private static Attrs statOrNull(Path p) throws IOException {
        try {
            return stat(p);
        } catch (NoSuchFileException | NotDirectoryException e) {
            return null;
        }
    }

    /** The state of an upper entry the journal records: changes when its content or metadata does. */
    static String key(Attrs a) {
        StringBuilder b = new StringBuilder();
        b.append(a.size()).append(':').append(stamp(a.mtime())).append(':').append(stamp(a.ctime()));
        b.append(':').append(Integer.toOctalString(a.mode()));
        if (a.unix() != null) {
            b.append(':')
                    .append(a.unix().get("ino"))
                    .append(':')
                    .append(a.unix().get("nlink"));
        } else {
            b.append(':').append(a.key());
        }
        return b.toString();
    }

    /** A {@link #key} without the change time and link count, which removing another name of the file changes. */
    private static String linkKey(String key) {
        String[] f = key.split(":");
        return f.length < 6 ? key : f[0] + ":" + f[1] + ":" + f[3] + ":" + f[4];
    }

    private static String stamp(FileTime t) {
        return t == null
                ? "-"
                : t.toInstant().getEpochSecond() + "." + t.toInstant().getNano();
    }

    private static long ino(Attrs a) {
        return a.unix() != null && a.unix().get("ino") instanceof Number n ? n.longValue() : -1;
    }

    private static long nlink(Attrs a) {
        return a.unix() != null && a.unix().get("nlink") instanceof Number n ? n.longValue() : 1;
    }

    private boolean isOpaque(Path upperDir) throws IOException {
        if (format == WhiteoutFormat.AUFS) {
            return Files.exists(upperDir.resolve(Overlay.WH_OPAQUE), NOFOLLOW_LINKS);
        }
        UserDefinedFileAttributeView v =
                Files.getFileAttributeView(upperDir, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        if (v == null) {
            return false;
        }
        try {
            if (!v.list().contains(Overlay.OPAQUE_XATTR)) {
                return false;
            }
            ByteBuffer b = ByteBuffer.allocate(Math.max(1, v.size(Overlay.OPAQUE_XATTR)));
            v.read(Overlay.OPAQUE_XATTR, b);
            return b.position() == 1 && b.get(0) == 'y';
        } catch (UnsupportedOperationException e) {
            return false;
        }
    }

    private static List<String> names(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                out.add(p.getFileName().toString());
            }
        } catch (DirectoryIteratorException e) {
            throw e.getCause();
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    // ------------------------------------------------------------------ pacing, progress, problems

    private void operation(String what, String rel) throws IOException, InterruptedException {
        hook.beforeOperation(what, rel);
        operations++;
        if (opPacer != null) {
            opPacer.acquire(OP_TOKENS);
        }
    }

    private void progress() {
        if (listener != null) {
            listener.progress(snapshot());
        }
    }

    private MergeProgress snapshot() {
        return new MergeProgress(
                phase,
                pass,
                phaseFiles,
                phaseFilesToDo,
                phaseBytes,
                phaseBytesToDo,
                operations,
                nanoTime.getAsLong() - phaseStart);
    }

    private void startPhase(boolean upperLayer) {
        phaseStart = nanoTime.getAsLong();
        phaseFiles = 0;
        phaseBytes = 0;
        phaseFilesToDo = 0;
        phaseBytesToDo = 0;
        if (listener != null) {
            long[] counts = new long[2];
            if (upperLayer) {
                scanUpper("", counts, 0);
            } else {
                scanLower("", counts, 0);
            }
            phaseFilesToDo = counts[0];
            phaseBytesToDo = counts[1];
            listener.phaseStarted(snapshot());
        }
    }

    /** Counts the upper files not merged in their present state (for the ETA); errors are ignored here. */
    private void scanUpper(String rel, long[] counts, int depth) {
        try {
            for (String name : names(upperPath(rel))) {
                String c = Overlay.child(rel, name);
                Attrs a = statOrNull(upperPath(c));
                if (a == null || a.isWhiteout()) {
                    continue;
                }
                if (a.isDirectory()) {
                    if (depth < 4096) {
                        scanUpper(c, counts, depth + 1);
                    }
                    continue;
                }
                MergeJournal.Entry e = journal.upper(c);
                if (e == null || e.kind != 'F' || !key(a).equals(e.key)) {
                    counts[0]++;
                    counts[1] += a.isRegularFile() ? a.size() : 0;
                }
            }
        } catch (IOException e) {
            // reported by the pass itself
        }
    }

    private void scanLower(String rel, long[] counts, int depth) {
        if (journal.lowerDone(rel) && !rel.isEmpty()) {
            return;
        }
        try {
            for (String name : names(lowerPath(rel))) {
                String c = Overlay.child(rel, name);
                if (journal.lowerDone(c)) {
                    continue;
                }
                Attrs a = statOrNull(lowerPath(c));
                if (a == null) {
                    continue;
                }
                if (a.isDirectory()) {
                    if (depth < 4096) {
                        scanLower(c, counts, depth + 1);
                    }
                } else {
                    counts[0]++;
                    counts[1] += a.isRegularFile() ? a.size() : 0;
                }
            }
        } catch (IOException e) {
            // reported by the copy itself
        }
    }

    private void problem(String rel, String layer, String op, IOException e) {
        errorCount++;
        MergeReport.Problem p = new MergeReport.Problem("/" + rel, layer, op, String.valueOf(e.getMessage()));
        if (problems.size() < MAX_LISTED) {
            problems.add(p);
        }
        LOG.log(System.Logger.Level.WARNING, "overlay merge: " + op + " of " + layer + " /" + rel + " failed: " + e);
        if (listener != null) {
            listener.problem(p);
        }
    }

    /** A failure of the source (upper or lower layer) or of the base for one entry only: reported, not thrown. */
    private static final class EntryFailure extends IOException {
        private static final long serialVersionUID = 1L;
        final String layer;
        final String op;

        EntryFailure(String layer, String op, IOException cause) {
            super(cause.getMessage(), cause);
            this.layer = layer;
            this.op = op;
        }
    }

    // ------------------------------------------------------------------ building entries

    /**
     * Builds a copy of {@code src} (attributes {@code a}) at {@code tmp}: content or link or
     * special file, user extended attributes, owner, mode, times. Not for directories.
     *
     * @return bytes of content copied
     */
    private long build(Path src, Attrs a, Path tmp, String rel, String layer) throws IOException, InterruptedException {
        long bytes = 0;
        switch (a.type()) {
            case Attrs.S_IFREG -> bytes = copyContent(src, tmp, rel, layer);
            case Attrs.S_IFLNK -> {
                Path link;
                try {
                    link = Files.readSymbolicLink(src);
                } catch (IOException e) {
                    throw new EntryFailure(layer, "readlink", e);
                }
                Files.createSymbolicLink(tmp, tmp.getFileSystem().getPath(link.toString()));
            }
            default -> {
                if (!SpecialFiles.supported(tmp)) {
                    throw new EntryFailure(
                            "base", "mknod", new IOException("the base cannot hold special files (" + tmp + ")"));
                }
                try {
                    SpecialFiles.mknod(tmp, a.mode(), a.rdev());
                } catch (IOException e) {
                    throw new EntryFailure("base", "mknod", e);
                }
            }
        }
        applyAttributes(src, a, tmp, false, rel, layer);
        return bytes;
    }

    private long copyContent(Path src, Path tmp, String rel, String layer) throws IOException, InterruptedException {
        FileChannel in;
        try {
            in = FileChannel.open(src, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new EntryFailure(layer, "open", e);
        }
        long total = 0;
        try (in;
                FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
            ByteBuffer buf = ByteBuffer.allocate(COPY_BUFFER);
            while (true) {
                buf.clear();
                int n;
                try {
                    n = in.read(buf, total);
                } catch (IOException e) {
                    throw new EntryFailure(layer, "read", e);
                }
                if (n < 0) {
                    break;
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    out.write(buf);
                }
                total += n;
                phaseBytes += n;
                hook.chunkWritten(rel, total);
                if (bytePacer != null) {
                    bytePacer.acquire(n);
                }
                progress();
            }
            if (durable) {
                out.force(true);
            }
        }
        return total;
    }

    /** Copies user extended attributes, owner (where allowed), mode and times of {@code src} to {@code dst}. */
    private void applyAttributes(Path src, Attrs a, Path dst, boolean exactXattrs, String rel, String layer)
            throws IOException {
        if (a.isRegularFile() || a.isDirectory()) {
            copyXattrs(src, dst, exactXattrs, layer); // the JDK opens the file for them: a FIFO would block
        }
        boolean unixTarget = dst.getFileSystem().supportedFileAttributeViews().contains("unix");
        if (a.unix() != null && unixTarget) {
            try {
                Files.setAttribute(dst, "unix:gid", a.unix().get("gid"), NOFOLLOW_LINKS);
                Files.setAttribute(dst, "unix:uid", a.unix().get("uid"), NOFOLLOW_LINKS);
            } catch (IOException e) {
                if (warned.add("chown")) {
                    LOG.log(
                            System.Logger.Level.WARNING,
                            "overlay merge cannot keep owners (" + e + "): merged files belong to this process");
                }
            }
        }
        if (a.type() != Attrs.S_IFLNK) {
            if (a.unix() != null && unixTarget) {
                Files.setAttribute(dst, "unix:mode", a.mode() & 07777); // not a link; NOFOLLOW would open a FIFO
            } else if (dst.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                Files.setPosixFilePermissions(dst, Modes.permissions(a.mode()));
            }
        }
        if (dst.getFileSystem() == FileSystems.getDefault()) {
            SpecialFiles.setTimes(dst, a.mtime(), a.atime());
        } else {
            Files.getFileAttributeView(dst, BasicFileAttributeView.class, NOFOLLOW_LINKS)
                    .setTimes(a.mtime(), a.atime(), null);
        }
    }

    private void copyXattrs(Path src, Path dst, boolean exact, String layer) throws IOException {
        UserDefinedFileAttributeView from =
                Files.getFileAttributeView(src, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        UserDefinedFileAttributeView to =
                Files.getFileAttributeView(dst, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        if (from == null || to == null) {
            return;
        }
        List<String> names;
        try {
            names = from.list();
        } catch (UnsupportedOperationException e) {
            return;
        } catch (IOException e) {
            throw new EntryFailure(layer, "listxattr", e);
        }
        Set<String> copied = new HashSet<>();
        for (String name : names) {
            if (name.startsWith(Overlay.PRIVATE_XATTRS)) {
                continue;
            }
            ByteBuffer b;
            try {
                b = ByteBuffer.allocate(from.size(name));
                from.read(name, b);
            } catch (IOException e) {
                throw new EntryFailure(layer, "getxattr", e);
            }
            b.flip();
            to.write(name, b);
            copied.add(name);
        }
        if (exact) {
            try {
                for (String name : to.list()) {
                    if (!copied.contains(name) && !name.startsWith(Overlay.PRIVATE_XATTRS)) {
                        to.delete(name);
                    }
                }
            } catch (UnsupportedOperationException e) {
                // nothing to remove
            }
        }
    }

    /** Renames a built temporary entry over {@code rel} in the base (a directory there is removed first). */
    private void land(Path tmp, String rel) throws IOException, InterruptedException {
        Path tg = targetPath(rel);
        Attrs ta = statOrNull(tg);
        if (ta != null && ta.isDirectory()) {
            deleteTree(rel);
            deletes++;
        }
        Files.move(tmp, tg, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Deletes {@code rel} in the base with everything under it, one paced operation per entry. */
    private void deleteTree(String rel) throws IOException, InterruptedException {
        Path p = targetPath(rel);
        Attrs a;
        try {
            a = statOrNull(p);
        } catch (IOException e) {
            problem(rel, "base", "stat", e);
            return;
        }
        if (a == null) {
            return;
        }
        if (a.isDirectory()) {
            List<String> names;
            try {
                names = names(p);
            } catch (IOException e) {
                problem(rel, "base", "readdir", e);
                return;
            }
            for (String name : names) {
                deleteTree(Overlay.child(rel, name));
            }
        }
        operation("delete", rel);
        try {
            Files.deleteIfExists(p);
        } catch (DirectoryNotEmptyException e) {
            problem(rel, "base", "delete", e); // an entry below could not be removed
        }
        progress();
    }

    // ------------------------------------------------------------------ the lower phase (--into)

    private void lowerPhase() throws IOException, InterruptedException {
        phase = "lower";
        pass = 0;
        startPhase(false);
        boolean ok = copyLowerDirectory("", upper);
        Attrs la;
        try {
            la = stat(lower);
            operation("attrs", "");
            applyAttributes(lower, la, target, true, "", "lower");
        } catch (EntryFailure e) {
            problem("", e.layer, e.op, e);
            ok = false;
        }
        if (ok) {
            journal.lowerCopied("", true);
        }
    }

    /**
     * Copies the lower directory {@code rel} into the new base, leaving out what the upper
     * directory {@code upperDir} (null if none) hides. Returns whether all of it was copied.
     */
    private boolean copyLowerDirectory(String rel, Path upperDir) throws IOException, InterruptedException {
        List<String> names;
        try {
            names = names(lowerPath(rel));
        } catch (IOException e) {
            problem(rel, "lower", "readdir", e);
            return false;
        }
        boolean ok = true;
        for (String name : names) {
            String c = Overlay.child(rel, name);
            if (journal.lowerDone(c)) {
                continue;
            }
            Path upperChild = null;
            if (upperDir != null) {
                if (format == WhiteoutFormat.AUFS
                        && Files.exists(upperDir.resolve(Overlay.WH_PREFIX + name), NOFOLLOW_LINKS)) {
                    continue;
                }
                Attrs u;
                try {
                    u = statOrNull(upperDir.resolve(name));
                } catch (IOException e) {
                    u = null; // the merge pass reports it
                }
                if (u != null) {
                    if (!u.isDirectory() || isOpaque(upperDir.resolve(name))) {
                        continue; // hidden: a whiteout, an upper file, an opaque directory
                    }
                    upperChild = upperDir.resolve(name);
                }
            }
            Attrs la;
            try {
                la = stat(lowerPath(c));
            } catch (IOException e) {
                problem(c, "lower", "stat", e);
                ok = false;
                continue;
            }
            if (la.isDirectory()) {
                Path tg = targetPath(c);
                if (statOrNull(tg) == null) {
                    operation("mkdir", c);
                    Files.createDirectory(tg);
                    directoriesMade++;
                }
                boolean sub = copyLowerDirectory(c, upperChild);
                try {
                    operation("attrs", c);
                    applyAttributes(lowerPath(c), la, tg, true, c, "lower");
                } catch (EntryFailure e) {
                    problem(c, e.layer, e.op, e);
                    sub = false;
                }
                if (sub) {
                    journal.lowerCopied(c, true);
                } else {
                    ok = false;
                }
            } else if (upperChild == null) {
                Path tmp = tempFor(targetPath(c));
                String other = nlink(la) > 1 ? lowerLinks.get(ino(la)) : null;
                if (other != null && statOrNull(targetPath(other)) != null) {
                    operation("link", c);
                    journal.temp(c);
                    Files.deleteIfExists(tmp);
                    Files.createLink(tmp, targetPath(other));
                    land(tmp, c);
                    journal.lowerCopied(c, false);
                    linksMade++;
                    phaseFiles++;
                    progress();
                    continue;
                }
                operation("copy", c);
                journal.temp(c);
                Files.deleteIfExists(tmp);
                long n;
                try {
                    n = build(lowerPath(c), la, tmp, c, "lower");
                } catch (EntryFailure e) {
                    Files.deleteIfExists(tmp);
                    problem(c, e.layer, e.op, e);
                    ok = false;
                    continue;
                }
                land(tmp, c);
                journal.lowerCopied(c, false);
                if (nlink(la) > 1 && ino(la) >= 0) {
                    lowerLinks.put(ino(la), c);
                }
                lowerFilesCopied++;
                lowerBytesCopied += n;
                phaseFiles++;
                progress();
            }
        }
        return ok;
    }

    // ------------------------------------------------------------------ the merge passes

    /** Merges the upper directory {@code rel} (and all below); returns whether anything was done. */
    private boolean mergeDirectory(String rel) throws IOException, InterruptedException {
        Path up = upperPath(rel);
        Path tg = targetPath(rel);
        boolean did = false;
        if (!rel.isEmpty()) {
            Attrs ta;
            try {
                ta = statOrNull(tg);
            } catch (IOException e) {
                problem(rel, "base", "stat", e);
                incomplete.add(rel);
                return false;
            }
            if (ta == null || !ta.isDirectory()) {
                if (ta != null) {
                    deleteTree(rel);
                    deletes++;
                }
                operation("mkdir", rel);
                Files.createDirectory(tg);
                directoriesMade++;
                did = true;
            }
        }
        List<String> names;
        try {
            names = names(up);
        } catch (NoSuchFileException | NotDirectoryException e) {
            return did; // gone meanwhile
        } catch (IOException e) {
            problem(rel, "upper", "readdir", e);
            incomplete.add(rel);
            return did;
        }
        Map<String, Attrs> entries = new HashMap<>();
        List<String> whiteouts = new ArrayList<>(); // names of the upper entries that are whiteouts
        for (String name : names) {
            String c = Overlay.child(rel, name);
            if (format == WhiteoutFormat.AUFS && name.startsWith(Overlay.WH_PREFIX)) {
                if (!name.equals(Overlay.WH_OPAQUE)) {
                    whiteouts.add(name);
                }
                continue;
            }
            Attrs a;
            try {
                a = statOrNull(upperPath(c));
            } catch (IOException e) {
                problem(c, "upper", "stat", e);
                seen.add(c);
                incomplete.add(c);
                continue;
            }
            if (a == null) {
                continue;
            }
            if (format == WhiteoutFormat.KERNEL && a.isWhiteout()) {
                whiteouts.add(name);
            } else {
                entries.put(name, a);
            }
        }
        if (!rel.isEmpty() && isOpaque(up) && !journal.opaqueDone(rel)) {
            List<String> old;
            try {
                old = names(tg);
            } catch (IOException e) {
                problem(rel, "base", "readdir", e);
                old = List.of();
            }
            for (String name : old) {
                if (!entries.containsKey(name) && !name.startsWith(TEMP_PREFIX)) {
                    deleteTree(Overlay.child(rel, name));
                    deletes++;
                }
            }
            journal.opaqueApplied(rel);
            opaqueReplacements++;
            did = true;
        }
        for (String name : whiteouts) {
            String whRel = Overlay.child(rel, name);
            seen.add(whRel);
            String victimName = format == WhiteoutFormat.AUFS ? name.substring(Overlay.WH_PREFIX.length()) : name;
            if (entries.containsKey(victimName)) {
                continue; // an upper entry of that name wins (a stale aufs whiteout)
            }
            String victim = Overlay.child(rel, victimName);
            Attrs ta;
            try {
                ta = statOrNull(targetPath(victim));
            } catch (IOException e) {
                problem(victim, "base", "stat", e);
                continue;
            }
            if (ta != null) {
                deleteTree(victim);
                deletes++;
                did = true;
            }
            MergeJournal.Entry e = journal.upper(whRel);
            if (e == null || e.kind != 'W' || e.emptied) {
                journal.whiteoutApplied(whRel);
            }
        }
        for (String name : new TreeSet<>(entries.keySet())) {
            String c = Overlay.child(rel, name);
            seen.add(c);
            Attrs a = entries.get(name);
            did |= a.isDirectory() ? mergeDirectory(c) : mergeFile(c, a);
        }
        if (!incomplete.contains(rel)) {
            did |= mergeDirectoryAttributes(rel, did);
        }
        return did;
    }

    /** Sets the base directory's attributes from the upper one if it changed or entries below did. */
    private boolean mergeDirectoryAttributes(String rel, boolean force) throws IOException, InterruptedException {
        Path up = upperPath(rel);
        Attrs now;
        try {
            now = statOrNull(up);
        } catch (IOException e) {
            problem(rel, "upper", "stat", e);
            return false;
        }
        if (now == null || !now.isDirectory()) {
            return false;
        }
        String k = key(now);
        MergeJournal.Entry e = journal.upper(rel);
        if (!force && e != null && e.kind == 'D' && !e.emptied && k.equals(e.key)) {
            return false;
        }
        operation("attrs", rel);
        try {
            applyAttributes(up, now, targetPath(rel), true, rel, "upper");
        } catch (EntryFailure x) {
            problem(rel, x.layer, x.op, x);
            return false;
        }
        attributeUpdates++;
        journal.directoryMerged(rel, k);
        return true;
    }

    /** Merges one upper non-directory; returns whether anything was done. */
    private boolean mergeFile(String rel, Attrs first) throws IOException, InterruptedException {
        Attrs a = first;
        String k = key(a);
        MergeJournal.Entry e = journal.upper(rel);
        if (e != null && e.kind == 'F' && !e.emptied && k.equals(e.key) && landedAlready(rel, a)) {
            skipped++;
            return false;
        }
        Path up = upperPath(rel);
        Path tmp = tempFor(targetPath(rel));
        long ino = ino(a);
        if (nlink(a) > 1 && ino >= 0) {
            String other = linkTargets.get(ino);
            MergeJournal.Entry oe = other == null ? null : journal.upper(other);
            if (oe != null && !other.equals(rel) && k.equals(oe.key) && statOrNull(targetPath(other)) != null) {
                operation("link", rel);
                journal.temp(rel);
                Files.deleteIfExists(tmp);
                Files.createLink(tmp, targetPath(other));
                land(tmp, rel);
                hook.landed(rel);
                journal.fileMerged(rel, k, ino);
                linksMade++;
                phaseFiles++;
                progress();
                return true;
            }
        }
        journal.temp(rel);
        long n;
        for (int attempt = 1; ; attempt++) {
            operation("copy", rel);
            Files.deleteIfExists(tmp);
            try {
                n = build(up, a, tmp, rel, "upper");
            } catch (NoSuchFileException x) {
                Files.deleteIfExists(tmp);
                return true; // removed meanwhile: the next pass sees what is there now
            } catch (EntryFailure x) {
                Files.deleteIfExists(tmp);
                if (x.getCause() instanceof NoSuchFileException) {
                    return true;
                }
                problem(rel, x.layer, x.op, x);
                return false;
            }
            Attrs after;
            try {
                after = statOrNull(up);
            } catch (IOException x) {
                Files.deleteIfExists(tmp);
                problem(rel, "upper", "stat", x);
                return false;
            }
            if (after != null && after.type() == a.type() && key(after).equals(k)) {
                break; // unchanged while copied
            }
            Files.deleteIfExists(tmp);
            retries++;
            if (after == null || after.isDirectory() || after.isWhiteout() || attempt >= MAX_ATTEMPTS) {
                if (after != null && attempt >= MAX_ATTEMPTS) {
                    stillChanging.add("/" + rel);
                }
                return true; // the next pass takes what is there then
            }
            a = after;
            k = key(after);
        }
        land(tmp, rel);
        hook.landed(rel);
        journal.fileMerged(rel, k, ino(a));
        if (nlink(a) > 1 && ino(a) >= 0) {
            linkTargets.put(ino(a), rel);
        }
        filesCopied++;
        bytesCopied += n;
        phaseFiles++;
        progress();
        return true;
    }

    /**
     * Whether the base holds an entry of {@code a}'s type (and size, for a file) at {@code rel}: a
     * check that the landing a record describes reached the disk (after a power failure it may not
     * have, while the record did).
     */
    private boolean landedAlready(String rel, Attrs a) throws IOException {
        Attrs t;
        try {
            t = statOrNull(targetPath(rel));
        } catch (IOException x) {
            return false;
        }
        return t != null && t.type() == a.type() && (!a.isRegularFile() || t.size() == a.size());
    }

    /**
     * Removes from the base what the journal records as merged but what left the upper layer
     * without a whiteout (deleted or renamed through the overlay where it saw no lower entry).
     */
    private boolean removeVanished() throws IOException, InterruptedException {
        boolean did = false;
        Set<String> parents = new TreeSet<>();
        List<String> rels = new ArrayList<>(journal.upperEntries().keySet());
        rels.sort(Comparator.naturalOrder());
        for (String rel : rels) {
            MergeJournal.Entry e = journal.upper(rel);
            if (e == null || e.emptied || seen.contains(rel) || rel.isEmpty() || underIncomplete(rel)) {
                continue;
            }
            if (e.kind != 'W') {
                Attrs ta;
                try {
                    ta = statOrNull(targetPath(rel));
                } catch (IOException x) {
                    problem(rel, "base", "stat", x);
                    continue;
                }
                if (ta != null) {
                    deleteTree(rel);
                    deletes++;
                    did = true;
                    parents.add(Overlay.parentOf(rel));
                }
            }
            journal.gone(rel);
        }
        for (String p : parents) {
            if (seen.contains(p) || p.isEmpty()) {
                mergeDirectoryAttributes(p, true);
            }
        }
        return did;
    }

    private boolean underIncomplete(String rel) {
        for (String p = rel; ; p = Overlay.parentOf(p)) {
            if (incomplete.contains(p)) {
                return true;
            }
            if (p.isEmpty()) {
                return false;
            }
        }
    }

    // ------------------------------------------------------------------ emptying the upper layer

    private void emptyPhase() throws IOException, InterruptedException {
        phase = "empty";
        phaseStart = nanoTime.getAsLong();
        phaseFiles = 0;
        phaseBytes = 0;
        List<String> rels = new ArrayList<>(journal.upperEntries().keySet());
        rels.sort(Comparator.comparingLong(
                        (String r) -> r.chars().filter(ch -> ch == '/').count())
                .reversed()
                .thenComparing(Comparator.naturalOrder()));
        // removing one name of a hard-linked file changes the others' link count and change time:
        // for those, the state without them must match
        Set<Long> removedInodes = new HashSet<>();
        for (String rel : rels) {
            MergeJournal.Entry e = journal.upper(rel);
            if (rel.isEmpty() || e == null || e.emptied) {
                continue;
            }
            Path up = upperPath(rel);
            if (e.kind == 'D') {
                Attrs a;
                try {
                    a = statOrNull(up);
                    if (a == null || !a.isDirectory()) {
                        continue;
                    }
                    if (!onlyMarkers(up)) {
                        kept++;
                        continue;
                    }
                } catch (IOException x) {
                    problem(rel, "upper", "readdir", x);
                    kept++;
                    continue;
                }
            } else {
                Attrs a;
                try {
                    a = statOrNull(up);
                } catch (IOException x) {
                    problem(rel, "upper", "stat", x);
                    kept++;
                    continue;
                }
                if (a == null) {
                    continue; // left meanwhile: the next merge's business
                }
                boolean same = e.kind == 'F'
                        ? !a.isDirectory()
                                && (key(a).equals(e.key)
                                        || (removedInodes.contains(ino(a))
                                                && linkKey(key(a)).equals(linkKey(e.key))))
                        : format == WhiteoutFormat.KERNEL ? a.isWhiteout() : a.isRegularFile();
                if (!same) {
                    kept++;
                    continue;
                }
                if (e.kind == 'F' && nlink(a) > 1) {
                    removedInodes.add(ino(a));
                }
            }
            operation("empty", rel);
            journal.emptied(rel);
            try {
                if (e.kind == 'D') {
                    Files.deleteIfExists(up.resolve(Overlay.WH_OPAQUE));
                }
                Files.delete(up);
                removed++;
            } catch (DirectoryNotEmptyException x) {
                kept++; // something was made in it meanwhile
                journal.directoryMerged(rel, "changed");
            } catch (NoSuchFileException x) {
                // gone meanwhile
            }
            phaseFiles++;
            progress();
        }
    }

    private boolean onlyMarkers(Path dir) throws IOException {
        for (String name : names(dir)) {
            if (!(format == WhiteoutFormat.AUFS && name.equals(Overlay.WH_OPAQUE))) {
                return false;
            }
        }
        return true;
    }
}
