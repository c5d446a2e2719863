package io.holdfast.mirror;

import io.holdfast.mirror.ChangeCaptureUnavailableException.Reason;
import io.holdfast.mirror.FanotifyEvents.Event;
import io.holdfast.mirror.FanotifyEvents.Handle;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Captures the changes made in one local directory tree (not on Holdfast: a mail server's
 * {@code /var/mail}, say) with Linux fanotify, and offers them as a change feed of the same shape
 * as a Holdfast volume's ({@link Response.ChangePage} of {@link io.holdfast.protocol.ChangeRecord}s),
 * so one replication worker can tail either.
 *
 * <h2>How</h2>
 *
 * One fanotify group ({@code fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID
 * | FAN_REPORT_TARGET_FID)}) with <em>one</em> mark for the whole file system holding the root
 * ({@code fanotify_mark(FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CREATE | FAN_DELETE | FAN_RENAME |
 * FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ATTRIB | FAN_ONDIR)}): a tree of millions of directories needs
 * no watch per directory, and no directory created later is missed. {@code FAN_RENAME} (one event
 * with the old and the new name) is used instead of {@code FAN_MOVED_FROM}/{@code FAN_MOVED_TO},
 * which would need pairing. Specifications: fanotify(7), fanotify_init(2), fanotify_mark(2),
 * open_by_handle_at(2). A background thread reads the group (polling with a
 * {@value #POLL_MILLIS} ms timeout, so {@link #close()} is prompt), keeps the events inside the root
 * and appends them to a bounded queue, one {@link Change} per record:
 *
 * <table>
 *   <caption>Events and the changes they become</caption>
 *   <tr><th>event</th><th>change</th></tr>
 *   <tr><td>FAN_CREATE</td><td>CREATE, MKDIR with FAN_ONDIR (also for symbolic links, device
 *       nodes and hard links: fanotify does not tell them apart)</td></tr>
 *   <tr><td>FAN_DELETE</td><td>UNLINK, RMDIR with FAN_ONDIR</td></tr>
 *   <tr><td>FAN_RENAME</td><td>RENAME ({@code from} the old path, {@code path} the new) within the
 *       tree; CREATE/MKDIR of the new name for a move into the tree (a directory moved in is one
 *       MKDIR: what it holds is not reported entry by entry, a consumer copies all of it);
 *       UNLINK/RMDIR of the old name for a move out of it</td></tr>
 *   <tr><td>FAN_MODIFY, FAN_CLOSE_WRITE</td><td>WRITE, offset 0 and length 0: "the content
 *       changed" (fanotify gives no range); consecutive WRITEs of one path are coalesced into the
 *       newest (see below)</td></tr>
 *   <tr><td>FAN_ATTRIB</td><td>SETATTR (mode, owner, times, link count; also xattrs, which
 *       fanotify does not tell apart)</td></tr>
 *   <tr><td>FAN_Q_OVERFLOW</td><td>no change: a gap, see resynchronisation</td></tr>
 * </table>
 *
 * <p>Paths are relative to the root, written as absolute volume paths ("/a/b" for ROOT/a/b, "/" for
 * the root itself; names are decoded as UTF-8). {@link Change#inode()} is the inode number where
 * the file handle of the event's object encodes it (ext2/3/4, XFS, btrfs), else 0.
 *
 * <h2>Numbering, coalescing, resynchronisation</h2>
 *
 * Records are numbered 1, 2, 3... in the order the events were read; {@code timeNanos} is when the
 * batch holding the event was read (nanoseconds since the epoch). A WRITE of the same path as the
 * newest record, itself a WRITE, replaces it: the old record is removed and the new one takes the
 * next number, so numbers increase but need not be consecutive. The queue keeps at most
 * {@code capacity} records. A reader must resynchronise (compare the whole tree, then continue after
 * the page's {@code appliedIndex}) when {@link Response.ChangePage#resyncNeeded} says so, which
 * happens when it asks after a record already dropped, after a kernel queue overflow
 * ({@code FAN_Q_OVERFLOW}: events were lost; it takes a number of its own), or after a number this
 * instance never gave. <b>Numbers belong to one instance</b>: a new instance (the watcher restarted)
 * starts again at 1 and has a new random {@link #epoch()}; a reader that keeps its position across
 * restarts must keep the epoch with it and resynchronise when it differs. Changes made before
 * {@link #open} returned are not in the feed: a consumer makes its initial full copy after opening.
 *
 * <h2>Limits</h2>
 *
 * <ul>
 *   <li>Needs root (CAP_SYS_ADMIN for a file-system mark, CAP_DAC_READ_SEARCH for
 *       open_by_handle_at), Linux 5.17 or later, and a file system that reports file ids (ext4,
 *       XFS, btrfs top volume, tmpfs since 5.13; not FUSE).
 *   <li>One file system: a mount below the root (another file system) is not watched.
 *   <li>The mark sees the whole file system, so unrelated writers elsewhere cost reading time;
 *       their events are dropped.
 *   <li>Directory names are resolved at read time the first time a directory is seen
 *       ({@link EventTranslator}): a directory renamed after an event was queued but before it was
 *       read has the event attributed to its newer name. Directories created or renamed while
 *       watched are followed in event order.
 *   <li>The kernel merges an event into an earlier unread one for the same object and name
 *       (fanotify(7)); the merged changes are then reported at the earlier event's place, in the
 *       order create, write, attributes, delete.
 *   <li>Writes through {@code mmap} are not reported (fanotify(7), "Limitations and caveats").
 * </ul>
 *
 * <p>Thread safety: all methods may be called from any thread. Nothing is durable: the feed lives
 * in memory only.
 */
public final class FanotifyChangeSource implements LocalChangeSource {
    /** Records kept by default. */
    public static final int DEFAULT_CAPACITY = 65_536;
    /** How long the reader thread polls before looking whether it was closed, milliseconds. */
    static final int POLL_MILLIS = 100;
    /** Directory handles remembered by path. */
    static final int MAX_CACHED_DIRS = 100_000;

    private static final System.Logger LOG = System.getLogger(FanotifyChangeSource.class.getName());
    private static final int READ_BUFFER_BYTES = 256 * 1024;
    private static final int INIT_FLAGS = NotifyNative.FAN_CLOEXEC
            | NotifyNative.FAN_NONBLOCK
            | NotifyNative.FAN_CLASS_NOTIF
            | NotifyNative.FAN_REPORT_FID
            | NotifyNative.FAN_REPORT_DIR_FID
            | NotifyNative.FAN_REPORT_NAME
            | NotifyNative.FAN_REPORT_TARGET_FID;
    private static final long MASK = NotifyNative.FAN_CREATE
            | NotifyNative.FAN_DELETE
            | NotifyNative.FAN_RENAME
            | NotifyNative.FAN_MODIFY
            | NotifyNative.FAN_CLOSE_WRITE
            | NotifyNative.FAN_ATTRIB
            | NotifyNative.FAN_ONDIR;

    private final Path root;
    private final long epoch;
    private final ChangeQueue queue;
    private final int fanFd;
    private final int rootFd;
    private final EventTranslator translator;
    private final Thread reader;
    private volatile boolean closing;
    private volatile boolean held;
    private volatile boolean holding;
    private volatile long overflows;

    private FanotifyChangeSource(Path root, int capacity, InstantSource clock, int fanFd, int rootFd) {
        this.root = root;
        this.epoch = new SecureRandom().nextLong();
        this.queue = new ChangeQueue(capacity, clock);
        this.fanFd = fanFd;
        this.rootFd = rootFd;
        this.translator = new EventTranslator(root.toString(), this::resolve, MAX_CACHED_DIRS);
        this.reader = Thread.ofPlatform().name("fanotify " + root).daemon().unstarted(this::readLoop);
    }

    /**
     * Starts watching {@code root} with the {@link #DEFAULT_CAPACITY} and the system clock.
     *
     * @see #open(Path, int, InstantSource)
     */
    public static FanotifyChangeSource open(Path root) throws IOException {
        return open(root, DEFAULT_CAPACITY, Clock.systemUTC());
    }

    /**
     * Starts watching the directory tree at {@code root}: when this returns, every later change
     * in it is captured.
     *
     * @param root an existing directory of the default file system
     * @param capacity most records kept in memory, at least 1 (default {@link #DEFAULT_CAPACITY})
     * @param clock gives each record's time
     * @return the running source; close it to stop
     * @throws IllegalArgumentException if capacity is below 1
     * @throws NotDirectoryException if {@code root} is not a directory
     * @throws ChangeCaptureUnavailableException if fanotify cannot work here, with the reason (not
     *     Linux, not root, a kernel before 5.17, a file system without file ids, native access
     *     denied): fall back to another kind of capture
     * @throws IOException if {@code root} cannot be opened
     */
    public static FanotifyChangeSource open(Path root, int capacity, InstantSource clock) throws IOException {
        if (capacity < 1) {
            throw new IllegalArgumentException("change queue capacity " + capacity + ", must be at least 1");
        }
        Path real = root.toRealPath();
        if (!Files.isDirectory(real)) {
            throw new NotDirectoryException(root.toString());
        }
        NotifyNative.checkAvailable();
        int rootFd = NotifyNative.open(
                real.toString(), NotifyNative.O_RDONLY | NotifyNative.O_DIRECTORY | NotifyNative.O_CLOEXEC);
        if (rootFd < 0) {
            throw NotifyNative.failure("open " + real, NotifyNative.lastErrno());
        }
        int fanFd = -1;
        try {
            fanFd = NotifyNative.fanotifyInit(INIT_FLAGS, NotifyNative.O_RDONLY | NotifyNative.O_CLOEXEC);
            if (fanFd < 0) {
                throw initFailure(NotifyNative.lastErrno());
            }
            if (NotifyNative.fanotifyMark(
                            fanFd, NotifyNative.FAN_MARK_ADD | NotifyNative.FAN_MARK_FILESYSTEM, MASK, rootFd)
                    < 0) {
                throw markFailure(NotifyNative.lastErrno(), real);
            }
            FanotifyChangeSource source = new FanotifyChangeSource(real, capacity, clock, fanFd, rootFd);
            source.reader.start();
            return source;
        } catch (IOException | RuntimeException | Error e) {
            NotifyNative.close(fanFd);
            NotifyNative.close(rootFd);
            throw e;
        }
    }

    private static ChangeCaptureUnavailableException initFailure(int errno) {
        String what = "fanotify_init(FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID) failed with "
                + NotifyNative.describe(errno);
        return switch (errno) {
            case NotifyNative.EPERM ->
                new ChangeCaptureUnavailableException(
                        Reason.NO_PERMISSION, what + ": fanotify needs CAP_SYS_ADMIN (run as root)", null);
            case NotifyNative.EINVAL ->
                new ChangeCaptureUnavailableException(
                        Reason.KERNEL_TOO_OLD,
                        what + ": kernel " + System.getProperty("os.version")
                                + " lacks FAN_REPORT_TARGET_FID (needs Linux 5.17 or later)",
                        null);
            case NotifyNative.ENOSYS ->
                new ChangeCaptureUnavailableException(
                        Reason.KERNEL_TOO_OLD, what + ": the kernel was built without CONFIG_FANOTIFY", null);
            default -> new ChangeCaptureUnavailableException(Reason.REFUSED, what, null);
        };
    }

    private static ChangeCaptureUnavailableException markFailure(int errno, Path root) {
        String what = "fanotify_mark(FAN_MARK_FILESYSTEM) of " + root + " failed with " + NotifyNative.describe(errno);
        return switch (errno) {
            case NotifyNative.EPERM ->
                new ChangeCaptureUnavailableException(
                        Reason.NO_PERMISSION, what + ": a file system mark needs CAP_SYS_ADMIN (run as root)", null);
            case NotifyNative.ENODEV, NotifyNative.EOPNOTSUPP, NotifyNative.EXDEV ->
                new ChangeCaptureUnavailableException(
                        Reason.UNSUPPORTED_FILE_SYSTEM,
                        what + ": the file system holding it cannot report file ids (e.g. FUSE, a btrfs subvolume)",
                        null);
            case NotifyNative.EINVAL ->
                new ChangeCaptureUnavailableException(
                        Reason.KERNEL_TOO_OLD,
                        what + ": kernel " + System.getProperty("os.version")
                                + " lacks FAN_RENAME (needs Linux 5.17 or later)",
                        null);
            default -> new ChangeCaptureUnavailableException(Reason.REFUSED, what, null);
        };
    }

    @Override
    public Path root() {
        return root;
    }

    @Override
    public long epoch() {
        return epoch;
    }

    /**
     * Stops reading the fanotify descriptor while {@code hold} is true, so the kernel's queue fills
     * (for tests of its overflow). Takes effect within one poll interval.
     */
    void holdReading(boolean hold) {
        held = hold;
    }

    /** Whether the reader thread is holding now ({@link #holdReading}). */
    boolean readingHeld() {
        return holding;
    }

    /** Kernel queue overflows seen so far (each one a gap that forces readers to resynchronise). */
    public long overflows() {
        return overflows;
    }

    /**
     * The records after {@code afterIndex}, oldest first, with the contract of
     * {@link Request.Changes} and {@link Response.ChangePage}: {@code appliedIndex} is the newest
     * number given (record or gap), {@code trimmedThrough} the highest number a reader must have
     * passed not to resynchronise ({@link Response.ChangePage#resyncNeeded}); a position above
     * every number given (from an earlier instance) gets {@code trimmedThrough} above it.
     *
     * @param afterIndex the last number seen, 0 for the beginning
     * @param maxRecords most records, 1 to {@link Request.Changes#MAX_RECORDS}
     * @param waitMillis if there is no record after {@code afterIndex} yet, how long to block for
     *     one, 0 to {@link Request.Changes#MAX_WAIT_MILLIS} ms
     * @throws IllegalArgumentException if an argument is out of range
     * @throws IllegalStateException if the source was closed
     * @throws java.io.InterruptedIOException if interrupted while waiting
     * @throws IOException if capture broke (a read error, or the root itself was moved or removed):
     *     the message says what; open a new source
     */
    @Override
    public Response.ChangePage changes(long afterIndex, int maxRecords, int waitMillis) throws IOException {
        return queue.changes(afterIndex, maxRecords, waitMillis);
    }

    /** Stops the reader thread (within about {@value #POLL_MILLIS} ms) and releases the descriptors. */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        queue.close();
        NotifyNative.joinUninterruptibly(reader);
        NotifyNative.close(fanFd);
        NotifyNative.close(rootFd);
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
                int ready = NotifyNative.pollIn(fanFd, POLL_MILLIS);
                if (ready < 0 && NotifyNative.lastErrno() != NotifyNative.EINTR) {
                    throw NotifyNative.failure("poll on the fanotify descriptor", NotifyNative.lastErrno());
                }
                if (ready <= 0) {
                    continue;
                }
                long n = NotifyNative.read(fanFd, buf);
                if (n < 0) {
                    int errno = NotifyNative.lastErrno();
                    if (errno == NotifyNative.EAGAIN || errno == NotifyNative.EINTR) {
                        continue;
                    }
                    throw NotifyNative.failure("read from the fanotify descriptor", errno);
                }
                handle(FanotifyEvents.decode(buf.asSlice(0, n).asByteBuffer()));
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "fanotify capture of " + root + " stopped", e);
            queue.fail(e);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "fanotify capture of " + root + " broke", e);
            queue.fail(new IOException("fanotify capture of " + root + " broke: " + e, e));
            throw e;
        }
    }

    private void handle(List<Event> events) throws IOException {
        for (Event e : events) {
            if ((e.mask() & NotifyNative.FAN_Q_OVERFLOW) != 0) {
                overflows++;
                LOG.log(Level.WARNING, "fanotify queue overflowed: events under " + root + " were lost");
                queue.lost();
                continue;
            }
            for (Change c : translator.translate(e)) {
                queue.append(c);
            }
        }
    }

    /** The current absolute path of directory handle {@code h}, or null if it has none. */
    private String resolve(Handle h) {
        int fd = NotifyNative.openByHandle(rootFd, h.type(), h.bytes(), NotifyNative.O_PATH | NotifyNative.O_CLOEXEC);
        if (fd < 0) {
            return null; // ESTALE: removed
        }
        try {
            String path = NotifyNative.readlink("/proc/self/fd/" + fd);
            if (path == null || !path.startsWith("/") || path.endsWith(" (deleted)")) {
                return null;
            }
            return path;
        } finally {
            NotifyNative.close(fd);
        }
    }

    @Override
    public String toString() {
        return "FanotifyChangeSource[" + root + ", epoch " + Long.toHexString(epoch) + ", last " + queue.lastIndex()
                + "]";
    }
}
