package io.holdfast.georep;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import io.holdfast.common.FileInfo;
import io.holdfast.common.Pacer;
import io.holdfast.common.SpecialFiles;
import io.holdfast.common.TreeCopier;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes single entries, or whole subtrees, of the target equal to the source's current state:
 * the replicator's hands. Entries are named by their path relative to the roots ({@code ""} for the
 * root, {@code "a/b"} below it), always resolved one name at a time, so no name from the feed can
 * reach outside the target root.
 *
 * <p>Design notes. Every operation is idempotent: it compares first and changes only what differs,
 * so redoing a page after a crash is harmless. A regular file's new content is written to a
 * temporary name in its target directory ({@value #TEMP_PREFIX} and a number), given its mode,
 * owner, extended attributes and times, forced (if asked), and renamed over the final name: a
 * reader sees the old file or the new one, never a part. Symbolic links and special files are made
 * the same way. A file with several names at the source gets the new copy under the name the feed
 * gave, and its other names the worker knows (and the source still shows) are then linked to it.
 * Every directory whose entries
 * the worker changed is remembered; {@link #finishDirectories} then sets its times (deepest
 * first, after its children) and forces it.
 *
 * <p>Parallel copies. Forcing a file costs a disk flush (10-20 ms on a busy disk), and over a WAN
 * reading it from the source costs round trips; one file at a time caps a page at a few dozen
 * files a second. So the plain case, a regular file with one name whose content must travel into
 * an existing target directory (what a mail delivery is), is <em>deferred</em>: its copy to a
 * temporary name, attributes and force run on virtual threads, at most {@value #LOCAL_COPIES} at a
 * time from a local source (the file system groups their flushes) and {@value #REMOTE_COPIES} from a
 * remote one (where each read is a round trip over the WAN; the source entries of a page are then
 * also stated ahead, in parallel: {@link #prefetch}), and only the renames into place are left for
 * this thread.
 * Every other operation first <em>flushes</em>: it waits for the deferred copies and renames them
 * over their names in the order they were asked for. So the target sees the same renames and
 * deletes in the same order as with one copy at a time; only temporary names appear earlier. At
 * most {@value #MAX_PENDING} copies wait at a time (then a flush), each copy under way has one
 * buffer of at most {@value #PARALLEL_BUFFER_BYTES} bytes. A page that fails {@link #abandon abandons} them (waits,
 * deletes the temporary names).
 *
 * <p>Not thread-safe: the replicator's one thread uses it (the copy pool only touches temporary
 * names and the thread-safe counters and pacer).
 */
final class TargetSync {
    /** Temporary names at the target start with this; a leftover is deleted when found. */
    static final String TEMP_PREFIX = ".hfgr~";
    /** Copy buffer: 1 MiB. */
    static final int BUFFER_BYTES = 1 << 20;
    /** Most source files with several names whose target name is remembered. */
    static final int MAX_LINK_PEERS = 1 << 18;
    /** Most files with several names checked at the next caught-up page; past it, the tree is compared. */
    static final int MAX_LINK_CHECKS = 1 << 16;
    /** Names remembered per such inode. */
    static final int NAMES_PER_PEER = 4;
    /** Largest extended attribute value copied (Linux {@code XATTR_SIZE_MAX}). */
    static final int MAX_XATTR_BYTES = 64 * 1024;
    /** Full synchronisations report progress every this many entries. */
    static final int PROGRESS_EVERY = 1024;
    /** Copies under way at once from a local source: bound by the target's disk flushes. */
    static final int LOCAL_COPIES = 8;
    /** Copies (and source stats) under way at once from a remote source: bound by round trips. */
    static final int REMOTE_COPIES = 64;
    /** Most deferred copies waiting for their rename; one more flushes first. */
    static final int MAX_PENDING = 1024;
    /** Largest copy buffer of a deferred copy: 64 KiB (a smaller file gets one of its size). */
    static final int PARALLEL_BUFFER_BYTES = 64 * 1024;

    /** How much of an entry to bring over. */
    enum Mode {
        /** Create it if missing; else its attributes (and its content if the size differs). */
        ATTRS,
        /** Its content changed: copy it (a directory: itself only). */
        COPY,
        /** Compare: a file's content only if size or time differ (or always, if asked); a directory's whole subtree. */
        TREE
    }

    private final Path sourceRoot;
    private final Path targetRoot;
    private final Pacer pacer;
    private final boolean keepOwners;
    private final boolean xattrs;
    private final boolean fsync;
    private final boolean alwaysChecksum;
    private final Counters counters;
    private final GeoListener listener;
    private final Set<String> changedDirs = new HashSet<>();
    private final byte[] buffer = new byte[BUFFER_BYTES];
    /** Source inode of a file with several names → the last names of it brought over, newest first (bounded). */
    private final Map<Long, List<String>> linkPeers = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, List<String>> eldest) {
            return size() > MAX_LINK_PEERS;
        }
    };

    private boolean inTree;
    /** Files with several names at the source brought over since {@link #fewerLinksThanSource} was last called. */
    private final Map<String, Long> multiLinked = new HashMap<>();
    /** Whether more than {@link #MAX_LINK_CHECKS} such files were brought over since. */
    private boolean tooManyLinkChecks;

    private boolean lostLinkedName;

    private final AtomicLong tempSeq = new AtomicLong();

    /** Copies to temporary names, renamed in this order at the next {@link #flush}: name → temporary name. */
    private final LinkedHashMap<String, Future<Path>> pending = new LinkedHashMap<>();
    /** Runs deferred copies and source stats (a virtual thread each), or null: one copy at a time. */
    private final ExecutorService copiers;
    /** Copies and stats under way; taken before one starts (so the caller waits when all are taken). */
    private final Semaphore slots;
    /** Source entries stated ahead by {@link #prefetch} for this page (empty: there is none), used once. */
    private final Map<String, Future<Optional<FileInfo>>> prefetched = new HashMap<>();
    /** Whether the source is on another file system than the default (a volume): stats then cost a round trip. */
    private final boolean remoteSource;

    /** Runs before the worker splits a file with several names from names it does not know. */
    @FunctionalInterface
    interface SplitHook {
        void beforeSplit() throws IOException;
    }

    private final SplitHook splitHook;

    /**
     * @param splitHook called before a rewrite leaves names of a file at the target that the worker
     *     cannot relink (the caller records that the tree must be compared, in case of a crash)
     */
    TargetSync(Path sourceRoot, Path targetRoot, GeoOptions options, Counters counters, SplitHook splitHook) {
        this(sourceRoot, targetRoot, options, counters, splitHook, 0);
    }

    /**
     * @param copies copies under way at once (see the class notes); 1 for one at a time on the
     *     caller's thread; 0 for the default ({@value #LOCAL_COPIES} from a local source, {@value
     *     #REMOTE_COPIES} from a remote one)
     */
    TargetSync(
            Path sourceRoot, Path targetRoot, GeoOptions options, Counters counters, SplitHook splitHook, int copies) {
        this.splitHook = splitHook;
        this.sourceRoot = sourceRoot;
        this.targetRoot = targetRoot;
        this.pacer = options.bytesPerSecond() > 0 ? new Pacer(options.bytesPerSecond()) : null;
        boolean unix = sourceRoot.getFileSystem().supportedFileAttributeViews().contains("unix")
                && targetRoot.getFileSystem().supportedFileAttributeViews().contains("unix");
        this.keepOwners = options.keepOwners() && unix;
        this.xattrs = sourceRoot.getFileSystem().supportedFileAttributeViews().contains("user")
                && targetRoot.getFileSystem().supportedFileAttributeViews().contains("user");
        this.fsync = options.fsync();
        this.alwaysChecksum = options.alwaysChecksum();
        this.counters = counters;
        this.listener = options.listener();
        this.remoteSource = sourceRoot.getFileSystem() != FileSystems.getDefault();
        int parallel = copies > 0 ? copies : remoteSource ? REMOTE_COPIES : LOCAL_COPIES;
        this.copiers = parallel > 1
                ? Executors.newThreadPerTaskExecutor(
                        Thread.ofVirtual().name("georep-copy-", 0).factory())
                : null;
        this.slots = new Semaphore(Math.max(1, parallel));
    }

    /**
     * Runs {@code job} on a virtual thread once a slot is free (waiting for one here). The result
     * is a {@link CompletableFuture}: waiting for it on a thread of a fork-join pool (a worker run by
     * {@code CompletableFuture.runAsync}) lets the pool add a thread meanwhile, which the client's
     * own completions may need (a {@code FutureTask} would not: with a common pool of one thread on
     * two cores, the copies' reads of a volume then never completed; found by GeoReplicationIT).
     */
    private <T> Future<T> submit(Callable<T> job) throws IOException {
        try {
            slots.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("interrupted while waiting to copy");
            ie.initCause(e);
            throw ie;
        }
        CompletableFuture<T> f = new CompletableFuture<>();
        try {
            copiers.execute(() -> {
                try {
                    T result = job.call();
                    slots.release();
                    f.complete(result);
                } catch (Throwable e) {
                    slots.release();
                    f.completeExceptionally(e);
                }
            });
        } catch (RuntimeException e) {
            slots.release();
            throw e;
        }
        return f;
    }

    /**
     * States the source entries {@code rels} ahead, in parallel, for the {@link #sync} calls of this
     * page (a remote source only: there each stat is a round trip). Each result is used once, then
     * the entry is stated again; results not used are dropped by {@link #finishDirectories}.
     */
    void prefetch(Collection<String> rels) throws IOException {
        if (copiers == null || !remoteSource) {
            return;
        }
        for (String rel : rels) {
            if (!prefetched.containsKey(rel)) {
                prefetched.put(rel, submit(() -> Optional.ofNullable(stat(src(rel)))));
            }
        }
    }

    /** Source entry {@code rel} now, or as {@link #prefetch} found it this page. */
    private FileInfo sourceNow(String rel) throws IOException {
        Future<Optional<FileInfo>> f = prefetched.remove(rel);
        if (f == null) {
            return stat(src(rel));
        }
        try {
            return f.get().orElse(null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("interrupted while reading the source");
            ie.initCause(e);
            throw ie;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("stat of " + src(rel) + ": " + e.getCause(), e.getCause());
        }
    }

    // ---- names

    /**
     * The relative name of volume path {@code path} ({@code "/a/b"} → {@code "a/b"}, {@code "/"} →
     * {@code ""}), or null if it is not a clean absolute path (empty names, {@code .}, {@code ..},
     * NUL, a missing leading slash).
     */
    static String relative(String path) {
        if (path == null || !path.startsWith("/") || path.indexOf('\0') >= 0) {
            return null;
        }
        if (path.equals("/")) {
            return "";
        }
        String rel = path.substring(1);
        for (String name : rel.split("/", -1)) {
            if (name.isEmpty() || name.equals(".") || name.equals("..")) {
                return null;
            }
        }
        return rel;
    }

    /** Whether {@code rel} is the replicator's own state directory or below it (never replicated). */
    static boolean ignored(String rel) {
        return rel.equals(StateFile.DIR) || rel.startsWith(StateFile.DIR + "/");
    }

    static String parent(String rel) {
        int slash = rel.lastIndexOf('/');
        return slash < 0 ? "" : rel.substring(0, slash);
    }

    static String child(String dir, String name) {
        return dir.isEmpty() ? name : dir + "/" + name;
    }

    private static int depth(String rel) {
        if (rel.isEmpty()) {
            return 0;
        }
        int d = 1;
        for (int i = 0; i < rel.length(); i++) {
            if (rel.charAt(i) == '/') {
                d++;
            }
        }
        return d;
    }

    static Path at(Path root, String rel) {
        Path p = root;
        if (!rel.isEmpty()) {
            for (String name : rel.split("/")) {
                p = p.resolve(name);
            }
        }
        return p;
    }

    Path src(String rel) {
        return at(sourceRoot, rel);
    }

    Path dst(String rel) {
        return at(targetRoot, rel);
    }

    static FileInfo stat(Path p) throws IOException {
        try {
            return FileInfo.read(p, false);
        } catch (NoSuchFileException | NotDirectoryException e) {
            return null;
        } catch (FileSystemException e) {
            if (e.getReason() != null && e.getReason().contains("Not a directory")) {
                return null; // a name below a file: there is nothing
            }
            throw e;
        }
    }

    /** Whether target {@code rel} is a regular file with more than one name. */
    boolean hasOtherLinks(String rel) throws IOException {
        if (pending.containsKey(rel)) {
            flush();
        }
        FileInfo t = stat(dst(rel));
        return t != null && t.isRegularFile() && t.nlink() > 1;
    }

    /** The inode number of source entry {@code rel}, or -1 if there is none. */
    long sourceInode(String rel) throws IOException {
        FileInfo s = stat(src(rel));
        return s == null ? -1 : s.inode();
    }

    /** Whether the target has an entry named {@code rel}. */
    boolean existsAtTarget(String rel) throws IOException {
        if (pending.containsKey(rel)) {
            flush();
        }
        return stat(dst(rel)) != null;
    }

    /** Whether two entries of the target, read without following links, are one file (one inode). */
    private static boolean sameFile(FileInfo a, FileInfo b) {
        return a.inode() >= 0 && a.inode() == b.inode() && a.type() == b.type();
    }

    /** Whether a failure of one entry is lasting (skip the entry) rather than passing (retry the page). */
    static boolean lasting(Exception e) {
        if (e instanceof UnsupportedOperationException || e instanceof AccessDeniedException) {
            return true;
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            String r = f.getReason();
            return r.contains("not supported")
                    || r.contains("not permitted")
                    || r.contains("too long")
                    || r.contains("cannot hold");
        }
        return false;
    }

    // ---- entries

    /**
     * Makes target {@code rel} equal to source {@code rel} as it is now: deletes it if the source has
     * none, creates it if the target has none, else brings over what {@code mode} says.
     *
     * @param linkFrom for a hard link just made at the source: its existing name, which the target
     *     links to if both names are still one file at the source; else null
     * @throws IOException if the source or target fail; lasting failures of single entries inside
     *     a tree are reported and skipped
     */
    void sync(String rel, Mode mode, String linkFrom) throws IOException {
        FileInfo s = sourceNow(rel);
        if (s != null && linkFrom == null && deferred(rel, s, mode)) {
            return;
        }
        flush();
        if (s == null) {
            deleteTarget(rel, true);
            return;
        }
        if (!ensureParent(rel)) {
            return; // the source's parent went away meanwhile: a later change removes rel too
        }
        try {
            if (linkFrom != null && s.isRegularFile()) {
                linkIfStillLinked(rel, s, linkFrom);
            }
            syncEntry(rel, s, mode);
        } catch (NoSuchFileException e) {
            if (stat(src(rel)) != null) {
                throw e;
            }
            // renamed or removed at the source while it was read (a maildir's tmp/N): a later record
            // of the feed says so; not a failure to retry the page for
            deleteTarget(rel, true);
        }
    }

    /**
     * Starts the copy of {@code rel} on the pool if it is the plain case (see the class notes):
     * a regular file with one name at the source, whose content must travel, into an existing
     * target directory, over nothing or a regular file with one name.
     *
     * @return whether it was started (it is renamed into place at the next {@link #flush})
     */
    private boolean deferred(String rel, FileInfo s, Mode mode) throws IOException {
        if (copiers == null
                || inTree
                || rel.isEmpty()
                || !s.isRegularFile()
                || (s.nlink() > 1 && s.inode() >= 0)
                || pending.containsKey(rel)) {
            return false;
        }
        String dir = parent(rel);
        FileInfo d = stat(dst(dir));
        if (d == null || !d.isDirectory()) {
            return false;
        }
        FileInfo t = stat(dst(rel));
        if (t != null && (!t.isRegularFile() || t.nlink() > 1)) {
            return false;
        }
        if (!(t == null || t.size() != s.size() || mode == Mode.COPY)) {
            return false; // attributes only, or a comparison: done here
        }
        if (pending.size() >= MAX_PENDING) {
            flush();
        }
        changedDirs.add(dir);
        byte[] buf = new byte[(int) Math.min(PARALLEL_BUFFER_BYTES, s.size() + 1)];
        pending.put(rel, submit(() -> copyToTemp(rel, s, buf)));
        return true;
    }

    /** On a pool thread: {@code rel}'s content, attributes and force into a new temporary name. */
    private Path copyToTemp(String rel, FileInfo s, byte[] buf) throws IOException {
        Path tmp = newTemp(
                dst(parent(rel)),
                p -> Files.newByteChannel(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
                        .close());
        try {
            try (SeekableByteChannel out = Files.newByteChannel(tmp, StandardOpenOption.WRITE)) {
                copyContent(rel, out, buf);
            }
            applyAttrs(rel, tmp, s, null);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
        return tmp;
    }

    /**
     * Waits for the deferred copies and renames each over its name, in the order they were asked
     * for. A copy whose source went meanwhile deletes the target name (as {@link #sync} does); a
     * lasting failure of one is reported and skipped; any other failure is thrown after every copy
     * has ended (the temporary names of the rest deleted).
     *
     * @throws IOException the first failure that is not lasting; {@link InterruptedIOException}
     *     if interrupted (the copies still running are cancelled)
     */
    void flush() throws IOException {
        if (pending.isEmpty()) {
            return;
        }
        List<Map.Entry<String, Future<Path>>> all = new ArrayList<>(pending.entrySet());
        pending.clear();
        Throwable failure = null;
        for (int i = 0; i < all.size(); i++) {
            String rel = all.get(i).getKey();
            Path tmp;
            try {
                tmp = all.get(i).getValue().get();
            } catch (InterruptedException e) {
                for (int j = i; j < all.size(); j++) {
                    all.get(j).getValue().cancel(true);
                }
                Thread.currentThread().interrupt();
                InterruptedIOException ie = new InterruptedIOException("interrupted while copying");
                ie.initCause(e);
                throw ie;
            } catch (ExecutionException | CancellationException e) {
                Throwable c = e instanceof ExecutionException ? e.getCause() : e;
                if (failure == null) {
                    failure = settle(rel, c);
                }
                continue;
            }
            if (failure != null) {
                deleteQuietly(tmp);
                continue;
            }
            try {
                moveInto(tmp, rel);
                counters.filesCopied.incrementAndGet();
            } catch (IOException | RuntimeException e) {
                failure = settle(rel, e);
            }
        }
        if (failure instanceof IOException io) {
            throw io;
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure != null) {
            throw new IOException("copying files: " + failure, failure);
        }
    }

    /** A deferred copy of {@code rel} failed with {@code c}: handles it as {@link #sync} would, or returns it. */
    private Throwable settle(String rel, Throwable c) {
        try {
            if (c instanceof NoSuchFileException && stat(src(rel)) == null) {
                deleteTarget(rel, true); // renamed or removed at the source while it was read
                return null;
            }
            if ((c instanceof IOException || c instanceof UnsupportedOperationException) && lasting((Exception) c)) {
                skipped(rel, (Exception) c);
                return null;
            }
        } catch (IOException e) {
            return e;
        }
        return c;
    }

    /**
     * Drops the deferred copies of a page that failed: waits for each and deletes its temporary
     * name (a leftover is swept by the next run); drops the source entries stated ahead. Never
     * throws.
     */
    void abandon() {
        for (Future<Optional<FileInfo>> f : prefetched.values()) {
            f.cancel(true); // stated for the failed attempt: the next one states again
        }
        prefetched.clear();
        List<Future<Path>> all = new ArrayList<>(pending.values());
        pending.clear();
        for (Future<Path> f : all) {
            try {
                deleteQuietly(f.get());
            } catch (ExecutionException | CancellationException e) {
                // nothing was left (the copy deletes its temporary name when it fails)
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return; // a leftover temporary name is swept later
            }
        }
    }

    private void linkIfStillLinked(String rel, FileInfo s, String linkFrom) throws IOException {
        FileInfo f = stat(src(linkFrom));
        if (f == null || s.inode() < 0 || f.inode() != s.inode() || s.nlink() < 2) {
            return;
        }
        sync(linkFrom, Mode.ATTRS, null); // the existing name first (made now if it is new in this page)
        FileInfo ft = stat(dst(linkFrom));
        if (ft == null || !ft.isRegularFile()) {
            return;
        }
        FileInfo t = stat(dst(rel));
        if (t != null && t.isRegularFile() && sameFile(ft, t)) {
            return;
        }
        linkTo(linkFrom, rel, t);
    }

    private void linkTo(String existing, String rel, FileInfo t) throws IOException {
        if (t != null && t.isDirectory()) {
            deleteTarget(rel);
        }
        Path tmp = temp(parent(rel), p -> Files.createLink(p, dst(existing)));
        moveInto(tmp, rel);
        counters.links.incrementAndGet();
    }

    private void syncEntry(String rel, FileInfo s, Mode mode) throws IOException {
        Path d = dst(rel);
        FileInfo t = stat(d);
        if (t != null && t.type() != s.type()) {
            deleteTarget(rel, true);
            t = null;
        }
        if (s.isDirectory()) {
            if (t == null) {
                if (rel.isEmpty()) {
                    throw new NoSuchFileException(targetRoot.toString(), null, "target root is missing");
                }
                Files.createDirectory(d);
                changedDirs.add(parent(rel));
            }
            if (mode == Mode.TREE) {
                syncChildren(rel);
                t = stat(d);
            }
            applyAttrs(rel, d, s, t);
        } else if (s.isRegularFile()) {
            syncFile(rel, s, t, mode);
        } else if (s.isSymbolicLink()) {
            syncLink(rel, s, t);
        } else if (s.isSpecial()) {
            syncSpecial(rel, s, t);
        } else {
            throw new FileSystemException(src(rel).toString(), null, "is a " + s.typeName() + ", not replicated");
        }
        if (!inTree) {
            return;
        }
        counters.compared.incrementAndGet();
        if (counters.compared.get() % PROGRESS_EVERY == 0) {
            listener.fullSyncProgress(counters.compared.get(), counters.filesCopied.get(), counters.bytesCopied.get());
        }
    }

    private void syncFile(String rel, FileInfo s, FileInfo t, Mode mode) throws IOException {
        if (s.nlink() > 1 && s.inode() >= 0) {
            t = linkToPeer(rel, s, t);
            if (multiLinked.size() < MAX_LINK_CHECKS) {
                multiLinked.put(rel, s.inode());
            } else {
                tooManyLinkChecks = true;
            }
        }
        boolean copy;
        if (t == null || t.size() != s.size()) {
            copy = true;
        } else {
            copy = switch (mode) {
                case ATTRS -> false;
                case COPY -> true;
                case TREE -> (alwaysChecksum || !t.mtime().equals(s.mtime())) && !sameContent(rel);
            };
        }
        if (!copy) {
            applyAttrs(rel, dst(rel), s, t);
        } else {
            if (t != null && t.nlink() > 1 && !inTree && knownNames(rel, s, t) < t.nlink()) {
                // the copy leaves names of the old file that will not be relinked: compare the tree at
                // the end of the page, and record first that it must be done (a crash must not forget it)
                splitHook.beforeSplit();
                lostLinkedName = true;
            }
            // Never written in place, even for a file with several names: the target's names of that
            // file may not be the source's (read ahead of the feed), and a reader must not see a part.
            // The other names are linked to the new copy just below.
            copyFile(rel, s);
        }
        if (s.nlink() > 1 && s.inode() >= 0) {
            linkPeersTo(rel, s);
        }
    }

    /** Records (through the hook) that the tree must be compared, before a change that needs it. */
    void beforeSplit() throws IOException {
        flush();
        splitHook.beforeSplit();
    }

    /** How many names of target file {@code t} (at {@code rel}) the worker knows and will relink: rel and peers. */
    private int knownNames(String rel, FileInfo s, FileInfo t) throws IOException {
        int n = 1;
        for (String peer : peersOf(s.inode())) {
            if (peer.equals(rel)) {
                continue;
            }
            FileInfo ps = stat(src(peer));
            FileInfo pt = stat(dst(peer));
            if (ps != null && ps.inode() == s.inode() && pt != null && sameFile(pt, t)) {
                n++;
            }
        }
        return n;
    }

    /** Makes every other remembered name of {@code s}'s inode that the source still shows a link to {@code rel}. */
    private void linkPeersTo(String rel, FileInfo s) throws IOException {
        FileInfo t = stat(dst(rel));
        if (t == null || !t.isRegularFile()) {
            return;
        }
        for (String peer : peersOf(s.inode())) {
            if (peer.equals(rel)) {
                continue;
            }
            FileInfo ps = stat(src(peer));
            if (ps == null || ps.inode() != s.inode()) {
                continue;
            }
            if (!ensureParent(peer)) {
                continue;
            }
            FileInfo pt = stat(dst(peer));
            if (pt == null || !sameFile(pt, t)) {
                linkTo(rel, peer, pt);
            }
        }
    }

    /** The names of source inode {@code inode} brought over lately, newest first (a copy; perhaps stale). */
    List<String> peersOf(long inode) {
        List<String> names = linkPeers.get(inode);
        return names == null ? List.of() : List.copyOf(names);
    }

    /**
     * Whether a file with several names brought over since the last call has fewer names at the
     * target than at the source now (the target missed a hard link the feed's names could not
     * show), or too many such files were brought over to tell.
     */
    boolean fewerLinksThanSource() throws IOException {
        flush();
        try {
            if (tooManyLinkChecks) {
                return true;
            }
            for (Map.Entry<String, Long> e : multiLinked.entrySet()) {
                FileInfo s = stat(src(e.getKey()));
                FileInfo t = stat(dst(e.getKey()));
                if (s != null
                        && t != null
                        && s.isRegularFile()
                        && t.isRegularFile()
                        && s.inode() == e.getValue()
                        && t.nlink() < s.nlink()) {
                    return true;
                }
            }
            return false;
        } finally {
            multiLinked.clear();
            tooManyLinkChecks = false;
        }
    }

    /**
     * For a source file with several names: if another name of its inode was brought over before
     * (and the source still shows the inode under it, and the target has a file there), makes
     * {@code rel} a hard link to that target file, so that the target keeps the source's links
     * even when the feed's LINK record could not be followed (the names had changed again by the
     * time the page ended). Remembers {@code rel} as the inode's name either way.
     *
     * @return the target entry's attributes now
     */
    private FileInfo linkToPeer(String rel, FileInfo s, FileInfo t) throws IOException {
        List<String> names = linkPeers.computeIfAbsent(s.inode(), k -> new ArrayList<>(2));
        List<String> candidates = new ArrayList<>(names);
        names.remove(rel);
        names.addFirst(rel);
        if (names.size() > NAMES_PER_PEER) {
            names.removeLast();
        }
        for (String peer : candidates) {
            if (peer.equals(rel)) {
                continue;
            }
            FileInfo ps = stat(src(peer));
            FileInfo pt = stat(dst(peer));
            if (ps == null || ps.inode() != s.inode() || pt == null || !pt.isRegularFile()) {
                continue;
            }
            if (t == null || !sameFile(pt, t)) {
                linkTo(peer, rel, t);
                return stat(dst(rel));
            }
            return t;
        }
        return t;
    }

    private void copyFile(String rel, FileInfo s) throws IOException {
        Path tmp = temp(
                parent(rel),
                p -> Files.newByteChannel(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
                        .close());
        try {
            try (SeekableByteChannel out = Files.newByteChannel(tmp, StandardOpenOption.WRITE)) {
                copyContent(rel, out, buffer);
            }
            applyAttrs(rel, tmp, s, null);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
        moveInto(tmp, rel);
        counters.filesCopied.incrementAndGet();
    }

    private long copyContent(String rel, SeekableByteChannel out, byte[] buf) throws IOException {
        long total = 0;
        try (InputStream in = open(src(rel))) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
                while (b.hasRemaining()) {
                    out.write(b);
                }
                total += n;
                counters.bytesCopied.addAndGet(n);
            }
            if (fsync && out instanceof FileChannel fc) {
                fc.force(true);
            }
        }
        return total;
    }

    private InputStream open(Path p) throws IOException {
        InputStream in = Files.newInputStream(p);
        return pacer == null ? in : pacer.paced(in);
    }

    private boolean sameContent(String rel) throws IOException {
        return Arrays.equals(digest(open(src(rel))), digest(Files.newInputStream(dst(rel))));
    }

    private byte[] digest(InputStream stream) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        try (InputStream in = stream) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                md.update(buffer, 0, n);
            }
        }
        return md.digest();
    }

    private void syncLink(String rel, FileInfo s, FileInfo t) throws IOException {
        String text = Files.readSymbolicLink(src(rel)).toString();
        if (t != null && Files.readSymbolicLink(dst(rel)).toString().equals(text)) {
            applyAttrs(rel, dst(rel), s, t);
            return;
        }
        Path tmp = temp(
                parent(rel), p -> Files.createSymbolicLink(p, p.getFileSystem().getPath(text)));
        try {
            applyAttrs(rel, tmp, s, null);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
        moveInto(tmp, rel);
    }

    private void syncSpecial(String rel, FileInfo s, FileInfo t) throws IOException {
        if (t != null && t.rdev() == s.rdev()) {
            applyAttrs(rel, dst(rel), s, t);
            return;
        }
        if (!SpecialFiles.supported(dst(rel))) {
            throw new FileSystemException(
                    src(rel).toString(),
                    dst(rel).toString(),
                    "is a " + s.typeName() + ", which the target cannot hold");
        }
        Path tmp = temp(parent(rel), p -> SpecialFiles.mknod(p, s.mode(), s.rdev()));
        try {
            applyAttrs(rel, tmp, s, null);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
        moveInto(tmp, rel);
    }

    /** Renames {@code tmp} over target {@code rel} (POSIX rename(2): atomic replacement). */
    private void moveInto(Path tmp, String rel) throws IOException {
        try {
            Files.move(tmp, dst(rel), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
        changedDirs.add(parent(rel));
    }

    @FunctionalInterface
    private interface Maker {
        void make(Path p) throws IOException;
    }

    /** Makes a new entry at a fresh temporary name in target directory {@code dirRel}. */
    private Path temp(String dirRel, Maker maker) throws IOException {
        Path p = newTemp(dst(dirRel), maker);
        changedDirs.add(dirRel);
        return p;
    }

    /** Makes a new entry at a fresh temporary name in target directory {@code dir} (any thread). */
    private Path newTemp(Path dir, Maker maker) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path p = dir.resolve(TEMP_PREFIX + Long.toHexString(tempSeq.getAndIncrement()));
            try {
                maker.make(p);
                return p;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 1000) {
                    throw e;
                }
            }
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // a leftover temporary name is deleted when found again
        }
    }

    /**
     * Sets owner (if kept), permission bits, user extended attributes and times of target
     * {@code d} from source {@code s}, each only where it differs from {@code t} (null: set all).
     */
    private void applyAttrs(String rel, Path d, FileInfo s, FileInfo t) throws IOException {
        boolean chowned = false;
        if (keepOwners && s.uid() >= 0 && (t == null || t.uid() != s.uid() || t.gid() != s.gid())) {
            Files.setAttribute(d, "unix:uid", (int) s.uid(), NOFOLLOW_LINKS);
            Files.setAttribute(d, "unix:gid", (int) s.gid(), NOFOLLOW_LINKS);
            chowned = true;
        }
        if (!s.isSymbolicLink() && (t == null || chowned || t.permissionBits() != s.permissionBits())) {
            FileInfo.setPermissionBits(d, s.permissionBits());
        }
        if (xattrs && (s.isRegularFile() || s.isDirectory())) {
            syncXattrs(src(rel), d);
        }
        if (t == null || !t.mtime().equals(s.mtime())) {
            try {
                SpecialFiles.setTimes(d, s.mtime(), s.atime());
            } catch (IOException | UnsupportedOperationException e) {
                if (!s.isSymbolicLink()) {
                    throw e; // not every file system sets a link's own times; the link is what matters
                }
            }
        }
    }

    private void syncXattrs(Path s, Path d) throws IOException {
        UserDefinedFileAttributeView sv = Files.getFileAttributeView(s, UserDefinedFileAttributeView.class);
        UserDefinedFileAttributeView dv = Files.getFileAttributeView(d, UserDefinedFileAttributeView.class);
        if (sv == null || dv == null) {
            return;
        }
        Map<String, byte[]> want = readXattrs(sv, s);
        Map<String, byte[]> have = readXattrs(dv, d);
        for (String name : have.keySet()) {
            if (!want.containsKey(name)) {
                dv.delete(name);
            }
        }
        for (Map.Entry<String, byte[]> e : want.entrySet()) {
            if (!Arrays.equals(have.get(e.getKey()), e.getValue())) {
                dv.write(e.getKey(), ByteBuffer.wrap(e.getValue()));
            }
        }
    }

    private static Map<String, byte[]> readXattrs(UserDefinedFileAttributeView v, Path p) throws IOException {
        Map<String, byte[]> m = new HashMap<>();
        for (String name : v.list()) {
            int size = v.size(name);
            if (size > MAX_XATTR_BYTES) {
                throw new FileSystemException(
                        p.toString(), null, "extended attribute " + name + " of " + size + " bytes is too long");
            }
            ByteBuffer b = ByteBuffer.allocate(size);
            v.read(name, b);
            m.put(name, Arrays.copyOf(b.array(), b.position()));
        }
        return m;
    }

    // ---- structure

    /**
     * Makes sure target {@code rel}'s parent directory exists, creating missing ones from the
     * source. False if the source has no such directory (any more).
     */
    private boolean ensureParent(String rel) throws IOException {
        if (rel.isEmpty()) {
            return true;
        }
        String p = parent(rel);
        FileInfo t = stat(dst(p));
        if (t != null && t.isDirectory()) {
            return true;
        }
        FileInfo s = stat(src(p));
        if (s == null || !s.isDirectory() || !ensureParent(p)) {
            return false;
        }
        syncEntry(p, s, Mode.ATTRS);
        return true;
    }

    /**
     * Deletes target {@code rel} (with everything below it if it is a directory), if it exists.
     *
     * @return whether there was something to delete
     */
    boolean deleteTarget(String rel) throws IOException {
        return deleteTarget(rel, false);
    }

    /**
     * Deletes target {@code rel} like {@link #deleteTarget(String)}.
     *
     * @param ahead whether the deletion follows the source's current state rather than a record
     *     (the source no longer has the entry): if a file with several names goes, changes the feed
     *     will report through that name could not reach its other names, so {@link
     *     #takeLostLinkedName} then says so
     */
    boolean deleteTarget(String rel, boolean ahead) throws IOException {
        if (rel.isEmpty()) {
            throw new IllegalArgumentException("refusing to delete the target root");
        }
        flush();
        Path d = dst(rel);
        FileInfo t = stat(d);
        if (t == null) {
            return false;
        }
        if (ahead && !lostLinkedName && !inTree && containsLinkedFile(d, t)) {
            splitHook.beforeSplit(); // recorded first: a crash must not forget the comparison
            lostLinkedName = true;
        }
        if (t.isDirectory()) {
            List<IOException> failures = new ArrayList<>();
            new TreeCopier(TreeCopier.Progress.NONE, failures::add).delete(d, true);
            if (!failures.isEmpty()) {
                throw failures.getFirst();
            }
        } else {
            Files.delete(d);
        }
        counters.deletes.incrementAndGet();
        changedDirs.add(parent(rel));
        return true;
    }

    private static boolean containsLinkedFile(Path p, FileInfo info) throws IOException {
        if (info.isRegularFile()) {
            return info.nlink() > 1;
        }
        if (!info.isDirectory()) {
            return false;
        }
        try (DirectoryStream<Path> children = Files.newDirectoryStream(p)) {
            for (Path c : children) {
                FileInfo ci = stat(c);
                if (ci != null && containsLinkedFile(c, ci)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether a file with several names lost one ahead of the feed since the last call (then cleared). */
    boolean takeLostLinkedName() throws IOException {
        flush();
        boolean lost = lostLinkedName;
        lostLinkedName = false;
        return lost;
    }

    /**
     * Renames target {@code from} to {@code to} as POSIX rename(2) did at the source: one rename,
     * whatever {@code from} is. What {@code to} names at the target is replaced, even a non-empty
     * directory (left over from an earlier, newer read of the source).
     *
     * @return false if the target has no {@code from} (or the rename cannot be repeated here): the
     *     caller then brings {@code to} over from the source
     */
    boolean renameTarget(String from, String to) throws IOException {
        flush();
        if (from.isEmpty() || to.isEmpty() || to.startsWith(from + "/")) {
            return false;
        }
        Path f = dst(from);
        FileInfo fi = stat(f);
        if (fi == null) {
            return false;
        }
        if (from.equals(to)) {
            return true;
        }
        if (!ensureParent(to)) {
            return false;
        }
        Path t = dst(to);
        FileInfo ti = stat(t);
        if (ti != null) {
            if (sameFile(fi, ti)) {
                return true; // POSIX rename(2): two names of one file stay as they are
            }
            if (ti.isDirectory() != fi.isDirectory() || (ti.isDirectory() && !isEmpty(t))) {
                deleteTarget(to);
            }
        }
        Files.move(f, t, StandardCopyOption.ATOMIC_MOVE);
        counters.renames.incrementAndGet();
        changedDirs.add(parent(from));
        changedDirs.add(parent(to));
        return true;
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            return !s.iterator().hasNext();
        }
    }

    /**
     * Compares the whole tree below {@code rel} (the root for {@code ""}) and makes the target equal:
     * copies what differs, deletes what the source lacks (the state directory at the root excepted).
     */
    void syncTree(String rel) throws IOException {
        flush();
        boolean outer = !inTree;
        inTree = true;
        try {
            sync(rel, Mode.TREE, null);
        } finally {
            if (outer) {
                inTree = false;
            }
        }
    }

    private void syncChildren(String rel) throws IOException {
        List<String> names = list(src(rel), rel);
        Set<String> wanted = new HashSet<>(names);
        for (String name : list(dst(rel), rel)) {
            if (!wanted.contains(name)) {
                deleteTarget(child(rel, name));
            }
        }
        for (String name : names) {
            String c = child(rel, name);
            try {
                FileInfo s = stat(src(c));
                if (s == null) {
                    deleteTarget(c);
                } else {
                    syncEntry(c, s, Mode.TREE);
                }
            } catch (IOException | UnsupportedOperationException e) {
                if (!lasting(e)) {
                    throw e;
                }
                skipped(c, e);
            }
        }
    }

    void skipped(String rel, Exception e) {
        counters.errors.incrementAndGet();
        listener.entrySkipped("/" + rel, e instanceof IOException io ? io : new IOException(e.getMessage(), e));
    }

    /** The names in directory {@code dir} (relative name {@code rel}), the root's state directory excepted. */
    private static List<String> list(Path dir, String rel) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                String name = p.getFileName().toString();
                if (!(rel.isEmpty() && name.equals(StateFile.DIR))) {
                    names.add(name);
                }
            }
        }
        return names;
    }

    /** Deletes temporary names left in target directory {@code rel} by a crash (names the source lacks). */
    void sweepTemporaries(String rel) throws IOException {
        flush();
        FileInfo t = stat(dst(rel));
        if (t == null || !t.isDirectory()) {
            return;
        }
        for (String name : list(dst(rel), rel)) {
            if (name.startsWith(TEMP_PREFIX) && stat(src(child(rel, name))) == null) {
                deleteQuietly(dst(child(rel, name)));
                changedDirs.add(rel);
            }
        }
    }

    /**
     * Sets the times (and other attributes) of every target directory whose entries changed since
     * the last call, deepest first, from the source; forces them to stable storage if asked.
     */
    void finishDirectories() throws IOException {
        flush();
        for (Future<Optional<FileInfo>> f : prefetched.values()) {
            f.cancel(true);
        }
        prefetched.clear();
        List<String> dirs = new ArrayList<>(changedDirs);
        dirs.sort(Comparator.comparingInt(TargetSync::depth).reversed());
        for (String rel : dirs) {
            FileInfo s = stat(src(rel));
            FileInfo t = stat(dst(rel));
            if (s != null && t != null && s.isDirectory() && t.isDirectory()) {
                applyAttrs(rel, dst(rel), s, t);
            }
            if (fsync && t != null && t.isDirectory()) {
                StateFile.forceDirectory(dst(rel));
            }
        }
        changedDirs.clear();
    }
}
