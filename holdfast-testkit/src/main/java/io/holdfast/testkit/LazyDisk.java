package io.holdfast.testkit;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.cryptomator.jfuse.api.DirFiller;
import org.cryptomator.jfuse.api.Errno;
import org.cryptomator.jfuse.api.FileInfo;
import org.cryptomator.jfuse.api.Fuse;
import org.cryptomator.jfuse.api.FuseBuilder;
import org.cryptomator.jfuse.api.FuseConfig;
import org.cryptomator.jfuse.api.FuseConnInfo;
import org.cryptomator.jfuse.api.FuseOperations;
import org.cryptomator.jfuse.api.Stat;
import org.cryptomator.jfuse.api.Statvfs;
import org.cryptomator.jfuse.api.TimeSpec;

/**
 * A FUSE file system with lazy durability, in the spirit of Lucene's MockDirectoryWrapper and
 * of lazyfs: a passthrough to a backing directory that keeps every file's written data in its
 * own memory (a page cache) until the file is fsynced, so that a simulated crash loses what
 * was not synced. It works below any program, native ones included (RocksDB), because it is a
 * file system. Run it in a process of its own ({@link #main}, driven by {@link LazyDiskMount}):
 * killing that process is the crash.
 *
 * <p><b>What is lazy.</b> File contents and sizes (writes, truncates, the implicit truncate of
 * {@code O_TRUNC}): held as dirty 4 KiB pages of the file (by its backing inode, so renames and
 * open descriptors keep them) until {@code fsync}/{@code fdatasync} of that file writes them to
 * the backing file and fsyncs it. Reads and {@code stat} see them. <b>What is not:</b> the
 * namespace (create, mkdir, rename, unlink, symlink) and attributes reach the backing directory
 * at once and are never lost, as if every directory were fsynced after each change; hard
 * links, xattrs and fallocate are not offered (ENOSYS).
 *
 * <p><b>Crash</b> (a command on standard input): {@code crash} halts the process at once, so
 * every unsynced page is lost; {@code crash-torn SEED} first writes a random subset (chosen by
 * SEED) of the dirty pages to the backing files, without fsync, as a kernel may have written
 * some of them back before the power went: a torn state. {@code stop}, or the end of input, syncs
 * every file and unmounts (a clean shutdown). The end of input alone may never come: a
 * {@code fusermount3} that any FUSE mount of the test's JVM forked inherits the write end of this
 * process's standard input and keeps it open.
 *
 * <p>Thread-safe: libfuse's multithreaded loop calls in from several threads; each file's
 * pages are guarded by its {@link Dirty} object.
 */
public final class LazyDisk implements FuseOperations {
    /** Printed on standard output once the mount serves requests. */
    static final String READY = "HOLDFAST-LAZY-DISK-READY";

    static final int PAGE = 4096;
    private static final List<String> LIBFUSE = List.of(
            "/usr/lib/x86_64-linux-gnu/libfuse3.so.3",
            "/lib/x86_64-linux-gnu/libfuse3.so.3",
            "/usr/lib64/libfuse3.so.3",
            "/usr/lib/libfuse3.so.3");
    private static final String UNIX_ATTRS = "unix:mode,uid,gid,size,nlink,ino,lastAccessTime,lastModifiedTime,ctime";
    private static final int O_ACCMODE = 3;
    private static final int O_APPEND = 02000;

    private final Path root;
    private final Errno errno;
    /** Dirty pages by backing file key ({@code (dev,ino)}). */
    private final Map<Object, Dirty> dirty = new ConcurrentHashMap<>();

    private final Map<Long, Handle> handles = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);

    LazyDisk(Path root, Errno errno) {
        this.root = root;
        this.errno = errno;
    }

    /**
     * A file's unsynced state: its logical size and the pages written since its last fsync,
     * with a descriptor of its own on the backing file (which follows renames and keeps the
     * inode, so its number is not reused while pages wait).
     */
    private static final class Dirty {
        final FileChannel channel;
        long size;
        /** Backing bytes at or past this offset are stale (truncated away since the last sync). */
        long floor;

        final TreeMap<Long, byte[]> pages = new TreeMap<>();
        boolean unlinked;
        /** Forgotten (synced, or unlinked and closed): the backing file has the truth; start a new one. */
        boolean dropped;

        Dirty(FileChannel channel) throws IOException {
            this.channel = channel;
            this.size = channel.size();
            this.floor = size;
        }
    }

    private record Handle(FileChannel channel, Object key, Path path, boolean append) {}

    // ---------------------------------------------------------------------------------------
    // The process

    /**
     * Mounts {@code args[0]} (the backing directory) at {@code args[1]} and serves it until
     * standard input ends or asks for a crash (see the class comment).
     *
     * @throws Exception if the mount fails
     */
    public static void main(String[] args) throws Exception {
        Path backing = Path.of(args[0]).toAbsolutePath();
        Path mountPoint = Path.of(args[1]).toAbsolutePath();
        FuseBuilder builder = Fuse.builder();
        builder.setLibraryPath(LIBFUSE.stream()
                .filter(p -> Files.isReadable(Path.of(p)))
                .findFirst()
                .orElseThrow(() -> new IOException("libfuse3.so.3 not found in " + LIBFUSE)));
        LazyDisk disk = new LazyDisk(backing, builder.errno());
        Fuse fuse = builder.build(disk);
        fuse.mount(
                "lazydisk",
                mountPoint,
                "-o",
                "fsname=lazydisk,subtype=holdfast-lazy,auto_unmount,default_permissions,"
                        + "attr_timeout=0,entry_timeout=0,negative_timeout=0");
        System.out.println(READY);
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.equals(NodeProcess.STOP)) {
            if (line.equals("crash")) {
                Runtime.getRuntime().halt(0);
            } else if (line.startsWith("crash-torn ")) {
                disk.tear(new Random(
                        Long.parseLong(line.substring("crash-torn ".length()).trim())));
                Runtime.getRuntime().halt(0);
            } else if (line.equals("dirty")) {
                System.out.println("dirty-pages " + disk.dirtyPages());
                System.out.flush();
            }
        }
        disk.syncAll();
        fuse.close();
        System.exit(0);
    }

    /** How many pages are unsynced now. */
    long dirtyPages() {
        long n = 0;
        for (Dirty d : dirty.values()) {
            synchronized (d) {
                n += d.pages.size();
            }
        }
        return n;
    }

    /** Writes a random subset of the dirty pages to their backing files, without fsync. */
    void tear(Random random) throws IOException {
        for (Dirty d : dirty.values()) {
            synchronized (d) {
                for (Map.Entry<Long, byte[]> page : d.pages.entrySet()) {
                    if (random.nextBoolean()) {
                        long at = page.getKey() * PAGE;
                        int n = (int) Math.min(PAGE, Math.max(0, d.size - at));
                        // a page may also reach the disk only in part
                        n = random.nextInt(4) == 0 ? random.nextInt(n + 1) : n;
                        d.channel.write(ByteBuffer.wrap(page.getValue(), 0, n), at);
                    }
                }
            }
        }
    }

    /** Syncs every dirty file (a clean shutdown). */
    void syncAll() throws IOException {
        for (Object key : List.copyOf(dirty.keySet())) {
            sync(key);
        }
    }

    // ---------------------------------------------------------------------------------------
    // FUSE operations

    @Override
    public Errno errno() {
        return errno;
    }

    @Override
    public Set<Operation> supportedOperations() {
        return EnumSet.of(
                Operation.INIT,
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
                Operation.ACCESS);
    }

    @Override
    public void init(FuseConnInfo conn, FuseConfig cfg) {
        conn.setMaxWrite(1 << 20);
    }

    private Path resolve(String path) {
        return path.equals("/") ? root : root.resolve(path.substring(1));
    }

    private interface Body {
        int run() throws IOException;
    }

    private int run(Body body) {
        try {
            return body.run();
        } catch (NoSuchFileException e) {
            return -errno.enoent();
        } catch (FileAlreadyExistsException e) {
            return -errno.eexist();
        } catch (DirectoryNotEmptyException e) {
            return -errno.enotempty();
        } catch (NotDirectoryException e) {
            return -errno.enotdir();
        } catch (AccessDeniedException e) {
            return -errno.eacces();
        } catch (IOException | RuntimeException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("Is a directory")) {
                return -errno.eisdir();
            }
            if (m.contains("Not a directory")) {
                return -errno.enotdir();
            }
            System.err.println("lazydisk: " + e);
            return -errno.eio();
        }
    }

    @Override
    public int getattr(String path, Stat stat, FileInfo fi) {
        return run(() -> {
            Path p = resolve(path);
            Map<String, Object> a = Files.readAttributes(p, UNIX_ATTRS, NOFOLLOW_LINKS);
            long size = ((Number) a.get("size")).longValue();
            Dirty d = dirty.get(
                    Files.readAttributes(p, "basic:fileKey", NOFOLLOW_LINKS).get("fileKey"));
            if (d != null) {
                synchronized (d) {
                    size = d.dropped ? size : d.size;
                }
            }
            stat.setMode(((Number) a.get("mode")).intValue());
            stat.setUid(((Number) a.get("uid")).intValue());
            stat.setGid(((Number) a.get("gid")).intValue());
            stat.setSize(size);
            stat.setNLink((short) Math.min(((Number) a.get("nlink")).longValue(), Short.MAX_VALUE));
            stat.aTime().set(((FileTime) a.get("lastAccessTime")).toInstant());
            stat.mTime().set(((FileTime) a.get("lastModifiedTime")).toInstant());
            stat.cTime().set(((FileTime) a.get("ctime")).toInstant());
            return 0;
        });
    }

    @Override
    public int readdir(String path, DirFiller filler, long offset, FileInfo fi, int flags) {
        return run(() -> {
            filler.fill(".", st -> {}, 0, 0);
            filler.fill("..", st -> {}, 0, 0);
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(resolve(path))) {
                for (Path child : ds) {
                    if (filler.fill(child.getFileName().toString(), st -> {}, 0, 0) != 0) {
                        return -errno.enomem();
                    }
                }
            }
            return 0;
        });
    }

    @Override
    public int mkdir(String path, int mode) {
        return run(() -> {
            Path p = resolve(path);
            Files.createDirectory(p);
            Files.setAttribute(p, "unix:mode", mode & 07777);
            return 0;
        });
    }

    @Override
    public int rmdir(String path) {
        return run(() -> {
            Files.delete(resolve(path));
            return 0;
        });
    }

    @Override
    public int unlink(String path) {
        return run(() -> {
            Path p = resolve(path);
            forgetIfLastLink(p);
            Files.delete(p);
            return 0;
        });
    }

    /**
     * Before {@code p}'s name goes away (unlink, or a rename over it): if it is the file's last
     * link, its dirty pages go when its last descriptor closes (its inode number may be reused).
     */
    private void forgetIfLastLink(Path p) throws IOException {
        Map<String, Object> a;
        try {
            a = Files.readAttributes(p, "unix:nlink,fileKey", NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if (((Number) a.get("nlink")).longValue() > 1) {
            return;
        }
        Object key = a.get("fileKey");
        Dirty d = dirty.get(key);
        if (d != null) {
            synchronized (d) {
                d.unlinked = true;
                if (openHandles(key) == 0) {
                    drop(key, d);
                }
            }
        }
    }

    private long openHandles(Object key) {
        return handles.values().stream().filter(h -> h.key().equals(key)).count();
    }

    /** Forgets a file's dirty state (synced, or unlinked and closed). Caller holds {@code d}. */
    private void drop(Object key, Dirty d) throws IOException {
        d.dropped = true;
        dirty.remove(key, d);
        d.channel.close();
    }

    /** A change to a file's dirty state, made under its lock. */
    private interface Change {
        void apply(Dirty d) throws IOException;
    }

    /** Applies {@code change} to the file's current dirty state (one not dropped meanwhile by a sync). */
    private void change(Handle h, Change change) throws IOException {
        while (true) {
            Dirty d = dirtyOf(h);
            synchronized (d) {
                if (!d.dropped) {
                    change.apply(d);
                    return;
                }
            }
        }
    }

    @Override
    public int rename(String oldpath, String newpath, int flags) {
        return run(() -> {
            if (flags != 0) {
                return -errno.einval();
            }
            Path to = resolve(newpath);
            if (Files.isRegularFile(to, NOFOLLOW_LINKS)) {
                forgetIfLastLink(to);
            }
            Files.move(resolve(oldpath), to, StandardCopyOption.ATOMIC_MOVE);
            return 0;
        });
    }

    @Override
    public int symlink(String target, String linkPath) {
        return run(() -> {
            Files.createSymbolicLink(resolve(linkPath), Path.of(target));
            return 0;
        });
    }

    @Override
    public int readlink(String path, ByteBuffer buf, long len) {
        return run(() -> {
            byte[] b = Files.readSymbolicLink(resolve(path)).toString().getBytes(StandardCharsets.UTF_8);
            int n = (int) Math.min(b.length, Math.min(len, buf.capacity()) - 1);
            buf.put(0, b, 0, n);
            buf.put(n, (byte) 0);
            return 0;
        });
    }

    @Override
    public int chmod(String path, int mode, FileInfo fi) {
        return run(() -> {
            Files.setAttribute(resolve(path), "unix:mode", mode & 07777);
            return 0;
        });
    }

    @Override
    public int chown(String path, int uid, int gid, FileInfo fi) {
        return run(() -> {
            Path p = resolve(path);
            if (uid != -1) {
                Files.setAttribute(p, "unix:uid", uid, NOFOLLOW_LINKS);
            }
            if (gid != -1) {
                Files.setAttribute(p, "unix:gid", gid, NOFOLLOW_LINKS);
            }
            return 0;
        });
    }

    @Override
    public int utimens(String path, TimeSpec atime, TimeSpec mtime, FileInfo fi) {
        return run(() -> {
            var view = Files.getFileAttributeView(resolve(path), BasicFileAttributeView.class, NOFOLLOW_LINKS);
            view.setTimes(
                    mtime.isUtimeOmit() ? null : FileTime.from(mtime.isUtimeNow() ? Instant.now() : mtime.get()),
                    atime.isUtimeOmit() ? null : FileTime.from(atime.isUtimeNow() ? Instant.now() : atime.get()),
                    null);
            return 0;
        });
    }

    @Override
    public int statfs(String path, Statvfs s) {
        return run(() -> {
            FileStore store = Files.getFileStore(root);
            long block = 4096;
            s.setBsize(block);
            s.setFrsize(block);
            s.setBlocks(store.getTotalSpace() / block);
            s.setBfree(store.getUnallocatedSpace() / block);
            s.setBavail(store.getUsableSpace() / block);
            s.setNameMax(255);
            return 0;
        });
    }

    @Override
    public int access(String path, int mask) {
        return run(() -> {
            Files.readAttributes(resolve(path), "basic:size", NOFOLLOW_LINKS);
            return 0;
        });
    }

    @Override
    public int create(String path, int mode, FileInfo fi) {
        return run(() -> {
            Path p = resolve(path);
            Set<PosixFilePermission> none = Set.of();
            Files.createFile(p, PosixFilePermissions.asFileAttribute(none));
            Files.setAttribute(p, "unix:mode", mode & 07777);
            return openHandle(p, fi);
        });
    }

    @Override
    public int open(String path, FileInfo fi) {
        return run(() -> openHandle(resolve(path), fi));
    }

    private int openHandle(Path p, FileInfo fi) throws IOException {
        if (Files.isDirectory(p)) {
            return -errno.eisdir();
        }
        fi.setFh(openInternal(p, (fi.getFlags() & O_APPEND) != 0 && (fi.getFlags() & O_ACCMODE) != 0));
        return 0;
    }

    /**
     * Opens the backing file for reading and writing whatever the flags ask (the kernel checks
     * permissions), never truncating: {@code O_TRUNC} comes as a separate, lazy, truncate.
     */
    private long openInternal(Path p, boolean append) throws IOException {
        FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            Object key = Files.readAttributes(p, "basic:fileKey").get("fileKey");
            long fh = nextFh.getAndIncrement();
            handles.put(fh, new Handle(ch, key, p, append));
            return fh;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private Handle handle(FileInfo fi) throws IOException {
        Handle h = fi == null ? null : handles.get(fi.getFh());
        if (h == null) {
            throw new IOException("bad file handle");
        }
        return h;
    }

    /** The file's dirty state, created on its first unsynced change. */
    private Dirty dirtyOf(Handle h) throws IOException {
        Dirty d = dirty.get(h.key());
        if (d != null) {
            return d;
        }
        Dirty created = new Dirty(FileChannel.open(h.path(), StandardOpenOption.READ, StandardOpenOption.WRITE));
        Dirty raced = dirty.putIfAbsent(h.key(), created);
        if (raced != null) {
            created.channel.close();
            return raced;
        }
        return created;
    }

    @Override
    public int read(String path, ByteBuffer buf, long size, long offset, FileInfo fi) {
        return run(() -> {
            Handle h = handle(fi);
            Dirty d = dirty.get(h.key());
            int want = (int) Math.min(size, buf.capacity());
            if (d != null) {
                synchronized (d) {
                    if (!d.dropped) {
                        int n = (int) Math.max(0, Math.min(want, d.size - offset));
                        byte[] out = new byte[n];
                        readLogical(h.channel(), d, offset, out);
                        buf.put(0, out, 0, n);
                        return n;
                    }
                }
            }
            {
                buf.limit(want);
                long pos = offset;
                while (buf.hasRemaining()) {
                    int n = h.channel().read(buf, pos);
                    if (n < 0) {
                        break;
                    }
                    pos += n;
                }
                return (int) (pos - offset);
            }
        });
    }

    /** Fills {@code out} with the file's logical bytes at {@code offset}. Caller holds {@code d}. */
    private static void readLogical(FileChannel ch, Dirty d, long offset, byte[] out) throws IOException {
        int done = 0;
        while (done < out.length) {
            long at = offset + done;
            long page = at / PAGE;
            int in = (int) (at % PAGE);
            int n = Math.min(out.length - done, PAGE - in);
            byte[] p = d.pages.get(page);
            if (p != null) {
                System.arraycopy(p, in, out, done, n);
            } else {
                readBacking(ch, d, at, out, done, n);
            }
            done += n;
        }
    }

    /** Backing bytes, as zeros past the floor (truncated away) or past the backing file's end. */
    private static void readBacking(FileChannel ch, Dirty d, long at, byte[] out, int off, int n) throws IOException {
        Arrays.fill(out, off, off + n, (byte) 0);
        int valid = (int) Math.max(0, Math.min(n, d.floor - at));
        ByteBuffer b = ByteBuffer.wrap(out, off, valid);
        long pos = at;
        while (b.hasRemaining()) {
            int r = ch.read(b, pos);
            if (r < 0) {
                break;
            }
            pos += r;
        }
    }

    @Override
    public int write(String path, ByteBuffer buf, long size, long offset, FileInfo fi) {
        return run(() -> {
            Handle h = handle(fi);
            int n = (int) Math.min(size, buf.capacity());
            byte[] data = new byte[n];
            buf.get(0, data, 0, n);
            change(h, d -> {
                long at = h.append() ? d.size : offset;
                int done = 0;
                while (done < n) {
                    long pos = at + done;
                    long page = pos / PAGE;
                    int in = (int) (pos % PAGE);
                    int k = Math.min(n - done, PAGE - in);
                    byte[] p = d.pages.get(page);
                    if (p == null) {
                        p = new byte[PAGE];
                        if (page * PAGE < d.size) {
                            readLogical(h.channel(), d, page * PAGE, p);
                        }
                        d.pages.put(page, p);
                    }
                    System.arraycopy(data, done, p, in, k);
                    done += k;
                }
                d.size = Math.max(d.size, at + n);
            });
            return n;
        });
    }

    @Override
    public int truncate(String path, long size, FileInfo fi) {
        return run(() -> {
            if (size < 0) {
                return -errno.einval();
            }
            Handle h = fi == null ? null : handles.get(fi.getFh());
            if (h == null) {
                // truncate(2) by name: through a descriptor of our own
                long fh = openInternal(resolve(path), false);
                try {
                    truncate(handles.get(fh), size);
                } finally {
                    releaseHandle(fh);
                }
                return 0;
            }
            truncate(h, size);
            return 0;
        });
    }

    private void truncate(Handle h, long size) throws IOException {
        change(h, d -> {
            if (size < d.size) {
                d.pages.tailMap(size / PAGE, false).clear();
                byte[] last = d.pages.get(size / PAGE);
                if (last != null) {
                    Arrays.fill(last, (int) (size % PAGE), PAGE, (byte) 0);
                } else if (size % PAGE != 0 && size < d.floor) {
                    // keep the part of the page below the new size, zero the rest
                    byte[] p = new byte[PAGE];
                    readLogical(h.channel(), d, size / PAGE * PAGE, p);
                    Arrays.fill(p, (int) (size % PAGE), PAGE, (byte) 0);
                    d.pages.put(size / PAGE, p);
                }
                d.floor = Math.min(d.floor, size);
            }
            d.size = size;
        });
    }

    @Override
    public int flush(String path, FileInfo fi) {
        return 0;
    }

    @Override
    public int fsync(String path, int datasync, FileInfo fi) {
        return run(() -> {
            sync(handle(fi).key());
            return 0;
        });
    }

    @Override
    public int fsyncdir(String path, int datasync, FileInfo fi) {
        return 0; // the namespace is durable at once
    }

    /** Writes the file's dirty pages and size to its backing file, fsyncs it, and forgets them. */
    private void sync(Object key) throws IOException {
        Dirty d = dirty.get(key);
        if (d == null) {
            return; // nothing unsynced: the backing file has every byte (and was synced when it was forgotten)
        }
        synchronized (d) {
            if (d.dropped) {
                return;
            }
            FileChannel ch = d.channel;
            if (d.floor < ch.size()) {
                ch.truncate(d.floor);
            }
            for (Map.Entry<Long, byte[]> e : d.pages.entrySet()) {
                long at = e.getKey() * PAGE;
                int n = (int) Math.min(PAGE, d.size - at);
                if (n > 0) {
                    ByteBuffer b = ByteBuffer.wrap(e.getValue(), 0, n);
                    long pos = at;
                    while (b.hasRemaining()) {
                        pos += ch.write(b, pos);
                    }
                }
            }
            if (ch.size() < d.size) {
                ch.write(ByteBuffer.allocate(1), d.size - 1);
            } else if (ch.size() > d.size) {
                ch.truncate(d.size);
            }
            ch.force(true);
            drop(key, d);
        }
    }

    @Override
    public int release(String path, FileInfo fi) {
        return run(() -> {
            releaseHandle(fi.getFh());
            return 0;
        });
    }

    private void releaseHandle(long fh) throws IOException {
        Handle h = handles.remove(fh);
        if (h == null) {
            return;
        }
        h.channel().close();
        Dirty d = dirty.get(h.key());
        if (d != null) {
            // a closed file keeps its dirty pages (the page cache outlives descriptors), unless gone
            synchronized (d) {
                if (d.unlinked && openHandles(h.key()) == 0) {
                    drop(h.key(), d);
                }
            }
        }
    }
}
