package io.holdfast.client.nio;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.SpecialFileProvider;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Request.SetAttr;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.nio.file.spi.FileSystemProvider;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code holdfast://} file system provider: {@code holdfast://host:port/volume/path}.
 *
 * <p>{@code FileSystems.newFileSystem(URI.create("holdfast://host:port/volume"), env)} opens
 * a {@link HoldfastFileSystem} for the volume; {@code Path.of(URI)} then resolves URIs of that
 * volume. Environment keys:
 *
 * <ul>
 *   <li>{@value #ENV_VOLUME_SERVICE}: a {@link VolumeService} to use (tests, in-process tools);
 *       it stays open when the file system closes. Without it the provider calls
 *       {@link HoldfastClient#connect} and {@link HoldfastClient#volume}, and closes the client
 *       with the file system.
 *   <li>{@value #ENV_CALLER}: the default {@link Caller} of mutations (default: this process's
 *       uid and gid from {@code /proc/self}, else root).
 *   <li>{@value #ENV_UMASK}: umask applied to new files and directories without explicit
 *       permissions, an Integer or an octal String (default {@code 022}).
 *   <li>{@value #ENV_WRITE_WINDOW_BYTES} (default 8 MiB) and
 *       {@value #ENV_WRITE_WINDOW_REQUESTS} (default 64): the write-behind window of the
 *       file system.
 *   <li>{@value #ENV_CACHE}: Boolean or "true"/"false", whether the file system caches metadata
 *       under a read lease ({@link MetadataCache}, {@link LeaseKeeper}); default true. Only a
 *       service that offers leases ({@link VolumeService#leases()}: a long-lived client's) can.
 *   <li>{@value #ENV_COALESCE_BYTES} (default 256 KiB, at most the write window's bytes): a
 *       channel's writes smaller than this are kept and sent together with the sequential writes
 *       that follow, in one request of up to this many bytes, before anything that must see them
 *       (a read, {@code size}, {@code force}, {@code close}, any query the cache cannot answer, any
 *       mutation) or 20 ms later; 0 sends each write at once.
 *   <li>{@value #ENV_WRITE_BACK}: Boolean or "true"/"false", whether root's attribute changes
 *       ({@code chmod}, {@code chown}, {@code utimensat}) are written back while the cache holds its
 *       lease: answered at once from the cached attributes and sent in order, in batches, without
 *       waiting; a refused one is logged and reported by the next {@code force(true)} of a
 *       channel on that file (or its {@code close}, once known); default true.
 * </ul>
 *
 * <p>Follows the {@link FileSystemProvider} contract with the JDK's exception vocabulary:
 * {@link NoSuchFileException}, {@link FileAlreadyExistsException},
 * {@link java.nio.file.DirectoryNotEmptyException}, {@link AccessDeniedException},
 * {@link NotDirectoryException}, {@link NotLinkException}; other volume errors are
 * {@link ErrnoFileSystemException}s carrying the errno. When the volume cannot be reached or a
 * request's outcome is unknown, the client's {@link io.holdfast.common.HoldfastException} is
 * thrown as is. Every operation blocks until the volume answers, except channel writes (see
 * {@link HoldfastFileSystem}). An interrupted wait throws {@link java.io.InterruptedIOException}
 * (channels: {@link java.nio.channels.ClosedByInterruptException}); the request may still be
 * applied. Thread-safe.
 *
 * <p>Special files (FIFOs, character and block devices, UNIX-domain socket names) are inodes of
 * the volume with a type, mode and device number, but no data: NIO has no call to create one, so
 * this provider is a {@link SpecialFileProvider} ({@link #mknod}); their attributes read as the
 * JDK's do ({@code unix:mode} with the type bits, {@code unix:rdev},
 * {@link java.nio.file.attribute.BasicFileAttributes#isOther()}); opening one for reading or
 * writing fails with {@link Errno#ENXIO}, since the data of a FIFO, device or socket is the
 * business of the kernel of the host that opens it (through a FUSE mount) and never goes through
 * the volume.
 */
public final class HoldfastFileSystemProvider extends FileSystemProvider implements SpecialFileProvider {
    /** The URI scheme, {@code holdfast}. */
    public static final String SCHEME = "holdfast";
    /** Env key: a {@link VolumeService} to use instead of connecting. */
    public static final String ENV_VOLUME_SERVICE = "holdfast.volumeService";
    /** Env key: the default {@link Caller}. */
    public static final String ENV_CALLER = "holdfast.caller";
    /** Env key: the umask, Integer or octal String. */
    public static final String ENV_UMASK = "holdfast.umask";
    /** Env key: bytes of writes in flight per file system (default 8 MiB). */
    public static final String ENV_WRITE_WINDOW_BYTES = "holdfast.writeWindowBytes";
    /** Env key: write requests in flight per file system (default 64). */
    public static final String ENV_WRITE_WINDOW_REQUESTS = "holdfast.writeWindowRequests";

    /** Env key: whether to cache metadata under a read lease (default true). */
    public static final String ENV_CACHE = "holdfast.cache";

    /**
     * Env key: writes smaller than this many bytes are coalesced with the sequential writes after
     * them into one request (default 262144; 0 sends every write as it comes).
     */
    public static final String ENV_COALESCE_BYTES = "holdfast.coalesceBytes";

    /** Env key: whether to write back root's attribute changes (default true). */
    public static final String ENV_WRITE_BACK = "holdfast.writeBack";

    private static final int MAX_SYMLINKS = 40;

    private final Map<String, HoldfastFileSystem> fileSystems = new HashMap<>();

    /** Creates the provider; called by the service loader. */
    public HoldfastFileSystemProvider() {}

    @Override
    public String getScheme() {
        return SCHEME;
    }

    private record Target(String authority, String volume, String rest) {
        String key() {
            return authority + "/" + volume;
        }
    }

    private static Target parse(URI uri) {
        if (!SCHEME.equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("URI scheme is not '" + SCHEME + "': " + uri);
        }
        String authority = uri.getRawAuthority();
        String path = uri.getPath();
        if (authority == null || path == null || path.length() < 2 || path.charAt(0) != '/') {
            throw new IllegalArgumentException("expected holdfast://host:port/volume[/path]: " + uri);
        }
        int slash = path.indexOf('/', 1);
        String volume = slash < 0 ? path.substring(1) : path.substring(1, slash);
        String rest = slash < 0 ? "/" : path.substring(slash);
        if (volume.isEmpty()) {
            throw new IllegalArgumentException("no volume in " + uri);
        }
        return new Target(authority, volume, rest);
    }

    /**
     * Opens the volume named by {@code uri} ({@code holdfast://host:port/volume}).
     *
     * @throws FileSystemAlreadyExistsException if that volume is already open through this
     *     provider
     * @throws IllegalArgumentException for a malformed URI or env value
     * @throws IOException if the cluster cannot be reached or has no such volume
     */
    @Override
    public HoldfastFileSystem newFileSystem(URI uri, Map<String, ?> env) throws IOException {
        Target t = parse(uri);
        if (!t.rest().equals("/")) {
            throw new IllegalArgumentException("URI names a path inside the volume: " + uri);
        }
        synchronized (fileSystems) {
            if (fileSystems.containsKey(t.key())) {
                throw new FileSystemAlreadyExistsException(t.key());
            }
            Object s = env.get(ENV_VOLUME_SERVICE);
            HoldfastFileSystem fs;
            if (s != null) {
                if (!(s instanceof VolumeService vs)) {
                    throw new IllegalArgumentException(ENV_VOLUME_SERVICE + " must be a VolumeService");
                }
                fs = new HoldfastFileSystem(this, t.key(), t.authority(), t.volume(), vs, null, env);
            } else {
                if (uri.getHost() == null || uri.getPort() < 0) {
                    throw new IllegalArgumentException("expected holdfast://host:port/volume: " + uri);
                }
                HoldfastClient client = HoldfastClient.connect(uri.getHost(), uri.getPort(), env);
                try {
                    VolumeService vs = client.volume(t.volume());
                    fs = new HoldfastFileSystem(this, t.key(), t.authority(), t.volume(), vs, client, env);
                } catch (IOException | RuntimeException e) {
                    client.close();
                    throw e;
                }
            }
            fileSystems.put(t.key(), fs);
            return fs;
        }
    }

    /**
     * The open file system of the volume named by {@code uri}.
     *
     * @throws FileSystemNotFoundException if it is not open
     */
    @Override
    public HoldfastFileSystem getFileSystem(URI uri) {
        Target t = parse(uri);
        synchronized (fileSystems) {
            HoldfastFileSystem fs = fileSystems.get(t.key());
            if (fs == null) {
                throw new FileSystemNotFoundException(t.key());
            }
            return fs;
        }
    }

    void removed(HoldfastFileSystem fs) {
        synchronized (fileSystems) {
            fileSystems.remove(fs.key(), fs);
        }
    }

    /**
     * The path named by {@code uri} in an open volume.
     *
     * @throws FileSystemNotFoundException if the volume is not open
     */
    @Override
    public HoldfastPath getPath(URI uri) {
        Target t = parse(uri);
        return getFileSystem(uri).getPath(t.rest());
    }

    private static HoldfastPath check(Path p) {
        if (!(p instanceof HoldfastPath hp)) {
            throw new ProviderMismatchException("not a holdfast path: " + p);
        }
        return hp;
    }

    private static boolean follow(LinkOption... options) {
        for (LinkOption o : options) {
            if (o == LinkOption.NOFOLLOW_LINKS) {
                return false;
            }
        }
        return true;
    }

    // ---- primitives used by the other classes ---------------------------------------------

    /** One request on a path. */
    @FunctionalInterface
    interface PathOp {
        Response apply(String volumePath) throws IOException;
    }

    /** The reply to a request and the volume path it was sent with. */
    record Resolved(String volumePath, Response response) {}

    private static boolean notDirectory(Response r) {
        return r instanceof Response.Error e && e.errno() == Errno.ENOTDIR;
    }

    /**
     * Sends a request on {@code path}'s lexical volume path. Volumes do not follow symbolic
     * links in the directories of a path (they answer {@code ENOTDIR}); then the parent is
     * resolved here, link by link, and the request is sent once more.
     */
    Resolved onPath(HoldfastPath path, PathOp op) throws IOException {
        String vp = path.volumePath();
        Response r = op.apply(vp);
        if (notDirectory(r)) {
            String resolved = resolvedParent(path);
            if (!resolved.equals(vp)) {
                return new Resolved(resolved, op.apply(resolved));
            }
        }
        return new Resolved(vp, r);
    }

    /** The volume path of {@code path} with all links in its parent directories resolved. */
    String resolvedParent(HoldfastPath path) throws IOException {
        HoldfastFileSystem fs = path.getFileSystem();
        HoldfastPath lexical = fs.getPath(path.volumePath());
        HoldfastPath parent = lexical.getParent();
        if (parent == null) {
            return lexical.volumePath();
        }
        return realPath(parent).resolve(lexical.getFileName()).volumePath();
    }

    Attr stat(HoldfastPath path, boolean follow) throws IOException {
        HoldfastFileSystem fs = path.getFileSystem();
        return Errors.attr(
                onPath(path, vp -> fs.query(new Request.GetAttr(vp, follow))).response(), path.toString(), null);
    }

    /** Attributes (not following a final link) and the resolved path, or null if absent. */
    private Resolved lstatOrNull(HoldfastPath path) throws IOException {
        HoldfastFileSystem fs = path.getFileSystem();
        Resolved r = onPath(path, vp -> fs.query(new Request.GetAttr(vp, false)));
        if (r.response() instanceof Response.Error e && e.errno() == Errno.ENOENT) {
            return null;
        }
        Errors.attr(r.response(), path.toString(), null);
        return r;
    }

    /** The volume path attribute operations address: the link's target when following. */
    String attrTarget(HoldfastPath path, boolean follow) throws IOException {
        return resolveAttrTarget(path, follow).volumePath();
    }

    /**
     * The volume path attribute operations address and its attributes, or null attributes when
     * that is the target of a link followed (they were not read).
     */
    private record AttrTarget(String volumePath, Attr attr) {}

    private AttrTarget resolveAttrTarget(HoldfastPath path, boolean follow) throws IOException {
        HoldfastFileSystem fs = path.getFileSystem();
        Resolved r = onPath(path, vp -> fs.query(new Request.GetAttr(vp, false)));
        Attr a = Errors.attr(r.response(), path.toString(), null);
        return follow && a.type() == FileType.SYMLINK
                ? new AttrTarget(realPath(path).volumePath(), null)
                : new AttrTarget(r.volumePath(), a);
    }

    void setAttr(
            HoldfastPath path, boolean follow, int mask, int mode, int uid, int gid, long atimeNanos, long mtimeNanos)
            throws IOException {
        HoldfastFileSystem fs = path.getFileSystem();
        Caller caller = fs.currentCaller();
        if (fs.writesBack(caller)) {
            // a file being written (tar's futimens, fchown, fchmod after its writes): its attributes are
            // not cached until the writes are answered, but the file is known, and the change goes after
            // them in order: send it without waiting for them, and learn the attributes from its answer
            // (their stamped writes' attributes are predicted: then so are the change's)
            String vp = path.toAbsolutePath().volumePath();
            long writing = fs.inodeWithDataOnItsWay(vp);
            if (writing >= 0) {
                SetAttr m =
                        new SetAttr(caller, vp, mask, mode, uid, gid, atimeNanos, mtimeNanos, writing, clientNanos());
                Attr a = fs.attrOf(writing);
                fs.submitLater(m, a != null && predictable(a, mask) ? predict(a, m) : null);
                return;
            }
        }
        AttrTarget t = resolveAttrTarget(path, follow);
        Attr a = t.attr();
        if (a != null && fs.writesBack(caller) && predictable(a, mask)) {
            // root's change is refused only if the file is gone: answer now, send in order without waiting
            long now = clientNanos();
            SetAttr m =
                    new SetAttr(caller, t.volumePath(), mask, mode, uid, gid, atimeNanos, mtimeNanos, a.inode(), now);
            fs.submitLater(m, predict(a, m));
            return;
        }
        Errors.attr(
                fs.submit(new Request.SetAttr(caller, t.volumePath(), mask, mode, uid, gid, atimeNanos, mtimeNanos)),
                path.toString(),
                null);
    }

    /**
     * Whether {@link #predict} knows what root's change of {@code mask} does to a file that has
     * {@code a}: all but a change of owner of a set-user-ID or set-group-ID file (which may clear
     * those bits).
     */
    private static boolean predictable(Attr a, int mask) {
        return !(a.type() == FileType.FILE && (mask & (SetAttr.UID | SetAttr.GID)) != 0 && (a.mode() & 06000) != 0);
    }

    /** The attributes root's {@code m} gives a file that had {@code a} (the volume's rules, Namespace.setAttr). */
    static Attr predict(Attr a, SetAttr m) {
        int mask = m.mask();
        int mode = (mask & SetAttr.MODE) != 0 ? m.mode() & 07777 : a.mode();
        int uid = (mask & SetAttr.UID) != 0 ? m.uid() : a.uid();
        int gid = (mask & SetAttr.GID) != 0 ? m.gid() : a.gid();
        // the volume's rule, with the entry stamped at the client's time (within its bounds)
        long ctime = mask != 0 ? m.changeTime(a.ctimeNanos(), m.clientNanos()) : a.ctimeNanos();
        long atime =
                (mask & SetAttr.ATIME_NOW) != 0 ? ctime : (mask & SetAttr.ATIME) != 0 ? m.atimeNanos() : a.atimeNanos();
        long mtime =
                (mask & SetAttr.MTIME_NOW) != 0 ? ctime : (mask & SetAttr.MTIME) != 0 ? m.mtimeNanos() : a.mtimeNanos();
        return new Attr(a.inode(), a.type(), mode, a.nlink(), uid, gid, a.size(), atime, mtime, ctime, a.rdev());
    }

    private static long clientNanos() {
        return HoldfastFileSystem.clientNanos();
    }

    HoldfastPath realPath(HoldfastPath path, LinkOption... options) throws IOException {
        HoldfastFileSystem fs = path.getFileSystem();
        HoldfastPath abs = path.toAbsolutePath();
        if (!follow(options)) {
            return fs.getPath(attrTarget(abs, false));
        }
        abs.volumePath(); // checks the limits before the first request
        Deque<String> todo = new ArrayDeque<>(abs.names());
        List<String> done = new ArrayList<>();
        int links = 0;
        while (!todo.isEmpty()) {
            String n = todo.removeFirst();
            if (n.equals(".")) {
                continue;
            }
            if (n.equals("..")) {
                if (!done.isEmpty()) {
                    done.removeLast();
                }
                continue;
            }
            done.add(n);
            String vp = fs.getPath("/" + String.join("/", done)).volumePath();
            Attr a = Errors.attr(fs.query(new Request.GetAttr(vp, false)), path.toString(), null);
            if (a.type() == FileType.SYMLINK) {
                if (++links > MAX_SYMLINKS) {
                    throw new ErrnoFileSystemException(
                            path.toString(), null, Errno.ELOOP, "Too many levels of symbolic links");
                }
                String target = readLink(fs, vp, path.toString());
                done.removeLast();
                if (target.startsWith("/")) {
                    done.clear();
                }
                List<String> parts = fs.getPath(target).names();
                for (int i = parts.size() - 1; i >= 0; i--) {
                    todo.addFirst(parts.get(i));
                }
            } else if (!todo.isEmpty() && a.type() != FileType.DIRECTORY) {
                throw new NotDirectoryException(path.toString());
            }
        }
        if (done.isEmpty()) {
            stat(fs.root(), true);
        }
        return fs.getPath("/" + String.join("/", done));
    }

    private static String readLink(HoldfastFileSystem fs, String vp, String name) throws IOException {
        Response r = fs.query(new Request.ReadLink(vp));
        return switch (r) {
            case Response.Text t -> t.text();
            case Response.Error e when e.errno() == Errno.EINVAL -> throw new NotLinkException(name);
            case Response.Error e -> throw Errors.toException(e, name, null);
            default -> throw Errors.unexpected(r, name);
        };
    }

    static boolean canAccess(Attr a, Caller c, int bit) {
        if (c.uid() == 0) {
            return bit != 1 || a.isDirectory() || (a.mode() & 0111) != 0;
        }
        int shift = c.uid() == a.uid() ? 6 : c.inGroup(a.gid()) ? 3 : 0;
        return ((a.mode() >> shift) & bit) != 0;
    }

    // ---- channels -------------------------------------------------------------------------

    /**
     * Opens a channel with the JDK's {@link StandardOpenOption} semantics. {@code CREATE} and
     * {@code CREATE_NEW} apply only when writing; {@code SPARSE}, {@code SYNC} and {@code DSYNC}
     * are accepted ({@code force} gives durability).
     *
     * @throws NoSuchFileException if the file does not exist and is not to be created
     * @throws FileAlreadyExistsException with {@code CREATE_NEW} if it exists
     * @throws ErrnoFileSystemException {@code EISDIR} ("Is a directory") when opening a directory
     *     for writing; {@code ELOOP} when it is a symbolic link and {@code NOFOLLOW_LINKS} is set
     * @throws AccessDeniedException if the caller may not read or write the file
     * @throws IllegalArgumentException for {@code READ}+{@code APPEND} or
     *     {@code APPEND}+{@code TRUNCATE_EXISTING}
     * @throws UnsupportedOperationException for {@code DELETE_ON_CLOSE}, unknown options, or
     *     file attributes other than {@code posix:permissions}
     */
    @Override
    public FileChannel newFileChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
            throws IOException {
        HoldfastPath p = check(path);
        HoldfastFileSystem fs = p.getFileSystem();
        boolean read = false;
        boolean write = false;
        boolean append = false;
        boolean truncate = false;
        boolean create = false;
        boolean createNew = false;
        boolean nofollow = false;
        for (OpenOption o : options) {
            if (o == StandardOpenOption.READ) {
                read = true;
            } else if (o == StandardOpenOption.WRITE) {
                write = true;
            } else if (o == StandardOpenOption.APPEND) {
                append = true;
                write = true;
            } else if (o == StandardOpenOption.TRUNCATE_EXISTING) {
                truncate = true;
            } else if (o == StandardOpenOption.CREATE) {
                create = true;
            } else if (o == StandardOpenOption.CREATE_NEW) {
                createNew = true;
            } else if (o == LinkOption.NOFOLLOW_LINKS) {
                nofollow = true;
            } else if (o == StandardOpenOption.SPARSE
                    || o == StandardOpenOption.SYNC
                    || o == StandardOpenOption.DSYNC) {
                // accepted
            } else if (o == null) {
                throw new NullPointerException();
            } else {
                throw new UnsupportedOperationException(o + " not supported");
            }
        }
        if (!read && !write) {
            read = true;
        }
        if (append && read) {
            throw new IllegalArgumentException("READ + APPEND not allowed");
        }
        if (append && truncate) {
            throw new IllegalArgumentException("APPEND + TRUNCATE_EXISTING not allowed");
        }
        truncate &= write;
        createNew &= write;
        create &= write && !createNew;
        int mode = Attributes.modeFrom(attrs, 0666 & ~fs.umask());
        Caller caller = fs.currentCaller();
        String name = p.toString();
        Attr a = (createNew || create) ? writtenBackCreate(fs, p, caller, mode) : null;
        boolean created = a != null;
        if (created) {
            // root's create of a name the cache knows absent: answered now, numbered here
        } else if (createNew) {
            a = Errors.attr(
                    onPath(p, vp -> fs.submit(new Request.Create(caller, vp, mode, true)))
                            .response(),
                    name,
                    null);
            created = true;
        } else {
            boolean follow = !nofollow;
            Resolved r = onPath(p, vp -> fs.query(new Request.GetAttr(vp, follow)));
            if (r.response() instanceof Response.Error e && e.errno() == Errno.ENOENT) {
                if (!create) {
                    throw new NoSuchFileException(name);
                }
                a = Errors.attr(fs.submit(new Request.Create(caller, r.volumePath(), mode, false)), name, null);
                created = true;
            } else {
                a = Errors.attr(r.response(), name, null);
            }
        }
        if (a.type() == FileType.SYMLINK) {
            throw new ErrnoFileSystemException(
                    name, null, Errno.ELOOP, "Too many levels of symbolic links (NOFOLLOW_LINKS specified)");
        }
        if (a.type() == FileType.DIRECTORY && write) {
            throw new ErrnoFileSystemException(name, null, Errno.EISDIR, "Is a directory");
        }
        if (a.type().isSpecial()) {
            throw new ErrnoFileSystemException(
                    name,
                    null,
                    Errno.ENXIO,
                    "No such device or address: a special file (" + a.type() + ") holds no data in the volume");
        }
        if (!created && ((read && !canAccess(a, caller, 4)) || (write && !canAccess(a, caller, 2)))) {
            throw new AccessDeniedException(name);
        }
        long size = a.size();
        if (truncate && size > 0) {
            Errors.attr(fs.submit(new Request.Truncate(caller, a.inode(), 0)), name, null);
            size = 0;
        }
        HoldfastFileChannel ch = new HoldfastFileChannel(fs, name, a.inode(), size, caller, read, write, append);
        fs.opened(ch, a.inode());
        return ch;
    }

    /**
     * Writes back root's create of a file at {@code p} when the cache knows the name absent and holds
     * its directory's attributes (and every member applies log format 9): the file gets a number
     * from the client range and the client's time, and its attributes are told now.
     *
     * @return the new file's attributes, or null to create it synchronously
     */
    private static Attr writtenBackCreate(HoldfastFileSystem fs, HoldfastPath p, Caller caller, int mode)
            throws IOException {
        if (!fs.writesBackCreates(caller)) {
            return null;
        }
        String vp = p.volumePath();
        Attr parent = fs.cachedAttr(MetadataCache.parentOf(vp));
        if (parent == null || parent.type() != FileType.DIRECTORY || !fs.knownAbsent(vp)) {
            return null;
        }
        long now = clientNanos();
        long inode = HoldfastFileSystem.clientInode();
        // as the volume will answer it (Namespace.create): a set-group-ID directory lends its group
        int gid = (parent.mode() & 02000) != 0 ? parent.gid() : caller.gid();
        Attr predicted = new Attr(inode, FileType.FILE, mode & 07777, 1, caller.uid(), gid, 0, now, now, now, 0);
        return fs.submitLater(new Request.Create(caller, vp, mode, true, inode, now), predicted, parent)
                ? predicted
                : null;
    }

    /** As {@link #newFileChannel}. */
    @Override
    public SeekableByteChannel newByteChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
            throws IOException {
        return newFileChannel(path, options, attrs);
    }

    // ---- directories ----------------------------------------------------------------------

    /**
     * Lists a directory lazily, a page at a time.
     *
     * @throws NotDirectoryException if {@code dir} is not a directory
     * @throws NoSuchFileException if it does not exist
     */
    @Override
    public DirectoryStream<Path> newDirectoryStream(Path dir, DirectoryStream.Filter<? super Path> filter)
            throws IOException {
        HoldfastPath p = check(dir);
        HoldfastFileSystem fs = p.getFileSystem();
        String target = attrTarget(p, true);
        Response r = fs.query(new Request.ReadDir(target, "", HoldfastDirectoryStream.PAGE_ENTRIES));
        if (r instanceof Response.DirPage page) {
            return new HoldfastDirectoryStream(p, target, page, filter);
        }
        Errors.ok(r, p.toString(), null);
        throw Errors.unexpected(r, p.toString());
    }

    /**
     * Creates a directory with the given {@code posix:permissions}, else {@code 0777 & ~umask}.
     *
     * @throws FileAlreadyExistsException if the name exists
     * @throws NoSuchFileException if the parent does not exist
     */
    @Override
    public void createDirectory(Path dir, FileAttribute<?>... attrs) throws IOException {
        HoldfastPath p = check(dir);
        HoldfastFileSystem fs = p.getFileSystem();
        int mode = Attributes.modeFrom(attrs, 0777 & ~fs.umask());
        Caller caller = fs.currentCaller();
        Errors.attr(
                onPath(p, vp -> fs.submit(new Request.Mkdir(caller, vp, mode))).response(), p.toString(), null);
    }

    /**
     * Creates a special file, as POSIX {@code mknod(2)}: one replicated request, applied on every
     * member with the permission checks of file creation (device nodes need a root caller). The
     * mode is used as given, without the file system's umask (as {@link #createDirectory} uses
     * a {@code posix:permissions} attribute); the caller is the file system's current one.
     *
     * @param path a path of a Holdfast file system
     * @param mode full {@code st_mode}: {@code S_IFIFO}, {@code S_IFCHR}, {@code S_IFBLK} or
     *     {@code S_IFSOCK} type bits ({@code S_IFREG} or none: an empty regular file) and
     *     permission bits {@code 07777}
     * @param rdev device number of a character or block device (Linux {@code dev_t}); ignored for
     *     the other types
     * @throws FileAlreadyExistsException if the name exists
     * @throws NoSuchFileException if the parent does not exist
     * @throws AccessDeniedException if the caller may not write the parent, or is not root and
     *     asks for a device node
     * @throws ErrnoFileSystemException {@code EINVAL} for type bits naming no type (or a symbolic
     *     link), {@code EPERM} for a directory
     * @throws java.nio.file.ProviderMismatchException if {@code path} is not a Holdfast path
     */
    @Override
    public void mknod(Path path, int mode, long rdev) throws IOException {
        HoldfastPath p = check(path);
        HoldfastFileSystem fs = p.getFileSystem();
        Caller caller = fs.currentCaller();
        Errors.attr(
                onPath(p, vp -> fs.submit(new Request.Mknod(caller, vp, mode, rdev)))
                        .response(),
                p.toString(),
                null);
    }

    /**
     * Creates a symbolic link holding {@code target}'s string form.
     *
     * @throws FileAlreadyExistsException if {@code link} exists
     * @throws ErrnoFileSystemException {@code ENAMETOOLONG} if the target is longer than
     *     {@link Limits#PATH_MAX} bytes
     * @throws UnsupportedOperationException if file attributes are given
     */
    @Override
    public void createSymbolicLink(Path link, Path target, FileAttribute<?>... attrs) throws IOException {
        HoldfastPath p = check(link);
        check(target);
        if (attrs.length > 0) {
            throw new UnsupportedOperationException("Initial file attributes not supported for links");
        }
        HoldfastFileSystem fs = p.getFileSystem();
        Caller caller = fs.currentCaller();
        String text = target.toString();
        if (text.getBytes(StandardCharsets.UTF_8).length > Limits.PATH_MAX) {
            throw new ErrnoFileSystemException(p.toString(), null, Errno.ENAMETOOLONG, "File name too long");
        }
        Errors.ok(
                onPath(p, vp -> fs.submit(new Request.Symlink(caller, vp, text)))
                        .response(),
                p.toString(),
                null);
    }

    /**
     * Creates a hard link.
     *
     * @throws FileAlreadyExistsException if {@code link} exists
     * @throws NoSuchFileException if {@code existing} does not
     */
    @Override
    public void createLink(Path link, Path existing) throws IOException {
        HoldfastPath p = check(link);
        HoldfastPath e = check(existing);
        if (e.getFileSystem() != p.getFileSystem()) {
            throw new ErrnoFileSystemException(e.toString(), p.toString(), Errno.EXDEV, "Invalid cross-device link");
        }
        HoldfastFileSystem fs = p.getFileSystem();
        Caller caller = fs.currentCaller();
        Response r = fs.submit(new Request.Link(caller, e.volumePath(), p.volumePath()));
        if (notDirectory(r)) {
            r = fs.submit(new Request.Link(caller, resolvedParent(e), resolvedParent(p)));
        }
        if (r instanceof Response.Error err && err.errno() == Errno.EEXIST) {
            throw new FileAlreadyExistsException(p.toString());
        }
        if (r instanceof Response.Error err && err.errno() == Errno.ENOENT) {
            throw new NoSuchFileException(e.toString(), p.toString(), null);
        }
        Errors.ok(r, p.toString(), e.toString());
    }

    /**
     * Deletes a file, link or empty directory. A file open in this file system stays readable
     * through its channels until the last one closes. Root's unlink of a file not open here, and
     * root's rmdir of a directory the cache knows to be empty, are written back while the read
     * lease holds and every member applies log format 6: they return once queued, and one the
     * volume refuses (another client removed or replaced the name first, or filled the directory)
     * is logged and reported by the next {@code force(true)} of a channel on the inode, or by the
     * file system's {@code close}.
     *
     * @throws NoSuchFileException if it does not exist
     * @throws java.nio.file.DirectoryNotEmptyException if it is a non-empty directory
     */
    @Override
    public void delete(Path path) throws IOException {
        HoldfastPath p = check(path);
        HoldfastFileSystem fs = p.getFileSystem();
        String name = p.toString();
        Resolved resolved = onPath(p, v -> fs.query(new Request.GetAttr(v, false)));
        String vp = resolved.volumePath();
        Attr a = Errors.attr(resolved.response(), name, null);
        Caller caller = fs.currentCaller();
        if (a.isDirectory()) {
            if (fs.writesBackRemovals(caller) && fs.knownEmpty(vp)) {
                // root's rmdir of a directory known to be empty is refused only if another client
                // changed it meanwhile: answer now, send in order without waiting
                fs.submitLater(new Request.Rmdir(caller, vp, a.inode(), clientNanos()));
                return;
            }
            Errors.ok(fs.submit(new Request.Rmdir(caller, vp)), name, null);
            return;
        }
        boolean keep = a.type() == FileType.FILE && fs.isOpenInode(a.inode());
        if (!keep && fs.writesBackRemovals(caller)) {
            // root's unlink of the file the cache saw is refused only if the name changed meanwhile:
            // answer now, send in order without waiting (reported by the next fsync of the inode)
            fs.submitLater(new Request.Unlink(caller, vp, false, a.inode(), clientNanos()));
            return;
        }
        Response r = fs.submit(new Request.Unlink(caller, vp, keep));
        Errors.ok(r, name, null);
        if (keep && r instanceof Response.AttrReply after && after.attr().nlink() == 0 && !fs.markOrphaned(a.inode())) {
            // the last channel closed meanwhile: free the orphan ourselves
            Errors.ok(fs.submit(new Request.DropOrphan(caller, a.inode())), name, null);
        }
    }

    /** Reads a symbolic link's target. @throws NotLinkException if it is not a link */
    @Override
    public HoldfastPath readSymbolicLink(Path link) throws IOException {
        HoldfastPath p = check(link);
        HoldfastFileSystem fs = p.getFileSystem();
        return fs.getPath(readLink(fs, attrTarget(p, false), p.toString()));
    }

    // ---- copy, move -----------------------------------------------------------------------

    /**
     * Copies a file by streaming its bytes; a directory is copied as an empty directory, a
     * symbolic link (with {@code NOFOLLOW_LINKS}) as a link, a special file as a new special file
     * of the same type, mode and device number, as {@code cp -a} does (the JDK's provider would
     * open a FIFO and block reading it).
     *
     * @throws FileAlreadyExistsException if the target exists and {@code REPLACE_EXISTING} is
     *     not given
     * @throws java.nio.file.DirectoryNotEmptyException if the target to replace is a non-empty
     *     directory
     * @throws UnsupportedOperationException for {@code ATOMIC_MOVE} or unknown options
     */
    @Override
    public void copy(Path source, Path target, CopyOption... options) throws IOException {
        HoldfastPath s = check(source);
        HoldfastPath t = check(target);
        boolean replace = false;
        boolean copyAttrs = false;
        boolean follow = true;
        for (CopyOption o : options) {
            if (o == StandardCopyOption.REPLACE_EXISTING) {
                replace = true;
            } else if (o == StandardCopyOption.COPY_ATTRIBUTES) {
                copyAttrs = true;
            } else if (o == LinkOption.NOFOLLOW_LINKS) {
                follow = false;
            } else {
                throw new UnsupportedOperationException("Unsupported copy option " + o);
            }
        }
        copy(s, t, replace, copyAttrs, follow);
    }

    private void copy(HoldfastPath s, HoldfastPath t, boolean replace, boolean copyAttrs, boolean follow)
            throws IOException {
        HoldfastFileSystem sfs = s.getFileSystem();
        HoldfastFileSystem tfs = t.getFileSystem();
        Attr a = stat(s, follow);
        tfs.awaitWrites();
        Resolved found = lstatOrNull(t);
        Attr existing = found == null ? null : ((Response.AttrReply) found.response()).attr();
        if (existing != null) {
            if (sfs == tfs && existing.inode() == a.inode()) {
                return;
            }
            if (!replace) {
                throw new FileAlreadyExistsException(t.toString());
            }
            delete(t);
        }
        Caller caller = tfs.currentCaller();
        String tvp = resolvedParent(t);
        switch (a.type()) {
            case DIRECTORY -> Errors.attr(tfs.submit(new Request.Mkdir(caller, tvp, a.mode())), t.toString(), null);
            case SYMLINK ->
                Errors.ok(
                        tfs.submit(new Request.Symlink(caller, tvp, readLink(sfs, attrTarget(s, false), s.toString()))),
                        t.toString(),
                        null);
            // as cp -a copies a special file: a new node of the same type, mode and device
            case FIFO, CHARACTER_DEVICE, BLOCK_DEVICE, SOCKET ->
                Errors.attr(tfs.submit(new Request.Mknod(caller, tvp, a.stMode(), a.rdev())), t.toString(), null);
            case FILE -> {
                // created writable by its owner so the copy can be written, then given a's mode
                try (FileChannel in = newFileChannel(s, Set.of(StandardOpenOption.READ));
                        FileChannel out = newFileChannel(
                                t,
                                Set.of(StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW),
                                Attributes.asFileAttribute(a.mode() | 0600))) {
                    ByteBuffer buf = ByteBuffer.allocate(Limits.MAX_DATA_BYTES);
                    while (in.read(buf.clear()) >= 0) {
                        buf.flip();
                        while (buf.hasRemaining()) {
                            out.write(buf);
                        }
                    }
                }
            }
        }
        if (!copyAttrs && a.type() == FileType.FILE && (a.mode() & 0600) != 0600) {
            Errors.attr(
                    tfs.submit(new Request.SetAttr(caller, tvp, Request.SetAttr.MODE, a.mode(), 0, 0, 0, 0)),
                    t.toString(),
                    null);
        }
        if (copyAttrs && a.type() != FileType.SYMLINK) {
            int mask = Request.SetAttr.MODE | Request.SetAttr.ATIME | Request.SetAttr.MTIME;
            Errors.attr(
                    tfs.submit(new Request.SetAttr(caller, tvp, mask, a.mode(), 0, 0, a.atimeNanos(), a.mtimeNanos())),
                    t.toString(),
                    null);
        }
    }

    /**
     * Moves with one atomic rename. Without {@code REPLACE_EXISTING} (and without
     * {@code ATOMIC_MOVE}, which like the JDK's replaces) an existing target fails. Root's rename
     * of a file (not a directory) whose attributes the cache holds, to a name the cache knows to be
     * absent, is written back while the read lease holds and every member applies log format 8: it
     * returns once queued, and one the volume refuses (another client removed or replaced the
     * source first) is logged and reported by the next {@code force(true)} of a channel on the file,
     * or by the file system's {@code close}; {@link HoldfastFiles#sync} is its durability point.
     *
     * @throws FileAlreadyExistsException if the target exists and may not be replaced
     * @throws java.nio.file.DirectoryNotEmptyException if the target is a non-empty directory
     * @throws ErrnoFileSystemException {@code EINVAL} moving a directory into its own subtree
     * @throws AtomicMoveNotSupportedException for an atomic move between volumes
     */
    @Override
    public void move(Path source, Path target, CopyOption... options) throws IOException {
        HoldfastPath s = check(source);
        HoldfastPath t = check(target);
        boolean replace = false;
        boolean atomic = false;
        for (CopyOption o : options) {
            if (o == StandardCopyOption.REPLACE_EXISTING) {
                replace = true;
            } else if (o == StandardCopyOption.ATOMIC_MOVE) {
                atomic = true;
            } else if (o == LinkOption.NOFOLLOW_LINKS || o == StandardCopyOption.COPY_ATTRIBUTES) {
                // a rename keeps everything and never follows links
            } else {
                throw new UnsupportedOperationException("Unsupported copy option " + o);
            }
        }
        HoldfastFileSystem fs = s.getFileSystem();
        if (t.getFileSystem() != fs) {
            if (atomic) {
                throw new AtomicMoveNotSupportedException(s.toString(), t.toString(), "different volumes");
            }
            copy(s, t, replace, true, false);
            delete(s);
            return;
        }
        String svp = s.volumePath();
        String tvp = t.volumePath();
        if (svp.equals(tvp)) {
            stat(s, false);
            return;
        }
        int flags = (replace || atomic) ? 0 : Request.Rename.NOREPLACE;
        Caller caller = fs.currentCaller();
        if (fs.writesBackRenames(caller)) {
            // root's rename of a file the cache holds to a name it knows to be absent is refused only
            // if another client changed one of them meanwhile: answer now, send in order without
            // waiting (reported by the next fsync of the inode)
            Attr from = fs.cachedAttr(svp);
            if (from == null && fs.knownAbsent(tvp)) {
                // a write dropped the source's attributes and nothing asked since (a kernel that caches
                // names does not look the source up again before the rename): ask now, one query,
                // rather than send the rename alone, which, its inode not known here, drops the cache
                try {
                    stat(s, false);
                } catch (IOException gone) {
                    // the rename below reports it
                }
                from = fs.cachedAttr(svp);
            }
            if (from != null
                    && from.type() != FileType.DIRECTORY
                    && fs.knownAbsent(tvp)
                    && fs.submitLater(new Request.Rename(caller, svp, tvp, flags, from.inode(), clientNanos()), from)) {
                return;
            }
        }
        Response r = fs.submit(new Request.Rename(caller, svp, tvp, flags));
        if (notDirectory(r)) {
            String svp2 = resolvedParent(s);
            String tvp2 = resolvedParent(t);
            if (!svp2.equals(svp) || !tvp2.equals(tvp)) {
                r = fs.submit(new Request.Rename(caller, svp2, tvp2, flags));
            }
        }
        if (r instanceof Response.Error e) {
            throw switch (e.errno()) {
                case EEXIST -> new FileAlreadyExistsException(t.toString());
                case ENOTEMPTY -> new DirectoryNotEmptyException(t.toString());
                default -> Errors.toException(e, s.toString(), t.toString());
            };
        }
    }

    // ---- queries --------------------------------------------------------------------------

    @Override
    public boolean isSameFile(Path path, Path path2) throws IOException {
        HoldfastPath a = check(path);
        if (a.equals(path2)) {
            return true;
        }
        if (!(path2 instanceof HoldfastPath b) || b.getFileSystem() != a.getFileSystem()) {
            return false;
        }
        return stat(a, true).inode() == stat(b, true).inode();
    }

    /** Whether the file name starts with {@code .}. */
    @Override
    public boolean isHidden(Path path) {
        HoldfastPath p = check(path);
        HoldfastPath name = p.getFileName();
        return name != null && name.toString().startsWith(".");
    }

    /** The volume's file store. @throws NoSuchFileException if {@code path} does not exist */
    @Override
    public FileStore getFileStore(Path path) throws IOException {
        HoldfastPath p = check(path);
        stat(p, true);
        return p.getFileSystem().store();
    }

    /**
     * Checks existence and POSIX read/write/execute permission for the current caller (root may
     * read and write anything and execute what has an execute bit or is a directory).
     *
     * @throws NoSuchFileException if the file does not exist
     * @throws AccessDeniedException if a requested access is not permitted
     */
    @Override
    public void checkAccess(Path path, AccessMode... modes) throws IOException {
        HoldfastPath p = check(path);
        Attr a = stat(p, true);
        Caller c = p.getFileSystem().currentCaller();
        for (AccessMode m : modes) {
            int bit = switch (m) {
                case READ -> 4;
                case WRITE -> 2;
                case EXECUTE -> 1;
            };
            if (!canAccess(a, c, bit)) {
                throw new AccessDeniedException(p.toString());
            }
        }
    }

    @Override
    @SuppressWarnings("unchecked")
    public <V extends FileAttributeView> V getFileAttributeView(Path path, Class<V> type, LinkOption... options) {
        HoldfastPath p = check(path);
        if (type == UserDefinedFileAttributeView.class) {
            return (V) new UserView(this, p, follow(options));
        }
        String view = Attributes.viewName(type);
        return view == null ? null : (V) new Attributes.View(view, this, p, follow(options));
    }

    /**
     * Reads {@link BasicFileAttributes} or {@link PosixFileAttributes}.
     *
     * @throws UnsupportedOperationException for another type
     * @throws NoSuchFileException if the file does not exist
     */
    @Override
    @SuppressWarnings("unchecked")
    public <A extends BasicFileAttributes> A readAttributes(Path path, Class<A> type, LinkOption... options)
            throws IOException {
        HoldfastPath p = check(path);
        if (type != BasicFileAttributes.class && type != PosixFileAttributes.class) {
            throw new UnsupportedOperationException(type + " not supported");
        }
        return (A) new Attributes.HoldfastAttributes(
                stat(p, follow(options)), p.getFileSystem().principals());
    }

    /**
     * Reads attributes by name for the views basic, posix, owner, unix and user.
     *
     * @throws UnsupportedOperationException for an unknown view
     * @throws IllegalArgumentException for an unknown attribute name
     */
    @Override
    public Map<String, Object> readAttributes(Path path, String attributes, LinkOption... options) throws IOException {
        return Attributes.read(this, check(path), attributes, options);
    }

    /**
     * Sets one attribute: basic times ({@code creationTime} is ignored), posix
     * {@code permissions}/{@code owner}/{@code group}, unix {@code mode}/{@code uid}/{@code gid},
     * or a user attribute.
     *
     * @throws UnsupportedOperationException for an unknown view
     * @throws IllegalArgumentException for an unknown attribute name
     * @throws ClassCastException for a value of the wrong type
     */
    @Override
    public void setAttribute(Path path, String attribute, Object value, LinkOption... options) throws IOException {
        Attributes.set(this, check(path), attribute, value, options);
    }

    /**
     * Opening a file system from a path is not supported.
     *
     * @throws UnsupportedOperationException always
     */
    @Override
    public FileSystem newFileSystem(Path path, Map<String, ?> env) {
        throw new UnsupportedOperationException();
    }
}
