package io.holdfast.overlay;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.FilteredPathIterator;
import io.holdfast.common.SpecialFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The union engine behind one {@link OverlayFileSystem}: lookups, copy-up, whiteouts, opaque
 * directories, merged listings.
 *
 * <h2>Design notes</h2>
 *
 * <ul>
 *   <li><b>Lookup</b> walks the path one name at a time from the root, as overlayfs's
 *       {@code ovl_lookup} does: for each name the upper directory is asked first (an entry there
 *       wins; a whiteout hides the name), then, if the parent directory still merges with the lower
 *       layer (it exists there and the upper one is not opaque), the lower directory. Which
 *       directories exist in which layer ({@link Dir}) is cached; the final name is always asked
 *       afresh, with one {@code lstat} per layer at most.
 *   <li><b>The cache</b> is only ever made stale by this overlay's own changes (the layers must not
 *       be changed behind its back), so each change that alters a directory's state removes its
 *       entries under {@link #cacheLock} and bumps {@link #generation}; a lookup stores what it
 *       computed only if no change happened since it began. Bounded at {@link #MAX_CACHED_DIRS}.
 *   <li><b>Changes to the upper layer</b> run under one lock ({@link #ns}), copy-up included, so
 *       two changes never interleave; reads and lookups take no lock. A copy-up builds the entry in
 *       the work directory and renames it into place: readers see the lower entry or the complete
 *       copy, never a part.
 *   <li><b>Crash windows</b> (no {@code RENAME_WHITEOUT}/{@code RENAME_EXCHANGE} in Java): creating a
 *       directory over a whiteout, removing an upper directory that hides a lower one, and moving
 *       an entry that also exists in the lower layer each take two renames or a delete and a
 *       rename; a crash between them lets the lower entry show through at that one name.
 * </ul>
 */
final class Overlay {
    private static final System.Logger LOG = System.getLogger(Overlay.class.getName());

    /** The {@code unix} attributes read per entry: what {@code stat(2)} reports. */
    static final String UNIX_ATTRS = "unix:mode,ino,nlink,uid,gid,size,rdev,lastAccessTime,lastModifiedTime,ctime";

    private static final Set<String> UNIX_NAMES = Set.of(UNIX_ATTRS.substring(5).split(","));

    /** Most directories whose layer state is cached: 100,000 (about 20 MB); the cache is emptied when full. */
    static final int MAX_CACHED_DIRS = 100_000;

    /** Most symbolic links followed in one lookup (Linux {@code MAXSYMLINKS}): 40. */
    static final int MAX_LINKS = 40;

    /** The aufs whiteout prefix. */
    static final String WH_PREFIX = ".wh.";

    /** The aufs marker of an opaque directory. */
    static final String WH_OPAQUE = ".wh..wh..opq";

    /** The opaque flag's name in the {@code user} namespace ({@code user.overlay.opaque}). */
    static final String OPAQUE_XATTR = "overlay.opaque";

    /** User extended attributes under this prefix belong to the overlay and are neither shown nor copied. */
    static final String PRIVATE_XATTRS = "overlay.";

    /** Copy buffer for copy-up: 1 MiB. */
    static final int COPY_BUFFER = 1 << 20;

    enum Layer {
        UPPER,
        LOWER,
        NONE
    }

    /**
     * The state of a directory of the merged view.
     *
     * @param rel its path from the root without a leading slash ("" for the root)
     * @param upperExists whether the upper layer has it
     * @param lowerValid whether the lower layer's directory of that name takes part (it exists, and
     *     no upper directory on the way is opaque)
     */
    record Dir(String rel, boolean upperExists, boolean lowerValid) {}

    /**
     * One name of the merged view, as a lookup found it.
     *
     * @param rel path from the root, no leading slash ("" for the root)
     * @param layer where the visible entry is
     * @param attrs the visible entry's attributes (null if none)
     * @param parent the directory holding it (null for the root)
     * @param whiteout whether the upper layer has a whiteout at this name
     */
    record Node(String rel, Layer layer, Path upper, Path lower, Attrs attrs, Dir parent, boolean whiteout) {
        boolean exists() {
            return layer != Layer.NONE;
        }

        boolean isDirectory() {
            return attrs != null && attrs.isDirectory();
        }

        Path visible() {
            return layer == Layer.UPPER ? upper : layer == Layer.LOWER ? lower : null;
        }

        String display() {
            return "/" + rel;
        }
    }

    private final OverlayFileSystem fs;
    private final Path lowerRoot;
    private final Path upperRoot;
    private final Path workRoot;
    private final Path tmpDir;
    private final WhiteoutFormat format;
    private final boolean unix;
    private final boolean tagLowerInodes;
    private final boolean upperIsDefault;
    private final StatusRecorder status;
    private final ReentrantLock ns = new ReentrantLock();
    private final ConcurrentHashMap<String, Dir> dirs = new ConcurrentHashMap<>();
    private final Object cacheLock = new Object();
    private final AtomicLong generation = new AtomicLong();
    private final AtomicLong tmpCounter = new AtomicLong();
    private final Set<String> chownWarned = ConcurrentHashMap.newKeySet();

    Overlay(OverlayFileSystem fs, Path lower, Path upper, Path work, Clock clock) throws IOException {
        this.fs = fs;
        this.lowerRoot = lower.toAbsolutePath().normalize();
        this.upperRoot = upper.toAbsolutePath().normalize();
        this.workRoot = work.toAbsolutePath().normalize();
        if (!Files.isDirectory(lowerRoot)) {
            throw new NotDirectoryException(lowerRoot.toString());
        }
        if (!Files.isDirectory(upperRoot)) {
            throw new NotDirectoryException(upperRoot.toString());
        }
        if (lowerRoot.getFileSystem() == upperRoot.getFileSystem()
                && (lowerRoot.startsWith(upperRoot) || upperRoot.startsWith(lowerRoot))) {
            throw new IllegalArgumentException("the layers overlap: lower " + lowerRoot + ", upper " + upperRoot
                    + " (neither may contain the other)");
        }
        if (workRoot.getFileSystem() != upperRoot.getFileSystem()) {
            throw new IllegalArgumentException(
                    "the work directory " + workRoot + " must be on the upper layer's file system (" + upperRoot + ")");
        }
        if (workRoot.startsWith(upperRoot)
                || upperRoot.startsWith(workRoot)
                || (workRoot.getFileSystem() == lowerRoot.getFileSystem()
                        && (workRoot.startsWith(lowerRoot) || lowerRoot.startsWith(workRoot)))) {
            throw new IllegalArgumentException(
                    "the work directory " + workRoot + " must be outside both layers and contain neither");
        }
        Set<String> lowerViews = lowerRoot.getFileSystem().supportedFileAttributeViews();
        Set<String> upperViews = upperRoot.getFileSystem().supportedFileAttributeViews();
        this.unix = lowerViews.contains("unix") && upperViews.contains("unix");
        this.upperIsDefault = upperRoot.getFileSystem() == FileSystems.getDefault();
        Files.createDirectories(workRoot);
        if (unix && !sameDevice(workRoot, upperRoot)) {
            throw new IllegalArgumentException("the work directory " + workRoot
                    + " is on another file system than the upper layer " + upperRoot
                    + ": copy-ups are renamed from one into the other");
        }
        this.tmpDir = workRoot.resolve("tmp");
        cleanTmp();
        this.format = chooseFormat();
        this.tagLowerInodes = unix ? !sameDevice(lowerRoot, upperRoot) : true;
        this.status = new StatusRecorder(workRoot, lowerRoot, upperRoot, format, clock, fs.id());
    }

    private static boolean sameDevice(Path a, Path b) {
        try {
            return Files.getAttribute(a, "unix:dev").equals(Files.getAttribute(b, "unix:dev"));
        } catch (IOException | IllegalArgumentException | UnsupportedOperationException e) {
            return a.getFileSystem() == b.getFileSystem();
        }
    }

    /** Removes what a crash left in the work directory's tmp/ (never visible in the overlay), and makes tmp/. */
    private void cleanTmp() throws IOException {
        if (Files.isDirectory(tmpDir, NOFOLLOW_LINKS)) {
            deleteTree(tmpDir);
        }
        Files.createDirectories(tmpDir);
    }

    private static void deleteTree(Path p) throws IOException {
        if (Files.isDirectory(p, NOFOLLOW_LINKS)) {
            List<Path> children = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                ds.forEach(children::add);
            }
            for (Path c : children) {
                deleteTree(c);
            }
        }
        Files.deleteIfExists(p);
    }

    /** The format kept in the work directory, else the best the upper layer can hold (and keep it). */
    private WhiteoutFormat chooseFormat() throws IOException {
        Path file = workRoot.resolve("format");
        if (Files.exists(file)) {
            String s = Files.readString(file, StandardCharsets.UTF_8).trim();
            try {
                return WhiteoutFormat.valueOf(s);
            } catch (IllegalArgumentException e) {
                throw new IOException("corrupt " + file + ": '" + s + "' is not KERNEL or AUFS");
            }
        }
        WhiteoutFormat f = canHoldKernelFormat() ? WhiteoutFormat.KERNEL : WhiteoutFormat.AUFS;
        Path tmp = tmpDir.resolve("format");
        Files.writeString(tmp, f.name() + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        return f;
    }

    private boolean canHoldKernelFormat() {
        if (!unix || !SpecialFiles.supported(tmpDir)) {
            return false;
        }
        Path wh = tmpDir.resolve("probe-whiteout");
        Path x = tmpDir.resolve("probe-xattr");
        try {
            SpecialFiles.mknod(wh, Attrs.S_IFCHR, 0);
            Files.createFile(x);
            UserDefinedFileAttributeView v = Files.getFileAttributeView(x, UserDefinedFileAttributeView.class);
            if (v == null) {
                return false;
            }
            v.write(OPAQUE_XATTR, ByteBuffer.wrap(new byte[] {'y'}));
            return true;
        } catch (IOException | RuntimeException e) {
            LOG.log(
                    System.Logger.Level.INFO,
                    "upper layer " + upperRoot + " cannot hold overlayfs whiteouts (" + e + "): using the aufs format");
            return false;
        } finally {
            try {
                Files.deleteIfExists(wh);
                Files.deleteIfExists(x);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "probe clean-up failed", e);
            }
        }
    }

    Path lowerRoot() {
        return lowerRoot;
    }

    Path upperRoot() {
        return upperRoot;
    }

    Path workRoot() {
        return workRoot;
    }

    WhiteoutFormat format() {
        return format;
    }

    StatusRecorder status() {
        return status;
    }

    void close() throws IOException {
        status.close();
    }

    static boolean follows(LinkOption... options) {
        for (LinkOption o : options) {
            if (o == NOFOLLOW_LINKS) {
                return false;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------ layers and errors

    private Path upper(String rel) {
        return rel.isEmpty() ? upperRoot : upperRoot.resolve(rel);
    }

    private Path lower(String rel) {
        return rel.isEmpty() ? lowerRoot : lowerRoot.resolve(rel);
    }

    /** {@code rel/name}, or {@code name} under the root ({@code rel} empty); shared with {@link OverlayMerge}. */
    static String child(String rel, String name) {
        return rel.isEmpty() ? name : rel + "/" + name;
    }

    /** The parent of layer-relative path {@code rel} ({@code ""} for the root's children). */
    static String parentOf(String rel) {
        int i = rel.lastIndexOf('/');
        return i < 0 ? "" : rel.substring(0, i);
    }

    private static String nameOf(String rel) {
        return rel.substring(rel.lastIndexOf('/') + 1);
    }

    /** One {@code lstat} of a layer's entry. */
    private Attrs attrs(Path p, boolean lowerLayer) throws IOException {
        if (unix) {
            Map<String, Object> m = Files.readAttributes(p, UNIX_ATTRS, NOFOLLOW_LINKS);
            long ino = ((Number) m.get("ino")).longValue();
            if (lowerLayer && tagLowerInodes) {
                m = new HashMap<>(m);
                ino |= 1L << 62;
                m.put("ino", ino);
            }
            return Attrs.ofUnix(m, List.of(lowerLayer, ino));
        }
        return Attrs.ofBasic(Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW_LINKS));
    }

    private Attrs upperAttrsOrNull(Path p) throws IOException {
        try {
            return attrs(p, false);
        } catch (NoSuchFileException | NotDirectoryException e) {
            return null;
        }
    }

    /** The lower entry's attributes, null if there is none; a failure is a lower error. */
    private Attrs lowerAttrsOrNull(String rel) throws IOException {
        try {
            Attrs a = attrs(lower(rel), true);
            return a.isWhiteout() ? null : a;
        } catch (NoSuchFileException | NotDirectoryException e) {
            return null;
        } catch (AccessDeniedException e) {
            throw e;
        } catch (IOException e) {
            throw lowerError(rel, "stat", e);
        }
    }

    /**
     * Records a failure of the lower layer at {@code rel} (counted, logged with its path, kept in the
     * status record) and returns the {@code EIO} error to throw for that file.
     */
    ErrnoFileSystemException lowerError(String rel, String op, IOException e) {
        if (e instanceof ErrnoFileSystemException efe
                && efe.errno() == Errno.EIO
                && efe.getReason() != null
                && efe.getReason().contains("lower layer")) {
            return efe; // already recorded
        }
        boolean first = status.lowerError("/" + rel, op, String.valueOf(e.getMessage()));
        if (first) {
            LOG.log(System.Logger.Level.WARNING, "overlay lower layer: " + op + " of /" + rel + " failed: " + e);
        }
        ErrnoFileSystemException x = new ErrnoFileSystemException(
                "/" + rel, null, Errno.EIO, "lower layer " + op + " failed: " + e.getMessage());
        x.initCause(e);
        return x;
    }

    // ------------------------------------------------------------------ lookup

    private Dir rootDir() {
        return new Dir("", true, true);
    }

    Node lookup(OverlayPath p) throws IOException {
        return lookup(p, true);
    }

    /**
     * Resolves {@code p} in the merged view.
     *
     * @param followFinal whether a symbolic link as the last name is followed
     * @throws NoSuchFileException if a directory on the way is missing
     * @throws FileSystemException "Not a directory" if a name on the way is not one; ELOOP after
     *     {@link #MAX_LINKS} links
     */
    Node lookup(OverlayPath p, boolean followFinal) throws IOException {
        String[] start = ((OverlayPath) p.toAbsolutePath().normalize()).names();
        Deque<String> pending = new ArrayDeque<>(Arrays.asList(start));
        Deque<Dir> stack = new ArrayDeque<>();
        Dir cur = rootDir();
        int links = 0;
        if (pending.isEmpty()) {
            return rootNode();
        }
        while (true) {
            String name = pending.pollFirst();
            if (name.equals(".")) {
                if (pending.isEmpty()) {
                    return nodeOf(cur);
                }
                continue;
            }
            if (name.equals("..")) {
                if (!stack.isEmpty()) {
                    cur = stack.pop();
                }
                if (pending.isEmpty()) {
                    return nodeOf(cur);
                }
                continue;
            }
            boolean last = pending.isEmpty();
            String rel = child(cur.rel(), name);
            if (!last) {
                Dir cached = dirs.get(rel);
                if (cached != null) {
                    stack.push(cur);
                    cur = cached;
                    continue;
                }
            }
            Node n = step(cur, name);
            if (n.exists() && n.attrs().isSymbolicLink() && (!last || followFinal)) {
                if (++links > MAX_LINKS) {
                    throw new ErrnoFileSystemException(p.toString(), null, Errno.ELOOP, "too many symbolic links");
                }
                String target = readLink(n);
                List<String> names = new ArrayList<>();
                for (String s : target.split("/")) {
                    if (!s.isEmpty()) {
                        names.add(s);
                    }
                }
                for (int i = names.size() - 1; i >= 0; i--) {
                    pending.addFirst(names.get(i));
                }
                if (target.startsWith("/")) {
                    stack.clear();
                    cur = rootDir();
                }
                if (pending.isEmpty()) {
                    return nodeOf(cur);
                }
                continue;
            }
            if (last) {
                return n;
            }
            if (!n.exists()) {
                throw new NoSuchFileException(p.toString());
            }
            if (!n.isDirectory()) {
                throw new FileSystemException(p.toString(), null, "Not a directory");
            }
            stack.push(cur);
            cur = dirOf(n);
        }
    }

    private Node rootNode() throws IOException {
        return new Node("", Layer.UPPER, upperRoot, lowerRoot, attrs(upperRoot, false), null, false);
    }

    /** The node of a directory reached through "." or "..". */
    private Node nodeOf(Dir d) throws IOException {
        if (d.rel().isEmpty()) {
            return rootNode();
        }
        Node parentNode = lookup(new OverlayPath(fs, "/" + parentOf(d.rel())), true);
        return step(dirOf(parentNode), nameOf(d.rel()));
    }

    /** Looks up one name in a directory of the merged view. */
    private Node step(Dir parent, String name) throws IOException {
        String rel = child(parent.rel(), name);
        Path up = upper(rel);
        Path lo = lower(rel);
        if (format == WhiteoutFormat.AUFS && name.startsWith(WH_PREFIX)) {
            return new Node(rel, Layer.NONE, up, lo, null, parent, false);
        }
        if (parent.upperExists()) {
            Attrs a = upperAttrsOrNull(up);
            if (a != null) {
                if (format == WhiteoutFormat.KERNEL && a.isWhiteout()) {
                    return new Node(rel, Layer.NONE, up, lo, null, parent, true);
                }
                return new Node(rel, Layer.UPPER, up, lo, a, parent, false);
            }
            if (format == WhiteoutFormat.AUFS
                    && Files.exists(upper(parent.rel()).resolve(WH_PREFIX + name), NOFOLLOW_LINKS)) {
                return new Node(rel, Layer.NONE, up, lo, null, parent, true);
            }
        }
        if (parent.lowerValid()) {
            Attrs a = lowerAttrsOrNull(rel);
            if (a != null) {
                return new Node(rel, Layer.LOWER, up, lo, a, parent, false);
            }
        }
        return new Node(rel, Layer.NONE, up, lo, null, parent, false);
    }

    /** The layer state of a directory node, from the cache or computed (and cached). */
    Dir dirOf(Node n) throws IOException {
        if (n.rel().isEmpty()) {
            return rootDir();
        }
        Dir cached = dirs.get(n.rel());
        if (cached != null) {
            return cached;
        }
        long g = generation.get();
        boolean lowerValid;
        if (n.parent() == null || !n.parent().lowerValid()) {
            lowerValid = false;
        } else if (n.layer() == Layer.LOWER) {
            lowerValid = true;
        } else if (isOpaque(n.upper())) {
            lowerValid = false;
        } else {
            Attrs la = lowerAttrsOrNull(n.rel());
            lowerValid = la != null && la.isDirectory();
        }
        Dir d = new Dir(n.rel(), n.layer() == Layer.UPPER, lowerValid);
        synchronized (cacheLock) {
            if (generation.get() == g) {
                if (dirs.size() >= MAX_CACHED_DIRS) {
                    dirs.clear();
                }
                dirs.put(n.rel(), d);
            }
        }
        return d;
    }

    /** Forgets the cached state of {@code rel}, and of everything below it if {@code subtree}. */
    private void invalidate(String rel, boolean subtree) {
        synchronized (cacheLock) {
            generation.incrementAndGet();
            dirs.remove(rel);
            if (subtree) {
                String prefix = rel.isEmpty() ? "" : rel + "/";
                dirs.keySet().removeIf(k -> k.startsWith(prefix));
            }
        }
    }

    private boolean isOpaque(Path upperDir) throws IOException {
        if (format == WhiteoutFormat.AUFS) {
            return Files.exists(upperDir.resolve(WH_OPAQUE), NOFOLLOW_LINKS);
        }
        UserDefinedFileAttributeView v =
                Files.getFileAttributeView(upperDir, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        if (v == null) {
            return false;
        }
        try {
            if (!v.list().contains(OPAQUE_XATTR)) {
                return false;
            }
            ByteBuffer b = ByteBuffer.allocate(Math.max(1, v.size(OPAQUE_XATTR)));
            v.read(OPAQUE_XATTR, b);
            return b.position() == 1 && b.get(0) == 'y';
        } catch (UnsupportedOperationException e) {
            return false;
        }
    }

    private void setOpaque(Path upperDir) throws IOException {
        if (format == WhiteoutFormat.AUFS) {
            Files.createFile(upperDir.resolve(WH_OPAQUE));
        } else {
            Files.getFileAttributeView(upperDir, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS)
                    .write(OPAQUE_XATTR, ByteBuffer.wrap(new byte[] {'y'}));
        }
        status.opaque();
    }

    private String readLink(Node n) throws IOException {
        try {
            return Files.readSymbolicLink(n.visible()).toString();
        } catch (IOException e) {
            if (n.layer() == Layer.LOWER && !(e instanceof AccessDeniedException)) {
                throw lowerError(n.rel(), "readlink", e);
            }
            throw e;
        }
    }

    /** Whether the lower layer has an entry at {@code n}'s name (then removing it needs a whiteout). */
    private boolean lowerHas(Node n) {
        if (n.layer() == Layer.LOWER) {
            return true;
        }
        if (n.parent() == null || !n.parent().lowerValid()) {
            return false;
        }
        try {
            return lowerAttrsOrNull(n.rel()) != null;
        } catch (IOException e) {
            return true; // cannot tell: a whiteout where nothing is below is harmless
        }
    }

    // ------------------------------------------------------------------ listing

    /** The names of a directory of the merged view: upper ones first, each once, no whiteouts. */
    List<String> listMerged(Node n) throws IOException {
        Dir d = dirOf(n);
        LinkedHashSet<String> out = new LinkedHashSet<>();
        Set<String> hidden = new HashSet<>();
        if (d.upperExists()) {
            Path up = upper(d.rel());
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(up)) {
                for (Path c : ds) {
                    String name = c.getFileName().toString();
                    if (format == WhiteoutFormat.AUFS && name.startsWith(WH_PREFIX)) {
                        if (!name.equals(WH_OPAQUE)) {
                            hidden.add(name.substring(WH_PREFIX.length()));
                        }
                        continue;
                    }
                    if (format == WhiteoutFormat.KERNEL && d.lowerValid()) {
                        // whiteouts exist only where the lower layer takes part
                        Attrs a = upperAttrsOrNull(c);
                        if (a == null) {
                            continue;
                        }
                        if (a.isWhiteout()) {
                            hidden.add(name);
                            continue;
                        }
                    }
                    out.add(name);
                }
            } catch (DirectoryIteratorException e) {
                throw e.getCause();
            }
        }
        if (d.lowerValid()) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(lower(d.rel()))) {
                for (Path c : ds) {
                    String name = c.getFileName().toString();
                    if (!hidden.contains(name) && !(format == WhiteoutFormat.AUFS && name.startsWith(WH_PREFIX))) {
                        out.add(name);
                    }
                }
            } catch (DirectoryIteratorException e) {
                throw lowerError(d.rel(), "readdir", e.getCause());
            } catch (NoSuchFileException e) {
                // the lower directory went away: nothing below
            } catch (AccessDeniedException e) {
                throw e;
            } catch (IOException e) {
                throw lowerError(d.rel(), "readdir", e);
            }
        }
        return new ArrayList<>(out);
    }

    DirectoryStream<Path> newDirectoryStream(OverlayPath dir, DirectoryStream.Filter<? super Path> filter)
            throws IOException {
        Node n = lookup(dir, true);
        if (!n.exists()) {
            throw new NoSuchFileException(dir.toString());
        }
        if (!n.isDirectory()) {
            throw new NotDirectoryException(dir.toString());
        }
        List<String> names = listMerged(n);
        return new DirectoryStream<>() {
            private boolean iterated;
            private boolean closed;

            @Override
            public Iterator<Path> iterator() {
                if (closed || iterated) {
                    throw new IllegalStateException(closed ? "directory stream closed" : "iterator already obtained");
                }
                iterated = true;
                Iterator<String> it = names.iterator();
                return new FilteredPathIterator(() -> !closed && it.hasNext() ? dir.resolve(it.next()) : null, filter);
            }

            @Override
            public void close() {
                closed = true;
            }
        };
    }

    // ------------------------------------------------------------------ copy-up

    private Path newTmp() {
        return tmpDir.resolve("t" + tmpCounter.incrementAndGet());
    }

    /** Makes sure the directory {@code rel} exists in the upper layer, copying up it and its parents. */
    private Path ensureUpperDir(Dir d) throws IOException {
        if (d.upperExists()) {
            return upper(d.rel());
        }
        return ensureUpperDir(d.rel());
    }

    private Path ensureUpperDir(String rel) throws IOException {
        assert ns.isHeldByCurrentThread();
        if (rel.isEmpty()) {
            return upperRoot;
        }
        String prefix = "";
        for (String name : rel.split("/")) {
            prefix = child(prefix, name);
            Path up = upper(prefix);
            Attrs a = upperAttrsOrNull(up);
            if (a != null && a.isDirectory()) {
                continue;
            }
            if (a != null) {
                throw new NoSuchFileException("/" + prefix, null, "hidden by an upper entry");
            }
            Attrs la = lowerAttrsOrNull(prefix);
            if (la == null || !la.isDirectory()) {
                throw new NoSuchFileException("/" + prefix);
            }
            copyUpEntry(prefix, la, false);
        }
        return upper(rel);
    }

    /** Copies a lower node up (under {@link #ns}); returns its upper path. */
    private Path copyUp(Node n, boolean withData) throws IOException {
        assert ns.isHeldByCurrentThread();
        if (n.layer() == Layer.UPPER) {
            return n.upper();
        }
        if (n.layer() == Layer.NONE) {
            throw new NoSuchFileException(n.display());
        }
        Attrs now = upperAttrsOrNull(n.upper());
        if (now != null && !now.isWhiteout()) {
            return n.upper(); // copied up meanwhile
        }
        ensureUpperDir(n.parent());
        copyUpEntry(n.rel(), n.attrs(), withData);
        return n.upper();
    }

    /**
     * Builds the copy of the lower entry {@code rel} in the work directory (content, extended
     * attributes, owner, mode, times, in that order: a chown clears set-id bits, and every change
     * touches the times) and renames it into the upper layer.
     */
    private void copyUpEntry(String rel, Attrs la, boolean withData) throws IOException {
        Path lo = lower(rel);
        Path tmp = newTmp();
        long bytes = 0;
        try {
            switch (la.type()) {
                case Attrs.S_IFDIR -> Files.createDirectory(tmp);
                case Attrs.S_IFLNK -> {
                    String target;
                    try {
                        target = Files.readSymbolicLink(lo).toString();
                    } catch (IOException e) {
                        throw lowerError(rel, "readlink", e);
                    }
                    Files.createSymbolicLink(tmp, tmp.getFileSystem().getPath(target));
                }
                case Attrs.S_IFREG -> bytes = withData ? copyData(rel, lo, tmp) : createEmpty(tmp);
                default -> SpecialFiles.mknod(tmp, la.mode(), la.rdev());
            }
            copyXattrs(rel, lo, tmp);
            copyOwnerModeTimes(la, tmp);
            Files.move(tmp, upper(rel), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        status.copyUp(bytes);
        if (la.isDirectory()) {
            invalidate(rel, false);
        }
    }

    private static long createEmpty(Path tmp) throws IOException {
        Files.createFile(tmp);
        return 0;
    }

    private long copyData(String rel, Path lo, Path tmp) throws IOException {
        FileChannel in;
        try {
            in = FileChannel.open(lo, StandardOpenOption.READ);
        } catch (AccessDeniedException e) {
            throw e;
        } catch (IOException e) {
            throw lowerError(rel, "open", e);
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
                    throw lowerError(rel, "read", e);
                }
                if (n < 0) {
                    break;
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    out.write(buf);
                }
                total += n;
            }
        }
        return total;
    }

    private void copyXattrs(String rel, Path from, Path to) throws IOException {
        UserDefinedFileAttributeView src =
                Files.getFileAttributeView(from, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        UserDefinedFileAttributeView dst =
                Files.getFileAttributeView(to, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        if (src == null || dst == null) {
            return;
        }
        List<String> names;
        try {
            names = src.list();
        } catch (UnsupportedOperationException | FileSystemException e) {
            return; // no user attributes there (symbolic links on Linux, file systems without them)
        } catch (IOException e) {
            throw lowerError(rel, "listxattr", e);
        }
        for (String name : names) {
            if (name.startsWith(PRIVATE_XATTRS)) {
                continue;
            }
            ByteBuffer b;
            try {
                b = ByteBuffer.allocate(src.size(name));
                src.read(name, b);
            } catch (IOException e) {
                throw lowerError(rel, "getxattr", e);
            }
            b.flip();
            dst.write(name, b);
        }
    }

    private void copyOwnerModeTimes(Attrs la, Path tmp) throws IOException {
        if (la.unix() != null) {
            try {
                Files.setAttribute(tmp, "unix:gid", la.unix().get("gid"), NOFOLLOW_LINKS);
                Files.setAttribute(tmp, "unix:uid", la.unix().get("uid"), NOFOLLOW_LINKS);
            } catch (IOException e) {
                if (chownWarned.add("chown")) {
                    LOG.log(
                            System.Logger.Level.WARNING,
                            "copy-up cannot keep owners (" + e + "): copied-up files belong to this process");
                }
            }
        }
        if (la.type() != Attrs.S_IFLNK) {
            if (la.unix() != null) {
                Files.setAttribute(tmp, "unix:mode", la.mode() & 07777); // not a link; NOFOLLOW would open a FIFO
            } else if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                Files.setPosixFilePermissions(tmp, Modes.permissions(la.mode()));
            }
        }
        setTimes(tmp, la.mtime(), la.atime());
    }

    /** Sets a file's own times without opening it (a FIFO would block the JDK's setTimes). */
    private void setTimes(Path upperPath, FileTime mtime, FileTime atime) throws IOException {
        if (upperIsDefault) {
            SpecialFiles.setTimes(upperPath, mtime, atime);
        } else {
            Files.getFileAttributeView(upperPath, BasicFileAttributeView.class, NOFOLLOW_LINKS)
                    .setTimes(mtime, atime, null);
        }
    }

    /** Copies up a node for a change of its metadata; returns the upper path. */
    Path copyUpForChange(Node n) throws IOException {
        if (n.layer() == Layer.UPPER) {
            return n.upper();
        }
        ns.lock();
        try {
            return copyUp(n, true);
        } finally {
            ns.unlock();
        }
    }

    // ------------------------------------------------------------------ whiteouts

    /** Creates the whiteout of {@code n}'s name, where the upper layer has no entry. */
    private void makeWhiteout(Node n) throws IOException {
        Path parent = ensureUpperDir(n.parent());
        if (format == WhiteoutFormat.KERNEL) {
            SpecialFiles.mknod(n.upper(), Attrs.S_IFCHR, 0);
        } else {
            Files.createFile(parent.resolve(WH_PREFIX + nameOf(n.rel())));
        }
        status.whiteout();
    }

    /** Removes the whiteouts (and aufs markers) in an upper directory whose merged view is empty. */
    private void purgeWhiteouts(Path upperDir) throws IOException {
        List<Path> gone = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(upperDir)) {
            for (Path c : ds) {
                String name = c.getFileName().toString();
                if (format == WhiteoutFormat.AUFS ? name.startsWith(WH_PREFIX) : isWhiteoutEntry(c)) {
                    gone.add(c);
                }
            }
        }
        for (Path c : gone) {
            Files.deleteIfExists(c);
        }
    }

    private boolean isWhiteoutEntry(Path upperPath) throws IOException {
        Attrs a = upperAttrsOrNull(upperPath);
        return a != null && a.isWhiteout();
    }

    /** Removes the aufs whiteout of {@code n}'s name, if any (after an entry was put there). */
    private void dropAufsWhiteout(Node n) throws IOException {
        if (format == WhiteoutFormat.AUFS && n.whiteout()) {
            Files.deleteIfExists(upper(parentOf(n.rel())).resolve(WH_PREFIX + nameOf(n.rel())));
        }
    }

    private void checkName(Node n) throws IOException {
        if (format == WhiteoutFormat.AUFS && nameOf(n.rel()).startsWith(WH_PREFIX)) {
            throw new ErrnoFileSystemException(
                    n.display(),
                    null,
                    Errno.EINVAL,
                    "names starting with .wh. are reserved by the aufs whiteout format");
        }
        if (n.rel().isEmpty()) {
            throw new FileAlreadyExistsException("/");
        }
    }

    /**
     * Readies the missing entry {@code n} to be created in the upper layer: checks its name and
     * makes its parent directory there (copying it up). Called holding {@code ns}.
     */
    private void prepareCreate(Node n) throws IOException {
        checkName(n);
        ensureUpperDir(n.parent());
    }

    /**
     * The entry at {@code p} (not following a final link), which must not exist yet, readied to be
     * created ({@link #prepareCreate}). Called holding {@code ns}.
     *
     * @throws FileAlreadyExistsException if it exists
     */
    private Node freeName(OverlayPath p) throws IOException {
        Node n = lookup(p, false);
        if (n.exists()) {
            throw new FileAlreadyExistsException(p.toString());
        }
        prepareCreate(n);
        return n;
    }

    /**
     * Puts a freshly built entry {@code tmp} (not a directory) at {@code n}'s name, which holds a
     * whiteout: one rename in the kernel format, a rename and the removal of {@code .wh.NAME} in aufs.
     */
    private void replaceWhiteout(Path tmp, Node n) throws IOException {
        Files.move(tmp, n.upper(), StandardCopyOption.ATOMIC_MOVE);
        dropAufsWhiteout(n);
    }

    // ------------------------------------------------------------------ files

    FileChannel newFileChannel(OverlayPath p, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
            throws IOException {
        boolean write = options.contains(StandardOpenOption.WRITE) || options.contains(StandardOpenOption.APPEND);
        boolean createNew = write && options.contains(StandardOpenOption.CREATE_NEW);
        boolean create = write && (createNew || options.contains(StandardOpenOption.CREATE));
        Node n = lookup(p, !options.contains(NOFOLLOW_LINKS));
        if (!write) {
            if (!n.exists()) {
                throw new NoSuchFileException(p.toString());
            }
            return openRead(n, options, attrs);
        }
        if (n.exists() && createNew) {
            throw new FileAlreadyExistsException(p.toString());
        }
        if (n.isDirectory()) {
            throw new FileSystemException(p.toString(), null, "Is a directory");
        }
        if (n.layer() == Layer.UPPER) {
            return FileChannel.open(n.upper(), options, attrs);
        }
        ns.lock();
        try {
            n = lookup(p, !options.contains(NOFOLLOW_LINKS));
            if (n.layer() == Layer.UPPER) {
                return FileChannel.open(n.upper(), options, attrs);
            }
            if (n.exists()) {
                if (createNew) {
                    throw new FileAlreadyExistsException(p.toString());
                }
                Path up = copyUp(n, !options.contains(StandardOpenOption.TRUNCATE_EXISTING));
                Set<OpenOption> o = new HashSet<>(options);
                o.remove(StandardOpenOption.CREATE_NEW);
                return FileChannel.open(up, o, attrs);
            }
            if (!create) {
                throw new NoSuchFileException(p.toString());
            }
            prepareCreate(n);
            if (!n.whiteout()) {
                return FileChannel.open(n.upper(), options, attrs);
            }
            Path tmp = newTmp();
            Set<OpenOption> o = new HashSet<>(options);
            o.remove(StandardOpenOption.CREATE);
            o.remove(StandardOpenOption.TRUNCATE_EXISTING);
            o.add(StandardOpenOption.CREATE_NEW);
            FileChannel ch = FileChannel.open(tmp, o, attrs);
            try {
                replaceWhiteout(tmp, n);
            } catch (IOException | RuntimeException e) {
                ch.close();
                Files.deleteIfExists(tmp);
                throw e;
            }
            return ch;
        } finally {
            ns.unlock();
        }
    }

    private FileChannel openRead(Node n, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
            throws IOException {
        if (n.layer() == Layer.UPPER) {
            return FileChannel.open(n.upper(), options, attrs);
        }
        Set<OpenOption> o = new HashSet<>(options);
        o.remove(StandardOpenOption.CREATE);
        o.remove(StandardOpenOption.CREATE_NEW);
        o.remove(StandardOpenOption.TRUNCATE_EXISTING);
        o.remove(StandardOpenOption.DELETE_ON_CLOSE);
        FileChannel ch;
        try {
            ch = FileChannel.open(n.lower(), o);
        } catch (AccessDeniedException | NoSuchFileException e) {
            throw e;
        } catch (FileSystemException e) {
            if ("Is a directory".equals(e.getReason())) {
                throw e;
            }
            throw lowerError(n.rel(), "open", e);
        } catch (IOException e) {
            throw lowerError(n.rel(), "open", e);
        }
        return new LowerChannel(ch, this, n.rel());
    }

    void mknod(OverlayPath p, int mode, long rdev) throws IOException {
        int type = mode & Attrs.S_IFMT;
        if (type == Attrs.S_IFCHR && rdev == 0) {
            throw new ErrnoFileSystemException(
                    p.toString(), null, Errno.EPERM, "a character device 0/0 is how the overlay marks a deleted name");
        }
        if (type == Attrs.S_IFDIR) {
            throw new ErrnoFileSystemException(p.toString(), null, Errno.EPERM, "mkdir makes directories");
        }
        create(p, tmp -> SpecialFiles.mknod(tmp, mode, rdev));
    }

    void createSymbolicLink(OverlayPath link, String target, FileAttribute<?>... attrs) throws IOException {
        create(link, tmp -> Files.createSymbolicLink(tmp, tmp.getFileSystem().getPath(target), attrs));
    }

    void createLink(OverlayPath link, OverlayPath existing) throws IOException {
        ns.lock();
        try {
            Node e = lookup(existing, false);
            if (!e.exists()) {
                throw new NoSuchFileException(existing.toString());
            }
            if (e.isDirectory()) {
                throw new ErrnoFileSystemException(existing.toString(), link.toString(), Errno.EPERM, "a directory");
            }
            Path eu = copyUp(e, true);
            create(link, tmp -> Files.createLink(tmp, eu));
        } finally {
            ns.unlock();
        }
    }

    @FunctionalInterface
    private interface Maker {
        void make(Path at) throws IOException;
    }

    /** Creates a non-directory at a free name: in place, or over a whiteout from the work directory. */
    private void create(OverlayPath p, Maker maker) throws IOException {
        ns.lock();
        try {
            Node n = freeName(p);
            if (!n.whiteout()) {
                maker.make(n.upper());
                return;
            }
            Path tmp = newTmp();
            maker.make(tmp);
            try {
                replaceWhiteout(tmp, n);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
        } finally {
            ns.unlock();
        }
    }

    // ------------------------------------------------------------------ directories

    void createDirectory(OverlayPath p, FileAttribute<?>... attrs) throws IOException {
        ns.lock();
        try {
            Node n = freeName(p);
            if (!n.whiteout()) {
                Files.createDirectory(n.upper(), attrs);
                invalidate(n.rel(), true);
                return;
            }
            // a directory over a deleted name: opaque, so nothing of the lower one shows through
            Path tmp = newTmp();
            Files.createDirectory(tmp, attrs);
            try {
                setOpaque(tmp);
                if (format == WhiteoutFormat.KERNEL) {
                    Files.delete(n.upper()); // the whiteout; rename(2) cannot put a directory over it
                }
                Files.move(tmp, n.upper(), StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | RuntimeException e) {
                deleteTree(tmp);
                throw e;
            }
            dropAufsWhiteout(n);
            invalidate(n.rel(), true);
        } finally {
            ns.unlock();
        }
    }

    void delete(OverlayPath p) throws IOException {
        ns.lock();
        try {
            Node n = lookup(p, false);
            if (!n.exists()) {
                throw new NoSuchFileException(p.toString());
            }
            if (n.rel().isEmpty()) {
                throw new ErrnoFileSystemException("/", null, Errno.EBUSY, "the overlay's root");
            }
            boolean dir = n.isDirectory();
            if (dir && !listMerged(n).isEmpty()) {
                throw new DirectoryNotEmptyException(p.toString());
            }
            boolean below = lowerHas(n);
            if (n.layer() == Layer.UPPER) {
                if (dir) {
                    purgeWhiteouts(n.upper());
                }
                if (!below) {
                    Files.delete(n.upper());
                } else if (dir || format == WhiteoutFormat.AUFS) {
                    // aufs: the whiteout first, so a crash leaves the entry, not a resurrected lower one
                    Path trash = newTmp();
                    if (format == WhiteoutFormat.AUFS) {
                        makeWhiteout(n);
                        Files.move(n.upper(), trash, StandardCopyOption.ATOMIC_MOVE);
                    } else {
                        Files.move(n.upper(), trash, StandardCopyOption.ATOMIC_MOVE);
                        makeWhiteout(n);
                    }
                    deleteTree(trash);
                } else {
                    Path wh = newTmp();
                    SpecialFiles.mknod(wh, Attrs.S_IFCHR, 0);
                    Files.move(wh, n.upper(), StandardCopyOption.ATOMIC_MOVE);
                    status.whiteout();
                }
            } else {
                makeWhiteout(n);
            }
            if (dir) {
                invalidate(n.rel(), true);
            }
        } finally {
            ns.unlock();
        }
    }

    // ------------------------------------------------------------------ rename and copy

    void move(OverlayPath src, OverlayPath dst, CopyOption... options) throws IOException {
        boolean replace = false;
        for (CopyOption o : options) {
            if (o == StandardCopyOption.REPLACE_EXISTING || o == StandardCopyOption.ATOMIC_MOVE) {
                replace = true;
            }
        }
        ns.lock();
        try {
            Node s = lookup(src, false);
            Node t = lookup(dst, false);
            if (!s.exists()) {
                throw new NoSuchFileException(src.toString());
            }
            if (s.rel().isEmpty() || t.rel().isEmpty()) {
                throw new ErrnoFileSystemException(src.toString(), dst.toString(), Errno.EBUSY, "the overlay's root");
            }
            if (s.rel().equals(t.rel())) {
                return;
            }
            if (t.rel().startsWith(s.rel() + "/")) {
                throw new ErrnoFileSystemException(
                        src.toString(), dst.toString(), Errno.EINVAL, "cannot move a directory into itself");
            }
            if (t.exists()) {
                if (!replace) {
                    throw new FileAlreadyExistsException(dst.toString());
                }
                if (s.isDirectory() && !t.isDirectory()) {
                    throw new FileSystemException(src.toString(), dst.toString(), "Not a directory");
                }
                if (!s.isDirectory() && t.isDirectory()) {
                    throw new FileSystemException(src.toString(), dst.toString(), "Is a directory");
                }
                if (t.isDirectory() && !listMerged(t).isEmpty()) {
                    throw new DirectoryNotEmptyException(dst.toString());
                }
            }
            checkName(t);
            boolean srcBelow = lowerHas(s);
            Path su;
            if (s.isDirectory()) {
                Dir sd = dirOf(s);
                su = sd.lowerValid() || s.layer() == Layer.LOWER ? materialize(s) : s.upper();
                if (t.parent().lowerValid() && !isOpaque(su)) {
                    setOpaque(su); // whatever the lower layer has at the new name stays hidden
                }
            } else {
                su = copyUp(s, true);
            }
            ensureUpperDir(t.parent());
            if (t.layer() == Layer.UPPER && t.isDirectory()) {
                purgeWhiteouts(t.upper());
            }
            if (t.whiteout() && s.isDirectory() && format == WhiteoutFormat.KERNEL) {
                Files.delete(t.upper()); // rename(2) cannot put a directory over a device node
            }
            Files.move(su, t.upper(), StandardCopyOption.ATOMIC_MOVE);
            dropAufsWhiteout(t);
            if (srcBelow) {
                makeWhiteout(s);
            }
            if (s.isDirectory() || t.isDirectory()) {
                invalidate(s.rel(), true);
                invalidate(t.rel(), true);
            }
        } finally {
            ns.unlock();
        }
    }

    /**
     * Copies a directory of the merged view entirely into the upper layer (every lower entry below
     * it copied up, every directory with a lower part made opaque, its whiteouts then dropped), so it
     * no longer depends on the lower layer at its name. Returns its upper path.
     */
    private Path materialize(Node dir) throws IOException {
        Path up = copyUp(dir, false);
        Dir d = dirOf(lookupRel(dir.rel()));
        if (!d.lowerValid()) {
            return up;
        }
        for (String name : listMerged(lookupRel(dir.rel()))) {
            Node c = step(d, name);
            if (!c.exists()) {
                continue;
            }
            if (c.isDirectory()) {
                materialize(c);
            } else if (c.layer() == Layer.LOWER) {
                copyUp(c, true);
            }
        }
        setOpaque(up);
        purgeWhiteouts(up);
        invalidate(dir.rel(), true);
        return up;
    }

    private Node lookupRel(String rel) throws IOException {
        return lookup(new OverlayPath(fs, "/" + rel), false);
    }

    void copy(OverlayPath src, OverlayPath dst, CopyOption... options) throws IOException {
        boolean replace = false;
        boolean attrs = false;
        boolean follow = true;
        for (CopyOption o : options) {
            if (o == StandardCopyOption.REPLACE_EXISTING) {
                replace = true;
            } else if (o == StandardCopyOption.COPY_ATTRIBUTES) {
                attrs = true;
            } else if (o == NOFOLLOW_LINKS) {
                follow = false;
            }
        }
        Node s = lookup(src, follow);
        if (!s.exists()) {
            throw new NoSuchFileException(src.toString());
        }
        Node t = lookup(dst, false);
        if (t.exists() && s.rel().equals(t.rel())) {
            return;
        }
        if (t.exists()) {
            if (!replace) {
                throw new FileAlreadyExistsException(dst.toString());
            }
            delete(dst);
        }
        if (s.isDirectory()) {
            createDirectory(dst);
        } else if (s.attrs().isSymbolicLink()) {
            createSymbolicLink(dst, readLink(s));
        } else if (s.attrs().isRegularFile()) {
            try (FileChannel in = openRead(s, Set.of(StandardOpenOption.READ));
                    FileChannel out =
                            newFileChannel(dst, Set.of(StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW))) {
                long pos = 0;
                ByteBuffer buf = ByteBuffer.allocate(COPY_BUFFER);
                while (true) {
                    buf.clear();
                    int r = in.read(buf, pos);
                    if (r < 0) {
                        break;
                    }
                    buf.flip();
                    while (buf.hasRemaining()) {
                        out.write(buf);
                    }
                    pos += r;
                }
            }
        } else {
            mknod(dst, s.attrs().mode(), s.attrs().rdev());
        }
        // the permission bits always (as the JDK's copy does), the times only when asked
        Node c = lookup(dst, false);
        if (unix && c.attrs().type() != Attrs.S_IFLNK) {
            Files.setAttribute(c.upper(), "unix:mode", s.attrs().mode() & 07777);
        }
        if (attrs) {
            setTimes(c.upper(), s.attrs().mtime(), s.attrs().atime());
        }
    }

    // ------------------------------------------------------------------ attributes and the rest

    String readSymbolicLink(OverlayPath p) throws IOException {
        Node n = lookup(p, false);
        if (!n.exists()) {
            throw new NoSuchFileException(p.toString());
        }
        if (!n.attrs().isSymbolicLink()) {
            throw new NotLinkException(p.toString());
        }
        return readLink(n);
    }

    Path realPath(OverlayPath p, boolean follow) throws IOException {
        Node n = lookup(p, follow);
        if (!n.exists()) {
            throw new NoSuchFileException(p.toString());
        }
        return fs.getPath("/" + n.rel());
    }

    boolean isSameFile(OverlayPath a, OverlayPath b) throws IOException {
        Node na = lookup(a, true);
        Node nb = lookup(b, true);
        if (!na.exists()) {
            throw new NoSuchFileException(a.toString());
        }
        if (!nb.exists()) {
            throw new NoSuchFileException(b.toString());
        }
        return na.layer() == nb.layer() && Files.isSameFile(na.visible(), nb.visible());
    }

    FileStore fileStore(OverlayPath p) throws IOException {
        if (!lookup(p, true).exists()) {
            throw new NoSuchFileException(p.toString());
        }
        return Files.getFileStore(upperRoot);
    }

    void checkAccess(OverlayPath p, AccessMode... modes) throws IOException {
        Node n = lookup(p, true);
        if (!n.exists()) {
            throw new NoSuchFileException(p.toString());
        }
        if (n.layer() == Layer.UPPER) {
            n.upper().getFileSystem().provider().checkAccess(n.upper(), modes);
            return;
        }
        // writing a lower entry copies it up: the lower layer's own write permission does not count
        List<AccessMode> rest = new ArrayList<>();
        for (AccessMode m : modes) {
            if (m != AccessMode.WRITE) {
                rest.add(m);
            }
        }
        n.lower().getFileSystem().provider().checkAccess(n.lower(), rest.toArray(AccessMode[]::new));
    }

    <A extends BasicFileAttributes> A readAttributes(OverlayPath p, Class<A> type, boolean follow) throws IOException {
        Node n = lookup(p, follow);
        if (!n.exists()) {
            throw new NoSuchFileException(p.toString());
        }
        return readAttributes(n, type);
    }

    <A extends BasicFileAttributes> A readAttributes(Node n, Class<A> type) throws IOException {
        if (type == BasicFileAttributes.class) {
            return type.cast(n.attrs());
        }
        try {
            return Files.readAttributes(n.visible(), type, NOFOLLOW_LINKS);
        } catch (NoSuchFileException | AccessDeniedException | UnsupportedOperationException e) {
            throw e;
        } catch (IOException e) {
            throw n.layer() == Layer.LOWER ? lowerError(n.rel(), "stat", e) : e;
        }
    }

    Map<String, Object> readAttributes(OverlayPath p, String attributes, boolean follow) throws IOException {
        Node n = lookup(p, follow);
        if (!n.exists()) {
            throw new NoSuchFileException(p.toString());
        }
        Map<String, Object> cached = fromCached(n.attrs(), attributes);
        if (cached != null) {
            return cached;
        }
        try {
            Map<String, Object> m = Files.readAttributes(n.visible(), attributes, NOFOLLOW_LINKS);
            if (n.layer() == Layer.LOWER && tagLowerInodes && m.get("ino") instanceof Number ino) {
                m = new HashMap<>(m);
                m.put("ino", ino.longValue() | (1L << 62));
            }
            return m;
        } catch (NoSuchFileException | AccessDeniedException e) {
            throw e;
        } catch (IOException e) {
            throw n.layer() == Layer.LOWER ? lowerError(n.rel(), "stat", e) : e;
        }
    }

    /** The requested {@code unix:} attributes from the lookup's own {@code lstat}, or null if it lacks one. */
    private static Map<String, Object> fromCached(Attrs a, String attributes) {
        if (a.unix() == null || !attributes.startsWith("unix:")) {
            return null;
        }
        String[] names = attributes.substring(5).split(",");
        Map<String, Object> out = new HashMap<>();
        for (String name : names) {
            if (!UNIX_NAMES.contains(name)) {
                return null;
            }
            out.put(name, a.unix().get(name));
        }
        return out;
    }

    void setAttribute(OverlayPath p, String attribute, Object value, boolean follow) throws IOException {
        Node n = lookup(p, follow);
        if (!n.exists()) {
            throw new NoSuchFileException(p.toString());
        }
        Path up = copyUpForChange(n);
        String name = attribute.substring(attribute.indexOf(':') + 1);
        if (upperIsDefault && (name.equals("lastModifiedTime") || name.equals("lastAccessTime"))) {
            FileTime t = (FileTime) value;
            setTimes(up, name.equals("lastModifiedTime") ? t : null, name.equals("lastAccessTime") ? t : null);
            return;
        }
        // the overlay resolved links itself; NOFOLLOW only for a link (the JDK opens the file for a
        // NOFOLLOW chmod, which blocks on a FIFO)
        if (n.attrs().isSymbolicLink()) {
            Files.setAttribute(up, attribute, value, NOFOLLOW_LINKS);
        } else {
            Files.setAttribute(up, attribute, value);
        }
    }

    @SuppressWarnings("unchecked")
    <V extends FileAttributeView> V attributeView(OverlayPath p, Class<V> type, boolean follow) {
        if (type == BasicFileAttributeView.class
                || type == PosixFileAttributeView.class
                || type == FileOwnerAttributeView.class) {
            if (type == PosixFileAttributeView.class
                    && !fs.supportedFileAttributeViews().contains("posix")) {
                return null;
            }
            return (V) new OverlayViews.Posix(this, p, follow);
        }
        if (type == UserDefinedFileAttributeView.class) {
            return (V) new OverlayViews.User(this, p, follow);
        }
        return null;
    }

    /** Sets times on the entry of {@code n}, copied up first (for the views). */
    void setTimes(Node n, FileTime mtime, FileTime atime) throws IOException {
        setTimes(copyUpForChange(n), mtime, atime);
    }
}
