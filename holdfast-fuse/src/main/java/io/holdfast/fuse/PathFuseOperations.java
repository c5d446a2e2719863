package io.holdfast.fuse;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.common.Caller;
import io.holdfast.common.SpecialFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessMode;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Clock;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.cryptomator.jfuse.api.DirFiller;
import org.cryptomator.jfuse.api.Errno;
import org.cryptomator.jfuse.api.FileInfo;
import org.cryptomator.jfuse.api.FuseConfig;
import org.cryptomator.jfuse.api.FuseConnInfo;
import org.cryptomator.jfuse.api.FuseOperations;
import org.cryptomator.jfuse.api.Stat;
import org.cryptomator.jfuse.api.Statvfs;
import org.cryptomator.jfuse.api.TimeSpec;

/**
 * A jfuse {@link FuseOperations} that serves any {@link java.nio.file.Path} subtree through the
 * libfuse3 high-level (path-based) API, using only the public NIO API.
 *
 * <h2>Design notes</h2>
 *
 * <ul>
 *   <li><b>Spec followed:</b> the FUSE protocol as seen through the libfuse3 high-level API
 *       ({@code struct fuse_operations}, libfuse 3.14): every callback returns 0 / a byte count, or
 *       a negative Linux errno. Paths arrive absolute ("/a/b") and are resolved against
 *       {@link #root}; the kernel has already resolved "..", symlinks and (because the mount uses
 *       {@code -o default_permissions}) POSIX permissions from the attributes reported by
 *       {@link #getattr}.
 *   <li><b>Errors:</b> no exception ever escapes into native code (an exception in an FFM upcall
 *       kills the JVM). Every callback runs inside {@link #run}, which maps {@link Throwable}s via
 *       {@link Errnos}; unknown failures become {@code EIO} and are logged with the path.
 *   <li><b>File handles:</b> {@code open}/{@code create} put a {@link FileChannel} into a
 *       concurrent table under a number from an {@link AtomicLong} (never reused); {@code read},
 *       {@code write}, {@code fsync} and {@code truncate} with a handle use it, and
 *       {@code release} closes it. O_APPEND is emulated (write at {@link FileChannel#size()} under
 *       the handle's lock) because NIO forbids READ+APPEND channels.
 *   <li><b>Unlink while open:</b> libfuse's default "hide" mode renames such a file to
 *       {@code .fuse_hiddenNNN} and removes it at release. {@code -o hard_remove} must not be used
 *       with jfuse 0.7.3: libfuse would then pass NULL paths, which jfuse dereferences.
 *   <li><b>Attributes:</b> with the {@code "unix"} attribute view (the local file system, and
 *       Holdfast's provider) mode/ino/nlink/uid/gid/rdev/times are reported as stored and inode
 *       numbers are honoured ({@code fuse_config.use_ino}, set in {@code init}) so tools detect hard links. Otherwise
 *       {@code "posix"} or basic attributes are used with synthesized mode and ownership.
 *   <li><b>Capabilities</b> of the file system (exact initial modes, whose identity it acts
 *       under, write-behind) are declared in {@link FuseOptions#capabilities}, never inferred from
 *       which {@link java.nio.file.FileSystem} {@link #root} belongs to.
 *   <li><b>Credentials:</b> see {@link CallerScope}. For a file system that acts as this process
 *       ({@link Capabilities.Ownership#PROCESS}) served by a root daemon, new nodes are chowned to
 *       the caller, as a C passthrough server does.
 *   <li><b>fallocate and SEEK_DATA/SEEK_HOLE</b> (Linux fallocate(2), lseek(2)) go to
 *       {@link HoldfastFiles} when the handle is a Holdfast channel. Other file systems (the local
 *       disk included) get {@code EOPNOTSUPP} for fallocate, and {@code ENOSYS} for lseek, after
 *       which the kernel answers SEEK_DATA/SEEK_HOLE itself for the whole mount (all data, a hole
 *       at the end): NIO has no call for either, and the passthrough is a test and fallback
 *       server, not worth native calls on its own descriptors.
 *   <li><b>Special files</b> ({@code mknod}: FIFOs, sockets, device nodes) are created through
 *       {@link SpecialFiles}: Holdfast's provider stores them in the volume, the local disk gets
 *       them from libc's {@code mknod(2)}; other file systems answer {@code EPERM}, as
 *       {@code mknod(2)} does for a file system that does not support the type. Their I/O never
 *       reaches the adapter: the kernel serves an opened FIFO or device node itself.
 *   <li><b>What jfuse lacks</b> ({@code link}, {@code mknod}, {@code fallocate}, {@code lseek},
 *       {@code st_ino}, {@code st_rdev}, caller context) is reached through {@link NativeFuse}.
 * </ul>
 *
 * <p>Thread safety: callbacks are invoked concurrently by libfuse's multithreaded loop; all state
 * is either immutable or concurrent. Concurrent {@code read}/{@code write} on one handle are
 * positional and therefore independent.
 */
final class PathFuseOperations implements FuseOperations {
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFMT = 0170000;
    private static final int O_ACCMODE = 03;
    private static final int O_WRONLY = 01;
    private static final int O_RDWR = 02;
    private static final int O_EXCL = 0200;
    private static final int O_TRUNC = 01000;
    private static final int O_APPEND = 02000;
    private static final int O_DSYNC = 010000;
    private static final int O_SYNC = 04010000;
    private static final int RENAME_NOREPLACE = 1;
    private static final int RENAME_EXCHANGE = 2;
    private static final int XATTR_CREATE = 1;
    private static final int XATTR_REPLACE = 2;
    private static final String XATTR_USER = "user.";
    private static final int MIB = 1 << 20;
    private static final String UNIX_ATTRS =
            "unix:mode,ino,nlink,uid,gid,size,rdev,lastAccessTime,lastModifiedTime,ctime";

    /** An open file: its channel, whether writes append, and its FUSE path (moved by renames through the mount). */
    private static final class Handle {
        private final FileChannel channel;
        private final boolean append;
        private final boolean writable;
        private volatile String path;

        Handle(FileChannel channel, boolean append, boolean writable, String path) {
            this.channel = channel;
            this.append = append;
            this.writable = writable;
            this.path = path;
        }

        FileChannel channel() {
            return channel;
        }

        boolean append() {
            return append;
        }

        boolean writable() {
            return writable;
        }
    }

    @FunctionalInterface
    private interface Body {
        int run() throws IOException;
    }

    private final Path root;
    private final FuseOptions options;
    private final Errno errno;
    private final Clock clock;
    private final boolean unixView;
    private final boolean posixView;
    private final boolean slashSeparated;
    private final boolean statExtras;
    private final boolean adoptOwnership;
    /**
     * Whether new nodes can be created with their final permission bits in one step: declared by
     * {@link Capabilities#exactModes} (Holdfast's provider applies the given mode exactly and does
     * not check permissions on a channel it just created). Otherwise two steps (create
     * owner-writable, then chmod), because the local disk's JDK provider applies the daemon's
     * umask. One step saves a replicated SetAttr per create and mkdir.
     */
    private final boolean exactInitialMode;
    /** Whether the file system acts as the bound caller ({@link Capabilities.Ownership#CALLER}). */
    private final boolean actsAsCaller;
    /** Whether writes may be acknowledged before others see them ({@link Capabilities#writeBehind}). */
    private final boolean writeBehind;

    private final int daemonUid;
    private final int daemonGid;
    private final ConcurrentHashMap<Long, Handle> handles = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);
    private volatile NativeFuse.KernelCacheControl kernelCacheControl;
    private volatile KernelCache kernelCache;

    /**
     * Creates the operations.
     *
     * @param root the directory to serve; its file system decides which attribute views are used
     * @param options mount options (read-only guard, credentials hook, declared capabilities)
     * @param errno jfuse's errno table (used only for jfuse defaults)
     * @param clock source of "now" for {@code UTIME_NOW}
     */
    PathFuseOperations(Path root, FuseOptions options, Errno errno, Clock clock) {
        this.root = root;
        this.options = options;
        this.errno = errno;
        this.clock = clock;
        Set<String> views = root.getFileSystem().supportedFileAttributeViews();
        this.unixView = views.contains("unix");
        this.posixView = views.contains("posix");
        this.slashSeparated = root.getFileSystem().getSeparator().equals("/");
        this.statExtras = unixView && NativeFuse.statExtrasSupported();
        int[] ids = processIds();
        this.daemonUid = ids[0];
        this.daemonGid = ids[1];
        Capabilities declared = options.capabilities();
        this.actsAsCaller = declared.ownership() == Capabilities.Ownership.CALLER;
        this.writeBehind = declared.writeBehind();
        this.adoptOwnership = unixView && daemonUid == 0 && !actsAsCaller;
        this.exactInitialMode = posixView && declared.exactModes();
    }

    /** Number of open handles (for tests and diagnostics). */
    int openHandles() {
        return handles.size();
    }

    // ---------------------------------------------------------------- plumbing

    private int run(String op, String path, boolean mutates, Body body) {
        if (mutates && options.readOnly()) {
            return -Errnos.EROFS;
        }
        try (CallerScope.Scope ignored = enterCaller()) {
            int rc = body.run();
            KernelCache k = kernelCache;
            if (mutates && rc >= 0 && k != null) {
                // the kernel's other inodes of a multiply-linked file (one per name here) would keep
                // the old attributes; a new link makes the existing names' link count stale
                k.changedLinked(path, op.equals("link"));
            }
            return rc;
        } catch (Throwable t) {
            return Errnos.of(t, op, path);
        }
    }

    /**
     * Starts telling {@code k} about replies and changes (see {@link KernelCache}); null stops.
     * Set before the kernel may cache anything.
     */
    void kernelCache(KernelCache k) {
        this.kernelCache = k;
    }

    /** Notes a reply's attributes for the kernel cache: a multiply-linked file is tracked. */
    private void answered(String fusePath, Stat stat) {
        KernelCache k = kernelCache;
        if (k != null) {
            k.answered(fusePath, (stat.getMode() & S_IFMT) == S_IFDIR, stat.getNLink());
        }
    }

    private CallerScope.Scope enterCaller() {
        CallerScope hook = options.callerScope();
        if (hook == CallerScope.NONE) {
            return CallerScope.Scope.EMPTY;
        }
        Caller caller = NativeFuse.currentCaller(true);
        return caller == null ? CallerScope.Scope.EMPTY : hook.enter(caller);
    }

    /** Maps an absolute FUSE path ("/", "/a/b") to a path under {@link #root}. */
    Path resolve(String fusePath) {
        if (fusePath == null || fusePath.isEmpty() || fusePath.equals("/")) {
            return root;
        }
        String rel = fusePath.charAt(0) == '/' ? fusePath.substring(1) : fusePath;
        if (slashSeparated) {
            return root.resolve(rel);
        }
        Path p = root;
        for (String name : rel.split("/")) {
            if (!name.isEmpty()) {
                p = p.resolve(name);
            }
        }
        return p;
    }

    private Handle handle(FileInfo fi) throws IOException {
        Handle h = fi == null ? null : handles.get(fi.getFh());
        if (h == null) {
            throw new FileSystemException(null, null, "Bad file descriptor");
        }
        return h;
    }

    private long register(FileChannel ch, boolean append, boolean writable, String fusePath) {
        long fh = nextFh.getAndIncrement();
        handles.put(fh, new Handle(ch, append, writable, fusePath));
        return fh;
    }

    /** The FUSE paths of the files open now, each once. */
    Set<String> openPaths() {
        Set<String> paths = new HashSet<>();
        for (Handle h : handles.values()) {
            paths.add(h.path);
        }
        return paths;
    }

    /** After a rename through the mount: the open files at or below {@code from} are now below {@code to}. */
    private void moveOpenPaths(String from, String to) {
        for (Handle h : handles.values()) {
            String p = h.path;
            if (atOrBelow(p, from)) {
                h.path = to + p.substring(from.length());
            }
        }
    }

    /** Whether FUSE path {@code p} is {@code dir} or below it. */
    static boolean atOrBelow(String p, String dir) {
        return p.startsWith(dir) && (p.length() == dir.length() || p.charAt(dir.length()) == '/');
    }

    /**
     * The control of the kernel's caches of this session, reached in {@code init}; null before, or
     * if libfuse's internals were not reachable.
     */
    NativeFuse.KernelCacheControl kernelCacheControl() {
        return kernelCacheControl;
    }

    /** After creating a node: chown it to the caller when a root daemon serves a file system that acts as it. */
    private void adopt(Path p) {
        if (!adoptOwnership) {
            return;
        }
        Caller c = NativeFuse.currentCaller(false);
        if (c == null || (c.uid() == daemonUid && c.gid() == daemonGid)) {
            return;
        }
        try {
            Files.setAttribute(p, "unix:gid", c.gid(), NOFOLLOW_LINKS);
            Files.setAttribute(p, "unix:uid", c.uid(), NOFOLLOW_LINKS);
        } catch (IOException | RuntimeException e) {
            System.getLogger(PathFuseOperations.class.getName())
                    .log(System.Logger.Level.DEBUG, "chown of new node " + p + " failed", e);
        }
    }

    private void setMode(Path p, int mode) throws IOException {
        if (unixView) {
            Files.setAttribute(p, "unix:mode", mode & 07777);
        } else if (posixView) {
            Files.setPosixFilePermissions(p, permissions(mode));
        } else {
            throw new UnsupportedOperationException("no unix or posix attribute view");
        }
    }

    /** Whether a node created with {@code mode} gets it in the create itself ({@link #exactInitialMode}). */
    private boolean oneStep(int mode) {
        return exactInitialMode && (mode & 07000) == 0;
    }

    /** The mode a regular file is created with: its final one in one step, else owner read-write. */
    private static int initialFileMode(int mode, boolean oneStep) {
        return oneStep ? mode & 0777 : mode & 0700 | 0600;
    }

    /** After creating {@code p}: chown it to the caller, then its final mode unless the create set it. */
    private void finishNode(Path p, int mode, boolean oneStep) throws IOException {
        adopt(p);
        if (!oneStep && (unixView || posixView)) {
            setMode(p, mode);
        }
    }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission perm : PosixFilePermission.values()) {
            if ((mode & (1 << (8 - perm.ordinal()))) != 0) {
                set.add(perm);
            }
        }
        return set;
    }

    static int modeBits(Set<PosixFilePermission> perms) {
        int mode = 0;
        for (PosixFilePermission perm : perms) {
            mode |= 1 << (8 - perm.ordinal());
        }
        return mode;
    }

    private FileAttribute<?>[] createAttrs(int mode) {
        return posixView
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(permissions(mode))}
                : new FileAttribute<?>[0];
    }

    // ---------------------------------------------------------------- lifecycle

    @Override
    public Errno errno() {
        return errno;
    }

    @Override
    public Set<Operation> supportedOperations() {
        return EnumSet.of(
                Operation.INIT,
                Operation.DESTROY,
                Operation.GET_ATTR,
                Operation.READ_DIR,
                Operation.MKDIR,
                Operation.RMDIR,
                Operation.CREATE,
                Operation.OPEN,
                Operation.READ,
                Operation.WRITE,
                Operation.TRUNCATE,
                Operation.RELEASE,
                Operation.FLUSH,
                Operation.FSYNC,
                Operation.FSYNCDIR,
                Operation.UNLINK,
                Operation.RENAME,
                Operation.SYMLINK,
                Operation.READLINK,
                Operation.CHMOD,
                Operation.CHOWN,
                Operation.UTIMENS,
                Operation.STATFS,
                Operation.ACCESS,
                Operation.GET_XATTR,
                Operation.SET_XATTR,
                Operation.LIST_XATTR,
                Operation.REMOVE_XATTR);
    }

    @Override
    public void init(FuseConnInfo conn, FuseConfig cfg) {
        try {
            conn.setMaxWrite(MIB);
            conn.setMaxReadahead(MIB);
            if (statExtras) {
                NativeFuse.enableUseIno(cfg);
            }
            kernelCacheControl = NativeFuse.kernelCacheControl(cfg);
        } catch (Throwable t) {
            System.getLogger(PathFuseOperations.class.getName())
                    .log(System.Logger.Level.WARNING, "FUSE init tuning failed", t);
        }
    }

    @Override
    public void destroy() {
        closeAll();
    }

    /** Closes every handle still open (at unmount). */
    void closeAll() {
        for (Long fh : List.copyOf(handles.keySet())) {
            Handle h = handles.remove(fh);
            if (h != null) {
                try {
                    h.channel().close();
                } catch (IOException | RuntimeException ignored) {
                    // unmounting; nothing left to report to
                }
            }
        }
    }

    // ---------------------------------------------------------------- attributes

    @Override
    public int getattr(String path, Stat stat, FileInfo fi) {
        return run("getattr", path, false, () -> {
            fillStat(resolve(path), stat);
            answered(path, stat);
            return 0;
        });
    }

    private void fillStat(Path p, Stat stat) throws IOException {
        if (unixView) {
            fillUnix(stat, Files.readAttributes(p, UNIX_ATTRS, NOFOLLOW_LINKS));
            return;
        }
        BasicFileAttributes a;
        int perms;
        int uid = daemonUid;
        int gid = daemonGid;
        if (posixView) {
            PosixFileAttributes pa = Files.readAttributes(p, PosixFileAttributes.class, NOFOLLOW_LINKS);
            a = pa;
            perms = modeBits(pa.permissions());
            uid = numericOr(pa.owner().getName(), uid);
            gid = numericOr(pa.group().getName(), gid);
        } else {
            a = Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW_LINKS);
            perms = a.isDirectory() ? 0755 : a.isSymbolicLink() ? 0777 : 0644;
        }
        int type = a.isDirectory() ? S_IFDIR : a.isSymbolicLink() ? S_IFLNK : S_IFREG;
        stat.setMode(type | perms);
        stat.setUid(uid);
        stat.setGid(gid);
        stat.setSize(a.size());
        stat.setNLink((short) (a.isDirectory() ? 2 : 1));
        stat.aTime().set(a.lastAccessTime().toInstant());
        stat.mTime().set(a.lastModifiedTime().toInstant());
        stat.cTime().set(a.lastModifiedTime().toInstant());
    }

    private void fillUnix(Stat stat, Map<String, Object> a) {
        long size = ((Number) a.get("size")).longValue();
        long nlink = ((Number) a.get("nlink")).longValue();
        stat.setMode(((Number) a.get("mode")).intValue());
        stat.setUid(((Number) a.get("uid")).intValue());
        stat.setGid(((Number) a.get("gid")).intValue());
        stat.setSize(size);
        stat.setNLink((short) Math.min(nlink, Short.MAX_VALUE));
        stat.aTime().set(((FileTime) a.get("lastAccessTime")).toInstant());
        stat.mTime().set(((FileTime) a.get("lastModifiedTime")).toInstant());
        stat.cTime().set(((FileTime) a.get("ctime")).toInstant());
        if (statExtras) {
            Object rdev = a.get("rdev");
            NativeFuse.setStatExtras(
                    stat,
                    ((Number) a.get("ino")).longValue(),
                    nlink,
                    (size + 511) / 512,
                    rdev instanceof Number n ? n.longValue() : 0);
        }
    }

    /** The stat of a "." or ".." entry: the directory's own attributes where they can be read. */
    private void fillDotEntry(Stat st, Path dir) {
        if (unixView) {
            try {
                fillUnix(st, Files.readAttributes(dir, UNIX_ATTRS, NOFOLLOW_LINKS));
                return;
            } catch (IOException | RuntimeException e) {
                // removed while listing: a plain directory entry below
            }
        }
        st.setMode(S_IFDIR | 0755);
    }

    private static int numericOr(String name, int fallback) {
        try {
            return Integer.parseInt(name);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    @Override
    public int readdir(String path, DirFiller filler, long offset, FileInfo fi, int flags) {
        return run("readdir", path, false, () -> {
            Path dir = resolve(path);
            boolean plus = (flags & FUSE_READDIR_PLUS) != 0;
            // "." and ".." with their real attributes: with use_ino an entry's inode number is the one
            // we report, and glibc's readdir skips entries whose inode number is 0 (ls -a showed neither)
            Path parent = dir.equals(root) ? dir : dir.getParent();
            if (filler.fill(".", st -> fillDotEntry(st, dir), 0, 0) != 0
                    || filler.fill("..", st -> fillDotEntry(st, parent), 0, 0) != 0) {
                return -12; // ENOMEM: libfuse could not grow its buffer
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path child : ds) {
                    String name = child.getFileName().toString();
                    int rc;
                    if (unixView) {
                        Map<String, Object> attrs;
                        try {
                            attrs = Files.readAttributes(child, UNIX_ATTRS, NOFOLLOW_LINKS);
                        } catch (NoSuchFileException gone) {
                            continue; // removed while listing
                        }
                        String childPath = path.endsWith("/") ? path + name : path + "/" + name;
                        rc = filler.fill(
                                name,
                                st -> {
                                    fillUnix(st, attrs);
                                    answered(childPath, st);
                                },
                                0,
                                plus ? DirFiller.FUSE_FILL_DIR_PLUS : 0);
                    } else {
                        rc = filler.fill(name, st -> {}, 0, 0);
                    }
                    if (rc != 0) {
                        return -12;
                    }
                }
            }
            return 0;
        });
    }

    /**
     * {@code chmod}. One case is not the caller's own: before a write, truncate or chown by someone
     * who may not clear the file's set-user-ID/set-group-ID bits, the kernel clears them itself
     * (file_remove_privs: POSIX write(2) says a write by a non-owner clears them) and sends that as
     * a mode change on the writer's behalf. With {@code default_permissions} the kernel refuses a
     * real chmod(2) by a non-owner before it reaches us, so a change that only drops set-id bits
     * comes from the kernel and runs as the superuser; Holdfast would refuse it from the writer.
     */
    @Override
    public int chmod(String path, int mode, FileInfo fi) {
        return run("chmod", path, true, () -> {
            Path p = resolve(path);
            if (unixView && actsAsCaller && dropsOnlySetIdBits(p, mode)) {
                try (CallerScope.Scope kernel = options.callerScope().enter(Caller.ROOT)) {
                    setMode(p, mode);
                }
                return 0;
            }
            setMode(p, mode);
            return 0;
        });
    }

    /** Whether {@code mode} is the current mode of {@code p} less some of its set-id bits. */
    private static boolean dropsOnlySetIdBits(Path p, int mode) throws IOException {
        int current = ((Number) Files.getAttribute(p, "unix:mode", NOFOLLOW_LINKS)).intValue() & 07777;
        int wanted = mode & 07777;
        return wanted != current && (current & ~06000) == (wanted & ~06000) && (wanted & ~current) == 0;
    }

    @Override
    public int chown(String path, int uid, int gid, FileInfo fi) {
        return run("chown", path, true, () -> {
            if (!unixView) {
                return -Errnos.ENOTSUP;
            }
            Path p = resolve(path);
            if (uid != -1 && gid != -1) {
                try {
                    Files.setAttribute(p, "unix:ids", new int[] {uid, gid}, NOFOLLOW_LINKS);
                    return 0;
                } catch (IllegalArgumentException | UnsupportedOperationException notThere) {
                    // a file system without it: one id at a time below
                }
            }
            if (gid != -1) {
                Files.setAttribute(p, "unix:gid", gid, NOFOLLOW_LINKS);
            }
            if (uid != -1) {
                Files.setAttribute(p, "unix:uid", uid, NOFOLLOW_LINKS);
            }
            return 0;
        });
    }

    /**
     * {@code utimensat(2)}. Times set to {@code UTIME_NOW} on a file system that acts as the caller
     * ({@link Capabilities.Ownership#CALLER}) go as {@code unix:timesNow} where the file system has
     * it (Holdfast does): "now" is then the volume's time, and any writer may do it (only the owner
     * may set explicit times). A path on the JVM's default file system gets its times from libc's
     * {@code utimensat(2)} (the JDK's setTimes opens the file, and blocks on a FIFO).
     */
    @Override
    public int utimens(String path, TimeSpec atime, TimeSpec mtime, FileInfo fi) {
        return run("utimens", path, true, () -> {
            boolean aNow = atime.isUtimeNow();
            boolean mNow = mtime.isUtimeNow();
            if (unixView
                    && actsAsCaller
                    && (aNow || mNow)
                    && (aNow || atime.isUtimeOmit())
                    && (mNow || mtime.isUtimeOmit())) {
                Set<String> names = new HashSet<>();
                if (aNow) {
                    names.add("lastAccessTime");
                }
                if (mNow) {
                    names.add("lastModifiedTime");
                }
                try {
                    Files.setAttribute(resolve(path), "unix:timesNow", names, NOFOLLOW_LINKS);
                    return 0;
                } catch (IllegalArgumentException | UnsupportedOperationException notThere) {
                    // a file system without it: set explicit times below
                }
            }
            FileTime now = FileTime.from(clock.instant());
            FileTime a = atime.isUtimeOmit() ? null : atime.isUtimeNow() ? now : FileTime.from(atime.get());
            FileTime m = mtime.isUtimeOmit() ? null : mtime.isUtimeNow() ? now : FileTime.from(mtime.get());
            if (a == null && m == null) {
                return 0;
            }
            Path p = resolve(path);
            if (p.getFileSystem() == FileSystems.getDefault()) {
                // a native call needs a path of the default file system, whatever the declared capabilities
                SpecialFiles.setTimes(p, m, a); // utimensat: the JDK's setTimes opens the file, and blocks on a FIFO
                return 0;
            }
            Files.getFileAttributeView(p, BasicFileAttributeView.class, NOFOLLOW_LINKS)
                    .setTimes(m, a, null);
            return 0;
        });
    }

    @Override
    public int statfs(String path, Statvfs statvfs) {
        return run("statfs", path, false, () -> {
            FileStore store = Files.getFileStore(root);
            long bsize;
            try {
                bsize = store.getBlockSize();
            } catch (UnsupportedOperationException e) {
                bsize = 4096;
            }
            if (bsize <= 0) {
                bsize = 4096;
            }
            statvfs.setBsize(bsize);
            statvfs.setFrsize(bsize);
            statvfs.setBlocks(store.getTotalSpace() / bsize);
            statvfs.setBfree(store.getUnallocatedSpace() / bsize);
            statvfs.setBavail(store.getUsableSpace() / bsize);
            statvfs.setNameMax(255);
            return 0;
        });
    }

    @Override
    public int access(String path, int mask) {
        return run("access", path, false, () -> {
            Path p = resolve(path);
            if (mask == 0) {
                Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW_LINKS);
                return 0;
            }
            List<AccessMode> modes = new ArrayList<>(3);
            if ((mask & 4) != 0) {
                modes.add(AccessMode.READ);
            }
            if ((mask & 2) != 0) {
                modes.add(AccessMode.WRITE);
            }
            if ((mask & 1) != 0) {
                modes.add(AccessMode.EXECUTE);
            }
            p.getFileSystem().provider().checkAccess(p, modes.toArray(AccessMode[]::new));
            return 0;
        });
    }

    // ---------------------------------------------------------------- namespace

    @Override
    public int mkdir(String path, int mode) {
        return run("mkdir", path, true, () -> {
            Path p = resolve(path);
            boolean oneStep = oneStep(mode);
            Files.createDirectory(p, createAttrs(oneStep ? mode & 0777 : mode & 0700));
            finishNode(p, mode, oneStep);
            return 0;
        });
    }

    @Override
    public int rmdir(String path) {
        return run("rmdir", path, true, () -> {
            Path p = resolve(path);
            if (!Files.isDirectory(p, NOFOLLOW_LINKS)) {
                Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW_LINKS); // ENOENT if missing
                return -Errnos.ENOTDIR;
            }
            Files.delete(p);
            return 0;
        });
    }

    @Override
    public int unlink(String path) {
        return run("unlink", path, true, () -> {
            Path p = resolve(path);
            if (Files.isDirectory(p, NOFOLLOW_LINKS)) {
                return -Errnos.EISDIR;
            }
            Files.delete(p);
            return 0;
        });
    }

    @Override
    public int rename(String oldpath, String newpath, int flags) {
        return run("rename", oldpath, true, () -> {
            Path from = resolve(oldpath);
            Path to = resolve(newpath);
            if ((flags & RENAME_EXCHANGE) != 0 || (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0) {
                return -Errnos.EINVAL;
            }
            if ((flags & RENAME_NOREPLACE) != 0) {
                // No REPLACE_EXISTING: NIO checks the target and fails with FileAlreadyExistsException.
                Files.move(from, to);
            } else {
                try {
                    // rename(2) semantics: replaces a file, or an empty directory, atomically.
                    Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            moveOpenPaths(oldpath, newpath);
            KernelCache k = kernelCache;
            if (k != null) {
                k.renamed(oldpath, newpath);
            }
            return 0;
        });
    }

    /**
     * {@code symlink(from, to)} as libfuse defines it: {@code target} is the link's content,
     * {@code linkPath} the FUSE path of the new link (jfuse's parameter names are the other way).
     */
    @Override
    public int symlink(String target, String linkPath) {
        return run("symlink", linkPath, true, () -> {
            Path link = resolve(linkPath);
            Files.createSymbolicLink(link, root.getFileSystem().getPath(target));
            adopt(link);
            return 0;
        });
    }

    @Override
    public int readlink(String path, ByteBuffer buf, long len) {
        return run("readlink", path, false, () -> {
            byte[] bytes = Files.readSymbolicLink(resolve(path)).toString().getBytes(StandardCharsets.UTF_8);
            int cap = (int) Math.min(len, buf.capacity());
            if (cap <= 0) {
                return -Errnos.EINVAL;
            }
            int n = Math.min(bytes.length, cap - 1);
            buf.put(0, bytes, 0, n);
            buf.put(n, (byte) 0);
            return 0;
        });
    }

    /**
     * {@code link(from, to)}: creates the hard link {@code newPath} to the existing
     * {@code existing}. Bound through {@link NativeFuse#bindLink} because jfuse 0.7.3 never binds
     * the slot.
     */
    @Override
    public int link(String existing, String newPath) {
        return run("link", newPath, true, () -> {
            Files.createLink(resolve(newPath), resolve(existing));
            return 0;
        });
    }

    /**
     * {@code mknod(path, mode, rdev)} as libfuse3 defines it (POSIX {@code mknod(2)}): a FIFO, a
     * UNIX-domain socket name or a device node, with the mode the kernel sends (it has applied the
     * caller's umask, and checked {@code CAP_MKNOD} for devices). A regular file ({@code S_IFREG},
     * which libfuse sends to {@code create} anyway) is created empty. Bound through
     * {@link NativeFuse#bindMknod}, because jfuse 0.7.3 never binds the slot.
     *
     * @param mode full {@code st_mode}
     * @param rdev device number ({@code dev_t}) of a device node
     * @return 0, {@code -EEXIST}, {@code -EACCES}, ..., or {@code -EPERM} when the served file
     *     system cannot hold special files
     */
    int mknod(String path, int mode, long rdev) {
        return run("mknod", path, true, () -> {
            Path p = resolve(path);
            int type = mode & S_IFMT;
            if (type == 0 || type == S_IFREG) {
                boolean oneStep = oneStep(mode);
                Files.createFile(p, createAttrs(initialFileMode(mode, oneStep)));
                finishNode(p, mode, oneStep);
                return 0;
            }
            if (!SpecialFiles.supported(p)) {
                return -Errnos.EPERM;
            }
            SpecialFiles.mknod(p, mode, rdev);
            adopt(p);
            return 0;
        });
    }

    /** jfuse's narrower signature, which jfuse never calls; see {@link #mknod(String, int, long)}. */
    @Override
    public int mknod(String path, short mode, int rdev) {
        return mknod(path, mode & 0xffff, rdev & 0xffffffffL);
    }

    // ---------------------------------------------------------------- files

    private static Set<OpenOption> openOptions(int flags) {
        Set<OpenOption> opts = new HashSet<>();
        int acc = flags & O_ACCMODE;
        if (acc == O_RDWR) {
            opts.add(StandardOpenOption.READ);
            opts.add(StandardOpenOption.WRITE);
        } else if (acc == O_WRONLY) {
            opts.add(StandardOpenOption.WRITE);
        } else {
            opts.add(StandardOpenOption.READ);
        }
        if ((flags & O_TRUNC) != 0 && acc != 0) {
            opts.add(StandardOpenOption.TRUNCATE_EXISTING);
        }
        if ((flags & O_SYNC) == O_SYNC) {
            opts.add(StandardOpenOption.SYNC);
        } else if ((flags & O_DSYNC) != 0) {
            opts.add(StandardOpenOption.DSYNC);
        }
        return opts;
    }

    @Override
    public int create(String path, int mode, FileInfo fi) {
        return run("create", path, true, () -> {
            Path p = resolve(path);
            int flags = fi.getFlags();
            boolean exclusive = (flags & O_EXCL) != 0;
            Set<OpenOption> opts = openOptions(flags);
            boolean writable = opts.contains(StandardOpenOption.WRITE);
            FileChannel ch;
            boolean oneStep = oneStep(mode);
            int initial = initialFileMode(mode, oneStep);
            if (writable) {
                opts.add(exclusive ? StandardOpenOption.CREATE_NEW : StandardOpenOption.CREATE);
                ch = FileChannel.open(p, opts, createAttrs(initial));
            } else {
                // NIO ignores CREATE for read-only channels: create first, then open.
                try {
                    Files.createFile(p, createAttrs(initial));
                } catch (FileAlreadyExistsException e) {
                    if (exclusive) {
                        throw e;
                    }
                }
                ch = FileChannel.open(p, opts);
            }
            try {
                finishNode(p, mode, oneStep);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
            fi.setFh(register(ch, (flags & O_APPEND) != 0, writable, path));
            return 0;
        });
    }

    @Override
    public int open(String path, FileInfo fi) {
        return run("open", path, false, () -> {
            int flags = fi.getFlags();
            Set<OpenOption> opts = openOptions(flags);
            boolean writable = opts.contains(StandardOpenOption.WRITE);
            if (writable && options.readOnly()) {
                return -Errnos.EROFS;
            }
            FileChannel ch = FileChannel.open(resolve(path), opts);
            fi.setFh(register(ch, (flags & O_APPEND) != 0, writable, path));
            return 0;
        });
    }

    @Override
    public int read(String path, ByteBuffer buf, long size, long offset, FileInfo fi) {
        return run("read", path, false, () -> {
            FileChannel ch = handle(fi).channel();
            buf.limit((int) Math.min(size, buf.capacity()));
            long pos = offset;
            while (buf.hasRemaining()) {
                int n = ch.read(buf, pos);
                if (n < 0) {
                    break;
                }
                pos += n;
            }
            return (int) (pos - offset);
        });
    }

    @Override
    public int write(String path, ByteBuffer buf, long size, long offset, FileInfo fi) {
        return run("write", path, true, () -> {
            Handle h = handle(fi);
            buf.limit((int) Math.min(size, buf.capacity()));
            int total = buf.remaining();
            if (h.append()) {
                synchronized (h) {
                    writeFully(h.channel(), buf, h.channel().size());
                }
            } else {
                writeFully(h.channel(), buf, offset);
            }
            return total;
        });
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
    }

    @Override
    public int truncate(String path, long size, FileInfo fi) {
        return run("truncate", path, true, () -> {
            if (size < 0) {
                return -Errnos.EINVAL;
            }
            Handle h = fi == null ? null : handles.get(fi.getFh());
            if (h != null && h.writable()) {
                setLength(h.channel(), size);
            } else {
                try (FileChannel ch = FileChannel.open(resolve(path), StandardOpenOption.WRITE)) {
                    setLength(ch, size);
                }
            }
            return 0;
        });
    }

    /** ftruncate(2): shrinks, or extends with a hole (NIO's truncate only shrinks). */
    private static void setLength(FileChannel ch, long size) throws IOException {
        long current = ch.size();
        if (size < current) {
            ch.truncate(size);
        } else if (size > current) {
            ch.write(ByteBuffer.allocate(1), size - 1);
        }
    }

    /**
     * {@code flush}, called on every {@code close(2)} of a descriptor: the data written through it
     * must be visible to every later {@code open}/{@code stat}/read on any client once close
     * returns (close-to-open consistency), and a write that failed is reported here, as
     * close(2)'s error. Where writes are visible once they return (the local disk), there is
     * nothing to wait for (and {@code force} would be an fsync). A file system that declares
     * {@link Capabilities#writeBehind} (Holdfast does) is forced: {@link FileChannel#force} is the
     * NIO call that waits for the writes sent behind, and on Holdfast it costs no more than that
     * wait, since a write is durable on a majority once it completes. {@code force(false)}: the
     * data, not attribute changes the file system wrote back (those are waited for by
     * {@code fsync} and by {@code release}, which the application does not wait for).
     */
    @Override
    public int flush(String path, FileInfo fi) {
        return run("flush", path, false, () -> {
            Handle h = fi == null ? null : handles.get(fi.getFh());
            if (h != null && h.writable() && writeBehind) {
                h.channel().force(false);
            }
            return 0;
        });
    }

    @Override
    public int fsync(String path, int datasync, FileInfo fi) {
        return run("fsync", path, false, () -> {
            handle(fi).channel().force(datasync == 0);
            return 0;
        });
    }

    /**
     * {@code fsync(2)} of a directory: on a Holdfast volume, a durability point for every change
     * made through this mount ({@link HoldfastFiles#sync}: the written-back unlinks, rmdirs and
     * attribute changes are committed, and one the volume refused is reported here). Other file
     * systems answer {@code ENOSYS}, as before (the kernel then stops asking).
     */
    @Override
    public int fsyncdir(String path, int datasync, FileInfo fi) {
        return run("fsyncdir", path, false, () -> {
            Path p = resolve(path);
            if (!HoldfastFiles.isHoldfast(p.getFileSystem())) {
                return -Errnos.ENOSYS;
            }
            HoldfastFiles.sync(p.getFileSystem());
            return 0;
        });
    }

    @Override
    public int release(String path, FileInfo fi) {
        return run("release", path, false, () -> {
            Handle h = fi == null ? null : handles.remove(fi.getFh());
            if (h != null) {
                h.channel().close();
            }
            return 0;
        });
    }

    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;

    /**
     * Linux {@code fallocate(2)} on an open file, bound through {@link NativeFuse#bindFallocate}
     * (jfuse 0.7.3 never binds the slot): {@link HoldfastFiles#fallocate} for a Holdfast channel,
     * {@code EOPNOTSUPP} otherwise. The kernel has already refused modes FUSE does not pass on.
     *
     * @param fh the handle from {@code open}/{@code create}, or -1
     * @return 0 or a negative errno ({@code EBADF} without a writable handle)
     */
    int fallocate(String path, int mode, long offset, long length, long fh) {
        return run("fallocate", path, true, () -> {
            Handle h = fh < 0 ? null : handles.get(fh);
            if (h == null || !h.writable()) {
                return -Errnos.EBADF;
            }
            if (!HoldfastFiles.isHoldfast(h.channel())) {
                return -Errnos.ENOTSUP;
            }
            HoldfastFiles.fallocate(h.channel(), mode, offset, length);
            return 0;
        });
    }

    /**
     * Linux {@code lseek(2)} {@code SEEK_DATA} / {@code SEEK_HOLE} on an open file, bound through
     * {@link NativeFuse#bindLseek}: {@link HoldfastFiles#seekData} / {@link HoldfastFiles#seekHole}
     * for a Holdfast channel; {@code ENOSYS} otherwise (the kernel then answers for the mount).
     *
     * @param fh the handle from {@code open}/{@code create}, or -1
     * @return the offset found, or a negative errno ({@code ENXIO} past the end or the last data)
     */
    long lseek(String path, long offset, int whence, long fh) {
        if (whence != SEEK_DATA && whence != SEEK_HOLE) {
            return -Errnos.EINVAL;
        }
        long[] found = new long[1];
        int rc = run("lseek", path, false, () -> {
            Handle h = fh < 0 ? null : handles.get(fh);
            if (h == null) {
                return -Errnos.EBADF;
            }
            if (!HoldfastFiles.isHoldfast(h.channel())) {
                return -Errnos.ENOSYS;
            }
            found[0] = whence == SEEK_DATA
                    ? HoldfastFiles.seekData(h.channel(), offset)
                    : HoldfastFiles.seekHole(h.channel(), offset);
            return 0;
        });
        return rc < 0 ? rc : found[0];
    }

    // ---------------------------------------------------------------- xattrs (user.* only)

    private UserDefinedFileAttributeView xattrView(Path p) {
        return Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
    }

    /** A {@code user.*} attribute of one file: its file's view and its name without the prefix. */
    private record UserXattr(UserDefinedFileAttributeView view, String name) {}

    /** The attribute {@code name} of {@code path}; null (ENOTSUP) if not user.* or no xattrs there. */
    private UserXattr userXattr(String path, String name) {
        if (!name.startsWith(XATTR_USER)) {
            return null;
        }
        UserDefinedFileAttributeView v = xattrView(resolve(path));
        if (v == null) {
            return null;
        }
        return new UserXattr(v, name.substring(XATTR_USER.length()));
    }

    @Override
    public int getxattr(String path, String name, ByteBuffer value) {
        return run("getxattr", path, false, () -> {
            UserXattr x = userXattr(path, name);
            if (x == null) {
                return -Errnos.ENOTSUP;
            }
            UserDefinedFileAttributeView v = x.view();
            String n = x.name();
            if (!v.list().contains(n)) {
                return -Errnos.ENODATA;
            }
            int size = v.size(n);
            if (value.capacity() == 0) {
                return size;
            }
            if (size > value.capacity()) {
                return -Errnos.ERANGE;
            }
            return v.read(n, value);
        });
    }

    @Override
    public int setxattr(String path, String name, ByteBuffer value, int flags) {
        return run("setxattr", path, true, () -> {
            UserXattr x = userXattr(path, name);
            if (x == null) {
                return -Errnos.ENOTSUP;
            }
            UserDefinedFileAttributeView v = x.view();
            String n = x.name();
            if ((flags & (XATTR_CREATE | XATTR_REPLACE)) != 0) {
                boolean exists = v.list().contains(n);
                if ((flags & XATTR_CREATE) != 0 && exists) {
                    return -Errnos.EEXIST;
                }
                if ((flags & XATTR_REPLACE) != 0 && !exists) {
                    return -Errnos.ENODATA;
                }
            }
            v.write(n, value);
            return 0;
        });
    }

    @Override
    public int listxattr(String path, ByteBuffer list) {
        return run("listxattr", path, false, () -> {
            UserDefinedFileAttributeView v = xattrView(resolve(path));
            if (v == null) {
                return 0;
            }
            List<String> names;
            try {
                names = v.list();
            } catch (UnsupportedOperationException e) {
                return 0;
            }
            ByteBuffer out = ByteBuffer.allocate(names.size() * 64 + 16);
            for (String n : names) {
                byte[] b = (XATTR_USER + n).getBytes(StandardCharsets.UTF_8);
                if (out.remaining() < b.length + 1) {
                    ByteBuffer bigger = ByteBuffer.allocate(out.capacity() * 2 + b.length + 1);
                    out.flip();
                    bigger.put(out);
                    out = bigger;
                }
                out.put(b).put((byte) 0);
            }
            int len = out.position();
            if (list.capacity() == 0) {
                return len;
            }
            if (len > list.capacity()) {
                return -Errnos.ERANGE;
            }
            list.put(0, out.array(), 0, len);
            return len;
        });
    }

    @Override
    public int removexattr(String path, String name) {
        return run("removexattr", path, true, () -> {
            UserXattr x = userXattr(path, name);
            if (x == null) {
                return -Errnos.ENOTSUP;
            }
            UserDefinedFileAttributeView v = x.view();
            String n = x.name();
            if (!v.list().contains(n)) {
                return -Errnos.ENODATA;
            }
            v.delete(n);
            return 0;
        });
    }

    // ---------------------------------------------------------------- helpers

    /** Real uid and gid of this process from {@code /proc/self/status}; {0, 0} if unknown. */
    static int[] processIds() {
        int[] ids = {0, 0};
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    ids[0] = Integer.parseInt(line.substring(4).trim().split("\\s+")[1]);
                } else if (line.startsWith("Gid:")) {
                    ids[1] = Integer.parseInt(line.substring(4).trim().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux or /proc not mounted: keep root as the synthesized owner
        }
        return ids;
    }
}
