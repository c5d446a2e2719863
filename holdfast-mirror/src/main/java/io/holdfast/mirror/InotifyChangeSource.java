package io.holdfast.mirror;

import io.holdfast.mirror.ChangeCaptureUnavailableException.Reason;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.Change.Kind;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The <b>fallback</b> change capture for a local directory tree, with Linux inotify (inotify(7)):
 * for where {@link FanotifyChangeSource} cannot work (not root, a kernel before 5.17, a file
 * system without file ids). Same feed, same contract ({@link #changes}, numbering, coalescing,
 * resynchronisation: see {@link FanotifyChangeSource}); the differences are what inotify costs.
 *
 * <ul>
 *   <li>One watch per directory, added for the whole tree at {@link #open} (a walk) and for each
 *       directory as it appears: a large tree needs {@code fs.inotify.max_user_watches} raised
 *       (refused with {@code ENOSPC} otherwise), and kernel memory per watch.
 *   <li>A directory made in the tree is watched only once its event is read: what was made inside
 *       it before that is found by walking it, and reported as CREATE/MKDIR after its MKDIR (once:
 *       its own IN_CREATE, if the walk raced it, is dropped).
 *   <li>Renames are two events paired by cookie ({@code IN_MOVED_FROM}, {@code IN_MOVED_TO}); a
 *       MOVED_FROM not followed by its MOVED_TO within one poll interval is a move out of the tree
 *       (UNLINK/RMDIR). A directory moved in is one MKDIR (its content is not reported one by one)
 *       and is then watched; a directory moved out stops being watched.
 *   <li>No inode numbers ({@link Change#inode()} is 0).
 *   <li>After a kernel queue overflow ({@code IN_Q_OVERFLOW}, a gap in the feed) the tree is walked
 *       again to watch directories made meanwhile.
 * </ul>
 *
 * <p>Needs no privilege. Thread safety: all methods may be called from any thread; nothing is
 * durable.
 */
public final class InotifyChangeSource implements LocalChangeSource {
    static final int POLL_MILLIS = FanotifyChangeSource.POLL_MILLIS;

    private static final System.Logger LOG = System.getLogger(InotifyChangeSource.class.getName());
    private static final int READ_BUFFER_BYTES = 256 * 1024;
    private static final int HEADER = 16;
    private static final int MAX_NAME = 4096;
    private static final int WATCH_MASK = NotifyNative.IN_CREATE
            | NotifyNative.IN_DELETE
            | NotifyNative.IN_MOVED_FROM
            | NotifyNative.IN_MOVED_TO
            | NotifyNative.IN_MODIFY
            | NotifyNative.IN_CLOSE_WRITE
            | NotifyNative.IN_ATTRIB
            | NotifyNative.IN_DELETE_SELF
            | NotifyNative.IN_MOVE_SELF
            | NotifyNative.IN_ONLYDIR
            | NotifyNative.IN_DONT_FOLLOW
            | NotifyNative.IN_EXCL_UNLINK;

    private final Path root;
    private final long epoch = new SecureRandom().nextLong();
    private final ChangeQueue queue;
    private final int fd;
    /** Watch descriptor to the directory's path relative to the root ("/" for the root). Reader thread only. */
    private final Map<Integer, String> watches = new HashMap<>();

    private final Thread reader;
    private volatile boolean closing;
    private volatile boolean held;
    private volatile boolean holding;
    private volatile long overflows;
    /** A MOVED_FROM waiting for its MOVED_TO: its event, or null. Reader thread only. */
    private RawEvent pendingFrom;

    /**
     * Entries a walk of a new directory reported whose own IN_CREATE may still be in the kernel's
     * queue (made after the directory's watch was added, before the walk listed them): that event is
     * then dropped, so each entry is reported once. Emptied whenever the queue has been read dry (a
     * poll interval without events), since every such event was queued before its walk. Reader
     * thread only.
     */
    private final Set<String> walked = new HashSet<>();

    /** Called with a new directory's path once its watch is added, before it is walked (for tests). */
    private volatile Consumer<String> afterWatch = path -> {};

    /** One {@code struct inotify_event}; {@code name} null for an event of the watched directory itself. */
    record RawEvent(int wd, int mask, int cookie, String name) {}

    private InotifyChangeSource(Path root, int capacity, InstantSource clock, int fd) {
        this.root = root;
        this.queue = new ChangeQueue(capacity, clock);
        this.fd = fd;
        this.reader = Thread.ofPlatform().name("inotify " + root).daemon().unstarted(this::readLoop);
    }

    /** Starts watching {@code root} with the default capacity and the system clock. */
    public static InotifyChangeSource open(Path root) throws IOException {
        return open(root, FanotifyChangeSource.DEFAULT_CAPACITY, Clock.systemUTC());
    }

    /**
     * Starts watching the directory tree at {@code root}: when this returns every directory in it
     * is watched and every later change captured.
     *
     * @param root an existing directory of the default file system
     * @param capacity most records kept in memory, at least 1
     * @param clock gives each record's time
     * @throws IllegalArgumentException if capacity is below 1
     * @throws NotDirectoryException if {@code root} is not a directory
     * @throws ChangeCaptureUnavailableException if inotify cannot work here (not Linux, native
     *     access denied, the limit of watches or instances reached: the message names the sysctl)
     * @throws IOException if the tree cannot be read
     */
    public static InotifyChangeSource open(Path root, int capacity, InstantSource clock) throws IOException {
        if (capacity < 1) {
            throw new IllegalArgumentException("change queue capacity " + capacity + ", must be at least 1");
        }
        Path real = root.toRealPath();
        if (!Files.isDirectory(real)) {
            throw new NotDirectoryException(root.toString());
        }
        NotifyNative.checkAvailable();
        int fd = NotifyNative.inotifyInit(NotifyNative.IN_NONBLOCK | NotifyNative.IN_CLOEXEC);
        if (fd < 0) {
            int errno = NotifyNative.lastErrno();
            throw new ChangeCaptureUnavailableException(
                    errno == NotifyNative.EMFILE ? Reason.REFUSED : Reason.KERNEL_TOO_OLD,
                    "inotify_init1 failed with " + NotifyNative.describe(errno)
                            + (errno == NotifyNative.EMFILE ? " (fs.inotify.max_user_instances)" : ""),
                    null);
        }
        InotifyChangeSource source = new InotifyChangeSource(real, capacity, clock, fd);
        try {
            source.watchTree("/", false);
        } catch (IOException | RuntimeException e) {
            NotifyNative.close(fd);
            throw e;
        }
        source.reader.start();
        return source;
    }

    @Override
    public Path root() {
        return root;
    }

    @Override
    public long epoch() {
        return epoch;
    }

    /** Stops reading the descriptor while {@code hold} is true, so the kernel's queue fills (for tests). */
    void holdReading(boolean hold) {
        held = hold;
    }

    /** Sets what runs once a new directory is watched and before it is walked (for tests). */
    void afterWatch(Consumer<String> hook) {
        afterWatch = hook;
    }

    /** Whether the reader thread is holding now ({@link #holdReading}). */
    boolean readingHeld() {
        return holding;
    }

    /** Kernel queue overflows seen so far. */
    public long overflows() {
        return overflows;
    }

    /** Directories watched now. Reader thread's view; for tests and diagnostics, approximate. */
    int watchCount() {
        synchronized (watches) {
            return watches.size();
        }
    }

    /**
     * The records after {@code afterIndex}: the contract of {@link FanotifyChangeSource#changes}
     * ({@link Request.Changes}, {@link Response.ChangePage}).
     *
     * @throws IllegalArgumentException if an argument is out of range
     * @throws IllegalStateException if the source was closed
     * @throws java.io.InterruptedIOException if interrupted while waiting
     * @throws IOException if capture broke (the root moved or removed, a read error)
     */
    @Override
    public Response.ChangePage changes(long afterIndex, int maxRecords, int waitMillis) throws IOException {
        return queue.changes(afterIndex, maxRecords, waitMillis);
    }

    /** Stops the reader thread (within about {@value #POLL_MILLIS} ms) and releases the descriptor. */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        queue.close();
        NotifyNative.joinUninterruptibly(reader);
        NotifyNative.close(fd);
    }

    private void readLoop() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(READ_BUFFER_BYTES, 8);
            while (!closing) {
                holding = held;
                if (holding) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
                    continue;
                }
                int ready = NotifyNative.pollIn(fd, POLL_MILLIS);
                if (ready < 0 && NotifyNative.lastErrno() != NotifyNative.EINTR) {
                    throw NotifyNative.failure("poll on the inotify descriptor", NotifyNative.lastErrno());
                }
                if (ready <= 0) {
                    flushPendingFrom(); // a MOVED_FROM alone for a whole interval: moved out
                    walked.clear(); // the queue was read dry: no walked entry's IN_CREATE is left in it
                    continue;
                }
                long n = NotifyNative.read(fd, buf);
                if (n < 0) {
                    int errno = NotifyNative.lastErrno();
                    if (errno == NotifyNative.EAGAIN || errno == NotifyNative.EINTR) {
                        continue;
                    }
                    throw NotifyNative.failure("read from the inotify descriptor", errno);
                }
                for (RawEvent e : decode(buf.asSlice(0, n).asByteBuffer())) {
                    handle(e);
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "inotify capture of " + root + " stopped", e);
            queue.fail(e);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "inotify capture of " + root + " broke", e);
            queue.fail(new IOException("inotify capture of " + root + " broke: " + e, e));
            throw e;
        }
    }

    /**
     * Decodes {@code struct inotify_event}s (inotify(7): {@code int wd; uint32_t mask, cookie, len;
     * char name[len]}, the name NUL-padded), checking every length against the buffer.
     */
    static List<RawEvent> decode(ByteBuffer buf) throws IOException {
        ByteBuffer b = buf.slice().order(ByteOrder.nativeOrder());
        List<RawEvent> out = new ArrayList<>();
        int at = 0;
        while (at < b.limit()) {
            if (b.limit() - at < HEADER) {
                throw new IOException("inotify read ends inside an event header");
            }
            int wd = b.getInt(at);
            int mask = b.getInt(at + 4);
            int cookie = b.getInt(at + 8);
            long len = Integer.toUnsignedLong(b.getInt(at + 12));
            if (len > MAX_NAME || len > b.limit() - at - HEADER) {
                throw new IOException("inotify event name of " + len + " bytes with " + (b.limit() - at) + " left");
            }
            String name = null;
            if (len > 0) {
                int end = at + HEADER;
                while (end < at + HEADER + len && b.get(end) != 0) {
                    end++;
                }
                byte[] bytes = new byte[end - at - HEADER];
                b.get(at + HEADER, bytes);
                name = new String(bytes, StandardCharsets.UTF_8);
            }
            out.add(new RawEvent(wd, mask, cookie, name));
            at += HEADER + (int) len;
        }
        return out;
    }

    private void handle(RawEvent e) throws IOException {
        if (pendingFrom != null) {
            RawEvent from = pendingFrom;
            pendingFrom = null;
            if ((e.mask() & NotifyNative.IN_MOVED_TO) != 0 && e.cookie() == from.cookie()) {
                renamed(from, e);
                return;
            }
            movedOut(from);
        }
        int mask = e.mask();
        if ((mask & NotifyNative.IN_Q_OVERFLOW) != 0) {
            overflows++;
            LOG.log(Level.WARNING, "inotify queue overflowed: events under " + root + " were lost");
            // directories made meanwhile are watched before a reader learns of the gap
            watchTree("/", false);
            walked.clear();
            queue.lost();
            return;
        }
        String dir;
        synchronized (watches) {
            dir = watches.get(e.wd());
        }
        if ((mask & NotifyNative.IN_IGNORED) != 0) {
            synchronized (watches) {
                watches.remove(e.wd());
            }
            return;
        }
        if (dir == null) {
            return; // a watch already dropped
        }
        boolean isDir = (mask & NotifyNative.IN_ISDIR) != 0;
        if (e.name() == null) {
            // the watched directory itself: only the root's own events count (the others are
            // reported by their parent's watch too)
            if (dir.equals("/")) {
                if ((mask & (NotifyNative.IN_DELETE_SELF | NotifyNative.IN_MOVE_SELF)) != 0) {
                    throw new IOException("the watched directory " + root + " was moved or removed");
                }
                if ((mask & NotifyNative.IN_ATTRIB) != 0) {
                    queue.append(Change.of(Kind.SETATTR, 0, "/"));
                }
            }
            return;
        }
        String path = join(dir, e.name());
        if ((mask & NotifyNative.IN_MOVED_FROM) != 0) {
            pendingFrom = e;
            return;
        }
        if ((mask & NotifyNative.IN_MOVED_TO) != 0) {
            // a move in from outside the tree
            if (isDir) {
                watchTree(path, false); // its content came with it: the MKDIR stands for all of it
            }
            queue.append(Change.of(isDir ? Kind.MKDIR : Kind.CREATE, 0, path));
            return;
        }
        if ((mask & (NotifyNative.IN_DELETE | NotifyNative.IN_MOVED_FROM)) != 0) {
            walked.remove(path); // a later IN_CREATE of the name is a new entry
        }
        if ((mask & NotifyNative.IN_CREATE) != 0 && !walked.remove(path)) {
            // watched before a reader can see the MKDIR, so nothing it then does inside is missed
            List<Change> found = isDir ? watchTree(path, true) : List.of();
            queue.append(Change.of(isDir ? Kind.MKDIR : Kind.CREATE, 0, path));
            found.forEach(c -> {
                walked.add(c.path());
                queue.append(c);
            });
        }
        if ((mask & (NotifyNative.IN_MODIFY | NotifyNative.IN_CLOSE_WRITE)) != 0 && !isDir) {
            queue.append(new Change(Kind.WRITE, 0, path, null, 0, 0));
        }
        if ((mask & NotifyNative.IN_ATTRIB) != 0) {
            queue.append(Change.of(Kind.SETATTR, 0, path));
        }
        if ((mask & NotifyNative.IN_DELETE) != 0) {
            if (isDir) {
                unwatch(path, false); // the kernel drops the watch itself (IN_IGNORED)
            }
            queue.append(Change.of(isDir ? Kind.RMDIR : Kind.UNLINK, 0, path));
        }
    }

    private void flushPendingFrom() {
        if (pendingFrom != null) {
            RawEvent from = pendingFrom;
            pendingFrom = null;
            movedOut(from);
        }
    }

    private void renamed(RawEvent from, RawEvent to) {
        String fromDir;
        String toDir;
        synchronized (watches) {
            fromDir = watches.get(from.wd());
            toDir = watches.get(to.wd());
        }
        if (fromDir == null || toDir == null) {
            return;
        }
        String oldPath = join(fromDir, from.name());
        String newPath = join(toDir, to.name());
        queue.append(new Change(Kind.RENAME, 0, newPath, oldPath, 0, 0));
        if ((from.mask() & NotifyNative.IN_ISDIR) != 0) {
            synchronized (watches) {
                String prefix = oldPath + "/";
                watches.replaceAll((wd, p) -> p.equals(oldPath)
                        ? newPath
                        : p.startsWith(prefix) ? newPath + p.substring(oldPath.length()) : p);
            }
        }
    }

    private void movedOut(RawEvent from) {
        String dir;
        synchronized (watches) {
            dir = watches.get(from.wd());
        }
        if (dir == null) {
            return;
        }
        String path = join(dir, from.name());
        boolean isDir = (from.mask() & NotifyNative.IN_ISDIR) != 0;
        if (isDir) {
            unwatch(path, true);
        }
        queue.append(Change.of(isDir ? Kind.RMDIR : Kind.UNLINK, 0, path));
    }

    /** Drops the watches of {@code path} and everything under it, removing them from the kernel too if asked. */
    private void unwatch(String path, boolean remove) {
        String prefix = path + "/";
        synchronized (watches) {
            var it = watches.entrySet().iterator();
            while (it.hasNext()) {
                var w = it.next();
                if (w.getValue().equals(path) || w.getValue().startsWith(prefix)) {
                    if (remove) {
                        NotifyNative.inotifyRmWatch(fd, w.getKey());
                    }
                    it.remove();
                }
            }
        }
    }

    /**
     * Watches the directory at {@code rel} and every directory under it.
     *
     * @param collect whether to list what is found
     * @return if {@code collect}, a CREATE or MKDIR for each entry found under it (made before its
     *     directory was watched), parents first; else nothing
     */
    private List<Change> watchTree(String rel, boolean collect) throws IOException {
        List<Change> found = new ArrayList<>();
        Path start = rel.equals("/") ? root : root.resolve(rel.substring(1));
        try {
            Files.walkFileTree(start, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                    String path = relative(dir);
                    int wd = NotifyNative.inotifyAddWatch(fd, dir.toString(), WATCH_MASK);
                    if (wd < 0) {
                        int errno = NotifyNative.lastErrno();
                        if (errno == NotifyNative.ENOENT || errno == NotifyNative.ENOTDIR) {
                            return FileVisitResult.SKIP_SUBTREE; // gone meanwhile: its removal is an event
                        }
                        throw watchFailure(dir, errno);
                    }
                    synchronized (watches) {
                        watches.put(wd, path);
                    }
                    if (collect && !dir.equals(start)) {
                        found.add(Change.of(Kind.MKDIR, 0, path));
                    }
                    if (collect) {
                        afterWatch.accept(path);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (collect) {
                        found.add(Change.of(Kind.CREATE, 0, relative(file)));
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE; // removed meanwhile
                    }
                    throw e;
                }
            });
        } catch (NoSuchFileException e) {
            // the directory went before it could be watched: its removal is an event of its parent
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return found;
    }

    private static ChangeCaptureUnavailableException watchFailure(Path dir, int errno) {
        String what = "inotify_add_watch " + dir + " failed with " + NotifyNative.describe(errno);
        return errno == NotifyNative.ENOSPC
                ? new ChangeCaptureUnavailableException(
                        Reason.REFUSED, what + ": one watch per directory, past fs.inotify.max_user_watches", null)
                : new ChangeCaptureUnavailableException(Reason.REFUSED, what, null);
    }

    private String relative(Path p) {
        Path r = root.relativize(p);
        return r.toString().isEmpty() ? "/" : "/" + r;
    }

    private static String join(String dir, String name) {
        return dir.equals("/") ? "/" + name : dir + "/" + name;
    }

    @Override
    public String toString() {
        return "InotifyChangeSource[" + root + ", epoch " + Long.toHexString(epoch) + ", last " + queue.lastIndex()
                + "]";
    }
}
