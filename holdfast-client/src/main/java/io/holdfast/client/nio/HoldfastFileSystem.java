package io.holdfast.client.nio;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.LogFormat;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.WatchService;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Holdfast volume seen as a {@link FileSystem}, created by
 * {@link HoldfastFileSystemProvider} for a URI {@code holdfast://host:port/volume}.
 *
 * <p><b>Credentials.</b> Mutations carry a {@link Caller}: the one bound by
 * {@link #withCaller} or {@link #bindCaller} on the current thread if any, else the file system's default (env key
 * {@code holdfast.caller}, else this process's uid and gid). A channel uses the caller that
 * was current when it was opened, as POSIX checks permissions at {@code open(2)}.
 *
 * <p><b>Write-behind.</b> Channel writes are sent asynchronously. Each file system has a
 * bounded window of writes in flight ({@code holdfast.writeWindowBytes}, default 8 MiB, and
 * {@code holdfast.writeWindowRequests}, default 64); a writer blocks while the window is full,
 * so memory stays bounded. Data is durable once {@code force()} or {@code close()} of the
 * channel returns; an asynchronous write failure is reported by the channel's next
 * {@code force}, {@code close}, {@code size} or read. Every other request (a query such as
 * {@code stat}, a read or a listing, and a mutation such as a rename, delete, attribute change or
 * truncation) first waits for the writes this file system began before it, so a client always
 * sees its own completed writes (close-to-open and read-your-writes).
 *
 * <p>Thread-safe. Follows the {@link java.nio.file.spi.FileSystemProvider} and
 * {@link FileSystem} contracts; {@link #newWatchService()} is not supported yet (the change
 * feed is not built).
 */
public final class HoldfastFileSystem extends FileSystem {
    private static final Logger LOG = LoggerFactory.getLogger(HoldfastFileSystem.class);
    /** Draws the inode numbers of written-back creates (unpredictable, so clients seldom meet). */
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Default of {@code holdfast.writeWindowBytes}: 8 MiB. */
    public static final long DEFAULT_WRITE_WINDOW_BYTES = 8L << 20;
    /** Default of {@code holdfast.writeWindowRequests}: 64. */
    public static final int DEFAULT_WRITE_WINDOW_REQUESTS = 64;
    /** Default of {@code holdfast.umask}: {@code 022}. */
    public static final int DEFAULT_UMASK = 022;

    private static final ThreadLocal<Caller> CALLER = new ThreadLocal<>();

    private final HoldfastFileSystemProvider provider;
    private final String key;
    private final String authority;
    private final String volume;
    private final VolumeService service;
    private final AutoCloseable owned;
    private final Caller defaultCaller;
    private final int umask;
    private final Semaphore windowBytes;
    private final Semaphore windowRequests;
    private final int maxChunkBytes;
    /** Writes smaller than this are coalesced ({@code holdfast.coalesceBytes}); 0: none. */
    private final int coalesceBytes;

    private final Inflight writes = new Inflight();
    /** Counts the mutations this file system has sent; a read-ahead window older than a change is dropped. */
    private final AtomicLong changes = new AtomicLong();

    private final HoldfastPath root;
    private final HoldfastFileStore store;
    private final UnixPrincipals principals = new UnixPrincipals();
    private final Set<HoldfastFileChannel> channels = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closing = new AtomicBoolean();
    /** Guarded by itself: open channel count and orphan flag per inode. */
    private final Map<Long, OpenInode> openInodes = new HashMap<>();

    private volatile boolean open = true;
    /**
     * Bound on read-ahead memory: permits for blocks of {@link Limits#MAX_DATA_BYTES} fetched ahead
     * of the reader, shared by every channel of this file system (64: 64 MiB).
     */
    static final int READ_AHEAD_BLOCKS = 64;

    /** Permits of {@link #READ_AHEAD_BLOCKS}, held by blocks fetched ahead and not yet dropped. */
    final Semaphore readAheadPermits = new Semaphore(READ_AHEAD_BLOCKS);

    /** Cached metadata under the read lease of {@link #leases}, or null (no lease offered, or turned off). */
    private final MetadataCache cache;

    private final LeaseKeeper leases;

    /** Whether attribute changes may be written back ({@code holdfast.writeBack}, default true). */
    private final boolean writeBack;
    /** Orders every send: write-back mutations queued before a mutation go before it. */
    private final ReentrantLock sendLock = new ReentrantLock();
    /** Written-back mutations not yet sent, oldest first; guarded by {@link #sendLock}. */
    private final List<Queued> queued = new ArrayList<>();
    /** The bytes of the paths {@link #queued} names; guarded by {@link #sendLock}. */
    private int queuedPathBytes;
    /**
     * Most path bytes one batch of written-back changes carries: half a frame, so that the batch
     * with the mutation sent with it (at most two paths of {@link Limits#VOLUME_PATH_MAX} bytes and
     * an extended attribute value) stays within {@link Limits#MAX_FRAME_BYTES}. Deep paths fill it
     * before {@link Request.Batch#MAX_MUTATIONS} do.
     */
    static final int BATCH_PATH_BYTES = Limits.MAX_FRAME_BYTES / 2;
    /**
     * How long a written-back change waits for company before it is sent, microseconds: the
     * changes made meanwhile and the next synchronous namespace change travel with it, in one log
     * entry (a tar file's utimens, chown and chmod go with the next file's create).
     */
    static final long LINGER_MICROS = 2_000;
    /**
     * Most written-back changes queued or sent and not yet answered (the write-back log's bound):
     * a change beyond it blocks its writer until an answer frees room. Counted apart from the
     * write window's requests ({@code holdfast.writeWindowRequests}): a batch of many changes is
     * one request. 4096 changes are 16 full batches ({@link Request.Batch#MAX_MUTATIONS}).
     */
    static final int WRITE_BACK_MAX_CHANGES = 4096;
    /**
     * Most batches of written-back changes sent and not yet answered before a lingering queue waits
     * for an answer instead of going as one more request (group commit: while the volume is slow to
     * answer, the changes made meanwhile travel together, in one log entry). A full batch, a
     * synchronous mutation and a durability point send the queue whatever is in flight. One: with
     * two, a tar file's owner, mode and times (queued while its {@code close} waited for the file's
     * create) lingered 2 ms, found only one batch in flight and went as a log entry of their own,
     * instead of with the next file's create (W2: 18,200 entries for 8,387 names; with one, 11,800).
     */
    static final int WRITE_BACK_MAX_BATCHES_IN_FLIGHT = 1;
    /** Whether a send of the queue is scheduled; guarded by {@link #sendLock}. */
    private boolean flushScheduled;
    /** Room for written-back changes: {@link #WRITE_BACK_MAX_CHANGES} permits, one per change until answered. */
    private final Semaphore writeBackRoom = new Semaphore(WRITE_BACK_MAX_CHANGES, true);
    /** Batches of written-back changes sent and not yet answered. */
    private final AtomicInteger batchesInFlight = new AtomicInteger();
    /** Whether a lingering queue waits for a batch's answer to be sent ({@link #lingerExpired}). */
    private final AtomicBoolean lingerDeferred = new AtomicBoolean();
    /** Sends the queue once its oldest change has waited {@link #LINGER_MICROS}. */
    private final ScheduledExecutorService sender = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "holdfast-write-back");
        t.setDaemon(true);
        return t;
    });
    /** Channels holding coalesced writes not sent yet. */
    private final Set<HoldfastFileChannel> buffering = ConcurrentHashMap.newKeySet();
    /** Whether a background send of the buffered writes is scheduled. */
    private final AtomicBoolean bufferFlushScheduled = new AtomicBoolean();
    /** How long coalesced writes wait at most before they are sent, microseconds: 20 ms. */
    static final long BUFFER_LINGER_MICROS = 20_000;

    /** Written-back changes not yet answered (data writes are in {@link #writes}). */
    private final Inflight writeBacks = new Inflight();
    /** Written-back changes not yet answered, by inode. */
    private final Map<Long, Integer> writeBackPending = new ConcurrentHashMap<>();
    /**
     * Inodes whose written-back create is not answered yet, with the create's ticket in
     * {@link #writeBacks} (what {@link #awaitCreated} waits for).
     */
    private final Map<Long, Long> createsPending = new ConcurrentHashMap<>();
    /** The first unreported failure of a written-back change, by inode. */
    private final Map<Long, IOException> writeBackFailures = new ConcurrentHashMap<>();
    /** Written-back changes the volume refused or whose outcome is unknown, since the start. */
    private final AtomicLong writeBackFailed = new AtomicLong();
    /** Changes written back, and the requests that carried them, since the start. */
    private final AtomicLong writtenBack = new AtomicLong();
    /** Set once a member did not know {@link Request.ReadDirPlus}: listings are plain from then on. */
    private volatile boolean listingsWithoutAttributes;

    private final AtomicLong writeBackRequests = new AtomicLong();

    private static final class OpenInode {
        int channels;
        boolean orphaned;
    }

    HoldfastFileSystem(
            HoldfastFileSystemProvider provider,
            String key,
            String authority,
            String volume,
            VolumeService service,
            AutoCloseable owned,
            Map<String, ?> env) {
        this.provider = provider;
        this.key = key;
        this.authority = authority;
        this.volume = volume;
        this.service = Objects.requireNonNull(service, "service");
        this.owned = owned;
        Object c = env.get(HoldfastFileSystemProvider.ENV_CALLER);
        if (c != null && !(c instanceof Caller)) {
            throw new IllegalArgumentException("holdfast.caller must be a Caller: " + c);
        }
        this.defaultCaller = c != null ? (Caller) c : UnixPrincipals.processCaller();
        this.umask = (int) longOption(env, HoldfastFileSystemProvider.ENV_UMASK, DEFAULT_UMASK, 0, 0777, 8);
        long bytes = longOption(
                env,
                HoldfastFileSystemProvider.ENV_WRITE_WINDOW_BYTES,
                DEFAULT_WRITE_WINDOW_BYTES,
                1,
                Integer.MAX_VALUE,
                10);
        int requests = (int) longOption(
                env,
                HoldfastFileSystemProvider.ENV_WRITE_WINDOW_REQUESTS,
                DEFAULT_WRITE_WINDOW_REQUESTS,
                1,
                Integer.MAX_VALUE,
                10);
        this.windowBytes = new Semaphore((int) bytes, true);
        this.windowRequests = new Semaphore(requests, true);
        this.maxChunkBytes = (int) Math.min(Limits.MAX_DATA_BYTES, bytes);
        this.coalesceBytes = (int) longOption(
                env,
                HoldfastFileSystemProvider.ENV_COALESCE_BYTES,
                HoldfastFileChannel.COALESCE_BYTES,
                0,
                maxChunkBytes,
                10);
        this.root = HoldfastPath.root(this);
        this.store = new HoldfastFileStore(this);
        Object writeBackOption = env.get(HoldfastFileSystemProvider.ENV_WRITE_BACK);
        this.writeBack = writeBackOption == null || Boolean.parseBoolean(writeBackOption.toString());
        Object cacheOption = env.get(HoldfastFileSystemProvider.ENV_CACHE);
        boolean wantCache = cacheOption == null || Boolean.parseBoolean(cacheOption.toString());
        VolumeService.LeaseChannel channel = wantCache ? service.leases() : null;
        if (channel != null) {
            // the cache first: the keeper's threads start in its constructor and may drop it at once
            LeaseKeeper[] keeper = new LeaseKeeper[1];
            MetadataCache made = new MetadataCache(() -> keeper[0].valid()); // asked only once built
            this.leases = keeper[0] = new LeaseKeeper(channel, made::clear, volume);
            this.cache = made;
        } else {
            this.leases = null;
            this.cache = null;
        }
    }

    private static long longOption(Map<String, ?> env, String name, long dflt, long min, long max, int radix) {
        Object v = env.get(name);
        if (v == null) {
            return dflt;
        }
        long n;
        if (v instanceof Number num) {
            n = num.longValue();
        } else {
            try {
                n = Long.parseLong(v.toString().trim(), radix);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " is not a number: " + v, e);
            }
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(name + " out of range [" + min + ", " + max + "]: " + v);
        }
        return n;
    }

    /**
     * Runs {@code op} on this thread with {@code caller} as the credentials of every mutation
     * it makes through any Holdfast file system, and of channels it opens. Bindings nest; the
     * innermost wins.
     *
     * @param caller the credentials
     * @param op the operations to run
     * @return what {@code op} returns
     * @throws X what {@code op} throws
     */
    public static <T, X extends Throwable> T withCaller(Caller caller, ScopedValue.CallableOp<T, X> op) throws X {
        try (CallerBinding b = bindCaller(caller)) {
            return op.call();
        }
    }

    /**
     * Binds {@code caller} to this thread until the returned binding is closed (on this same
     * thread); the previous binding, if any, is then restored. For adapters that bracket each
     * operation, e.g. the FUSE mount's {@code CallerScope}:
     * {@code caller -> HoldfastFileSystem.bindCaller(caller)::close}.
     *
     * @param caller the credentials for mutations and newly opened channels
     * @return the binding to close when the operation ends
     */
    public static CallerBinding bindCaller(Caller caller) {
        Objects.requireNonNull(caller, "caller");
        Caller previous = CALLER.get();
        CALLER.set(caller);
        return new CallerBinding(previous, Thread.currentThread());
    }

    /** A caller bound to a thread by {@link #bindCaller}; closing it restores the previous one. */
    public static final class CallerBinding implements AutoCloseable {
        private final Caller previous;
        private final Thread thread;
        private boolean closed;

        private CallerBinding(Caller previous, Thread thread) {
            this.previous = previous;
            this.thread = thread;
        }

        /**
         * Restores the binding that was current before; idempotent.
         *
         * @throws IllegalStateException if called from another thread than the one bound
         */
        @Override
        public void close() {
            if (Thread.currentThread() != thread) {
                throw new IllegalStateException("caller binding closed on another thread");
            }
            if (!closed) {
                closed = true;
                if (previous == null) {
                    CALLER.remove();
                } else {
                    CALLER.set(previous);
                }
            }
        }
    }

    /**
     * The caller of mutations made now on this thread: the one bound by {@link #withCaller} or
     * {@link #bindCaller}, else this file system's default.
     */
    public Caller currentCaller() {
        Caller c = CALLER.get();
        return c != null ? c : defaultCaller;
    }

    /** The volume's name. */
    public String volume() {
        return volume;
    }

    String authority() {
        return authority;
    }

    String key() {
        return key;
    }

    VolumeService service() {
        return service;
    }

    int umask() {
        return umask;
    }

    int maxChunkBytes() {
        return maxChunkBytes;
    }

    int coalesceBytes() {
        return coalesceBytes;
    }

    HoldfastPath root() {
        return root;
    }

    HoldfastFileStore store() {
        return store;
    }

    UnixPrincipals principals() {
        return principals;
    }

    void checkOpen() {
        if (!open) {
            throw new ClosedFileSystemException();
        }
    }

    // ---- requests ------------------------------------------------------------------------

    /**
     * Sends a mutation and waits for its answer. It does not wait for the writes sent before it:
     * the volume service applies one client's mutations in the order sent (the Raft client's
     * ordered stream; see {@link VolumeService#submit}), so a rename or chmod never overtakes the
     * data written before it, and they travel together in one round trip.
     */
    Response submit(Request.Mutation m) throws IOException {
        checkOpen();
        flushBuffered(); // a rename, truncate or chmod goes after the data written before it
        changes.incrementAndGet();
        if (cache == null) {
            return Errors.await(send(m));
        }
        MetadataCache.Change change = cache.begin(m);
        Response r = null;
        try {
            r = Errors.await(send(m));
            return r;
        } finally {
            cache.end(change, r); // answers to queries sent meanwhile may predate it
        }
    }

    /**
     * Sends {@code m} after the write-back mutations queued before it: in one batch with them when
     * it may travel in one (a small data write too, last, once every member reads
     * {@link LogFormat#WRITES_IN_BATCHES}: a file's written-back create and its bytes then cost one
     * log entry), else right behind them. Completes with {@code m}'s own answer.
     */
    private CompletableFuture<Response> send(Request.Mutation m) {
        sendLock.lock();
        try {
            if (queued.isEmpty()) {
                return service.submit(m);
            }
            if (!joinsBatch(m) || queued.size() >= Request.Batch.MAX_MUTATIONS) {
                sendQueued();
                return service.submit(m);
            }
            CompletableFuture<Response> mine = new CompletableFuture<>();
            sendQueued(m, mine);
            return mine;
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * Whether {@code m} may go last in a batch with the queue: a kind a batch holds, or a small data
     * write that fits the batch's byte budget ({@link #BATCH_PATH_BYTES}) once every member reads
     * batches that end with one. The caller holds {@link #sendLock}.
     */
    private boolean joinsBatch(Request.Mutation m) {
        if (m instanceof Request.Write w) {
            return Request.Batch.mayEnd(w)
                    && queuedPathBytes + w.data().length <= BATCH_PATH_BYTES
                    && service.logFormat() >= LogFormat.WRITES_IN_BATCHES;
        }
        return Request.Batch.batchable(m);
    }

    // ---- write-back ----------------------------------------------------------------------

    /**
     * Whether attribute changes by {@code caller} are written back (sent without waiting for the
     * answer): with a cache under a valid lease, for root, whose changes the volume refuses only if
     * the file is gone, and when every member of the volume applies batches (log format 3).
     */
    boolean writesBack(Caller caller) {
        return writeBack
                && cache != null
                && leases.valid()
                && caller.uid() == 0
                && service.logFormat() >= LogFormat.BATCHES; // every member applies batches
    }

    /**
     * Whether writes by {@code caller} are stamped at the client's time, so that the cache predicts
     * the attributes they leave (a file's size and times while its writes are on their way, which
     * tar's {@code futimens} and the {@code stat} libfuse makes after it need): when attribute
     * changes are written back ({@link #writesBack}) and every member of the volume reads log format
     * 11 ({@link LogFormat#WRITES_IN_BATCHES}).
     */
    boolean stampsWrites(Caller caller) {
        return writesBack(caller) && service.logFormat() >= LogFormat.WRITES_IN_BATCHES;
    }

    /**
     * Predicts the attributes a write of bytes up to {@code end} stamped {@code clientNanos} leaves
     * {@code inode} with ({@link MetadataCache#predictWrite}); call before its change begins.
     */
    void predictWrite(long inode, long end, long clientNanos, Caller caller) {
        if (cache != null) {
            cache.predictWrite(inode, end, clientNanos, caller);
        }
    }

    /**
     * The attributes predicted for {@code inode} while this file system's stamped writes to it are
     * on their way, or cached for it, or null ({@link MetadataCache#attrOf}).
     */
    Attr attrOf(long inode) {
        return cache == null ? null : cache.attrOf(inode);
    }

    /**
     * The client's clock for a written-back change or a stamped write, epoch nanoseconds; never 0,
     * which a request reads as "no client time".
     */
    static long clientNanos() {
        Instant now = Instant.now();
        return Math.max(now.getEpochSecond() * 1_000_000_000L + now.getNano(), 1);
    }

    /**
     * Writes back an attribute change: the cache takes {@code predicted} as the file's attributes
     * at once and the change is queued, to be sent in order with this file system's other
     * mutations (in one batch with those queued beside it) without waiting for the answer. A
     * change the volume refuses is logged, drops the prediction, and is reported by the next
     * {@code force(true)} of a channel on that inode (see {@link #writeBackDurable}), or by a
     * {@code close} once known ({@link #writeBackFailed}).
     * Blocks while {@link #WRITE_BACK_MAX_CHANGES} changes are queued or unanswered.
     *
     * @param m the change, naming the inode it expects and the client time it was made at
     * @param predicted the attributes the volume will answer if it applies {@code m} as expected, or
     *     null if they are not known (data changes on their way): the cache then learns them from
     *     the answer
     * @throws InterruptedIOException if interrupted while waiting for room in the write-back log
     */
    void submitLater(Request.SetAttr m, Attr predicted) throws IOException {
        enqueue(
                m,
                m.path(),
                m.expectInode(),
                () -> predicted != null ? cache.beginSetAttr(m, predicted) : cache.begin(m));
    }

    /**
     * The inode that volume path {@code path} names while this file system's data changes to it
     * are on their way (its attributes are then not cached), or -1 (see
     * {@link MetadataCache#inodeWithDataOnItsWay}).
     */
    long inodeWithDataOnItsWay(String path) {
        return cache == null ? -1 : cache.inodeWithDataOnItsWay(path);
    }

    /**
     * Whether unlinks and rmdirs by {@code caller} are written back: as attribute changes
     * ({@link #writesBack}), and when every member of the volume applies removals naming the inode
     * they expect (log format 6).
     */
    boolean writesBackRemovals(Caller caller) {
        return writesBack(caller) && service.logFormat() >= LogFormat.WRITE_BACK_REMOVALS;
    }

    /** Whether the cache knows that the directory at volume path {@code path} has no names. */
    boolean knownEmpty(String path) {
        return cache != null && cache.isEmpty(path);
    }

    /**
     * Writes back an unlink: the cache takes the name as gone and its directory's new times at
     * once ({@link MetadataCache#beginUnlink}) and the unlink is queued, to be sent in order with
     * this file system's other mutations without waiting for the answer, as {@link #submitLater}
     * does. One the volume refuses (the name was removed, or names another file now) is logged,
     * drops what the cache took, and is reported by the next {@code force(true)} of a channel on
     * the inode it named, or by this file system's {@code close}.
     * Blocks while {@link #WRITE_BACK_MAX_CHANGES} changes are queued or unanswered.
     *
     * @param m the unlink, naming the inode it expects and the client time it was made at
     * @throws InterruptedIOException if interrupted while waiting for room in the write-back log
     */
    void submitLater(Request.Unlink m) throws IOException {
        enqueue(m, m.path(), m.expectInode(), () -> cache.beginUnlink(m));
    }

    /**
     * Writes back an rmdir of a directory the cache knows to be empty, as {@link
     * #submitLater(Request.Unlink)} does an unlink ({@link MetadataCache#beginRmdir}).
     *
     * @param m the rmdir, naming the inode it expects and the client time it was made at
     * @throws InterruptedIOException if interrupted while waiting for room in the write-back log
     */
    void submitLater(Request.Rmdir m) throws IOException {
        enqueue(m, m.path(), m.expectInode(), () -> cache.beginRmdir(m));
    }

    /**
     * Whether renames by {@code caller} are written back: as attribute changes ({@link #writesBack}),
     * and when every member of the volume applies renames naming the inode they expect to move (log
     * format 8).
     */
    boolean writesBackRenames(Caller caller) {
        return writesBack(caller) && service.logFormat() >= LogFormat.WRITE_BACK_RENAMES;
    }

    /** The attributes the cache holds for volume path {@code path} (not following a link), or null. */
    Attr cachedAttr(String path) {
        return cache != null && cache.get(new Request.GetAttr(path, false)) instanceof Response.AttrReply a
                ? a.attr()
                : null;
    }

    /** Whether the cache knows that volume path {@code path} does not exist ({@link MetadataCache#knownAbsent}). */
    boolean knownAbsent(String path) {
        return cache != null && cache.knownAbsent(path);
    }

    /**
     * Writes back a rename of a file (not a directory) whose attributes the cache holds, to a name
     * it knows to be absent: the cache takes the move, the inode's new change time and the parents'
     * new times at once ({@link MetadataCache#beginRename}) and the rename is queued, to be sent in
     * order with this file system's other mutations without waiting for the answer, as {@link
     * #submitLater(Request.Unlink)} does. One the volume refuses (the source was removed or names
     * another file now) is logged, drops what the cache took, and is reported by the next {@code
     * force(true)} of a channel on the inode, or by this file system's {@code close}.
     * Blocks while {@link #WRITE_BACK_MAX_CHANGES} changes are queued or unanswered.
     *
     * @param m the rename, naming the inode it expects to move and the client time it was made at
     * @param from the attributes the cache held for {@code m.from()}
     * @return false, with nothing queued, if the cache no longer holds {@code from} for the source or
     *     no longer knows the target absent (another thread of this client changed them meanwhile):
     *     the caller renames synchronously
     * @throws InterruptedIOException if interrupted while waiting for room in the write-back log
     */
    boolean submitLater(Request.Rename m, Attr from) throws IOException {
        return enqueue(m, m.from(), m.expectInode(), () -> cache.beginRename(m, from));
    }

    /**
     * Whether creates by {@code caller} are written back: as attribute changes ({@link #writesBack}),
     * and when every member of the volume applies creates numbered by the client (log format 9).
     */
    boolean writesBackCreates(Caller caller) {
        return writesBack(caller) && service.logFormat() >= LogFormat.WRITE_BACK_CREATES;
    }

    /**
     * Writes back the create of an empty file numbered by this client: the cache takes the new
     * file and its directory's new times at once ({@link MetadataCache#beginCreate}) and the create
     * is queued, to be sent in order with this file system's other mutations (the file's writes go
     * after it) without waiting for the answer, as {@link #submitLater(Request.Unlink)} does. One
     * the volume refuses (another client made the name first) is logged, drops what the cache took,
     * and is reported by the next {@code force(true)} of a channel on the file, or by this file
     * system's {@code close}; the file's writes then fail too.
     * Blocks while {@link #WRITE_BACK_MAX_CHANGES} changes are queued or unanswered.
     *
     * @param m the create, exclusive, with the inode number and the client time
     * @param predicted the new file's attributes as the volume will answer them
     * @param parent the directory's attributes the prediction was made from
     * @return false, with nothing queued, if the cache no longer knows the name absent or the
     *     directory's attributes changed meanwhile: the caller creates synchronously
     * @throws InterruptedIOException if interrupted while waiting for room in the write-back log
     */
    boolean submitLater(Request.Create m, Attr predicted, Attr parent) throws IOException {
        return enqueue(m, m.path(), m.inode(), () -> cache.beginCreate(m, predicted, parent));
    }

    /**
     * A fresh inode number from the client range ({@link Request.Create#CLIENT_INODE_BIT}), at
     * random: 62 random bits, so two clients meet with a probability of about n&sup2; / 2^63 over n
     * creates (the volume refuses the second with EEXIST).
     */
    static long clientInode() {
        long low;
        do {
            low = RANDOM.nextLong() & (Request.Create.CLIENT_INODE_BIT - 1);
        } while (low == 0);
        return Request.Create.CLIENT_INODE_BIT | low;
    }

    /**
     * Queues a written-back mutation about {@code inode} at {@code path}, after taking room in the    /**
     * Queues a written-back mutation about {@code inode} at {@code path}, after taking room in the
     * write-back log ({@link #writeBackRoom}) and beginning its change in the cache with {@code begin}
     * (under the send lock: no mutation of this file system is sent between the cache taking the
     * change and the change taking its place in the queue).
     * The queue is sent once full, or after {@link #LINGER_MICROS} ({@link #lingerExpired}).
     *
     * @return false, with nothing queued, if {@code begin} declined (returned null)
     */
    private boolean enqueue(Request.Mutation m, String path, long inode, Supplier<MetadataCache.Change> begin)
            throws IOException {
        checkOpen();
        flushBuffered();
        try {
            writeBackRoom.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for room in the write-back log");
        }
        long ticket = writeBacks.begin();
        int pathBytes = path.getBytes(StandardCharsets.UTF_8).length
                + (m instanceof Request.Rename r ? r.to().getBytes(StandardCharsets.UTF_8).length : 0);
        sendLock.lock();
        try {
            MetadataCache.Change change = begin.get();
            if (change == null) {
                writeBacks.end(ticket);
                writeBackRoom.release();
                return false;
            }
            changes.incrementAndGet();
            writeBackPending.merge(inode, 1, Integer::sum);
            if (m instanceof Request.Create) {
                createsPending.put(inode, ticket);
            }
            writtenBack.incrementAndGet();
            if (queuedPathBytes + pathBytes > BATCH_PATH_BYTES) {
                sendQueued();
            }
            queued.add(new Queued(m, path, inode, change, ticket, System.nanoTime()));
            queuedPathBytes += pathBytes;
            if (queued.size() >= Request.Batch.MAX_MUTATIONS) {
                sendQueued();
            } else if (!flushScheduled && !lingerDeferred.get()) { // a deferred queue lingers again at the next answer
                armLinger();
            }
            return true;
        } finally {
            sendLock.unlock();
        }
    }

    // ---- coalesced writes --------------------------------------------------------------

    /**
     * Notes that {@code ch} starts buffering small writes to {@code inode} (see
     * {@link HoldfastFileChannel#COALESCE_BYTES}): the cache forgets the inode's attributes until
     * they are sent, and they are sent before this file system's next query that misses the
     * cache, mutation or write-back change, or after {@link #BUFFER_LINGER_MICROS} at the latest.
     *
     * @return the cache's change to end with {@link #sentBuffered} once the bytes are sent (null
     *     without a cache)
     * @throws ClosedFileSystemException if this file system is closed (the caller sends at once)
     */
    MetadataCache.Change buffering(HoldfastFileChannel ch, Caller caller, long inode) {
        checkOpen();
        buffering.add(ch);
        if (bufferFlushScheduled.compareAndSet(false, true)) {
            try {
                sender.schedule(this::flushBufferedQuietly, BUFFER_LINGER_MICROS, TimeUnit.MICROSECONDS);
            } catch (RejectedExecutionException e) {
                bufferFlushScheduled.set(false); // closing: the close sends them
            }
        }
        return cache == null ? null : cache.beginBuffered(caller, inode);
    }

    /** {@code ch} sent what it buffered (its request has begun): the cache may learn the inode again. */
    void sentBuffered(HoldfastFileChannel ch, MetadataCache.Change change) {
        buffering.remove(ch);
        if (change != null) {
            cache.end(change, null);
        }
    }

    /**
     * Sends every channel's buffered writes now. Called with no lock held (it takes each channel's
     * buffer lock, then the send lock).
     *
     * @throws IOException if interrupted waiting for room in the write window
     */
    void flushBuffered() throws IOException {
        for (HoldfastFileChannel ch : buffering) {
            ch.sendBuffered();
        }
    }

    private void flushBufferedQuietly() {
        bufferFlushScheduled.set(false);
        try {
            flushBuffered();
        } catch (IOException | RuntimeException e) {
            LOG.debug("{}: sending buffered writes in the background failed: {}", volume, e.toString());
        }
    }

    /**
     * The queue's oldest change has lingered {@link #LINGER_MICROS}: sends the queue unless
     * {@link #WRITE_BACK_MAX_BATCHES_IN_FLIGHT} batches are unanswered, else leaves it to grow
     * until an answer comes ({@link #batchAnswered}), which lets it linger once more. A queue that
     * ends with the create of a file open here lingers on too, for at most
     * {@link #BUFFER_LINGER_MICROS} from the create: the file's first bytes (or its {@code close},
     * which sends the queue) usually come by then and take the queue along, so that a file's
     * create and bytes travel in one log entry even when the writer takes longer than
     * {@link #LINGER_MICROS} to write them (tar, cp).
     */
    private void lingerExpired() {
        sendLock.lock();
        try {
            flushScheduled = false;
            if (queued.isEmpty()) {
                return;
            }
            if (createAwaitsItsWriter()) {
                armLinger();
                return;
            }
            // deferred first, then the count: an answer that lowers the count after this read
            // sees the flag and sends the queue (an extra send of an empty queue does nothing)
            lingerDeferred.set(true);
            if (batchesInFlight.get() < WRITE_BACK_MAX_BATCHES_IN_FLIGHT) {
                lingerDeferred.set(false);
                sendQueued();
            }
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * Whether the queue's last change is a create, queued less than {@link #BUFFER_LINGER_MICROS}
     * ago, of a file open here (its writer's bytes or close are likely to come). The caller holds
     * {@link #sendLock}.
     */
    private boolean createAwaitsItsWriter() {
        Queued last = queued.getLast();
        if (!(last.mutation() instanceof Request.Create)
                || System.nanoTime() - last.queuedNanos() > TimeUnit.MICROSECONDS.toNanos(BUFFER_LINGER_MICROS)) {
            return false;
        }
        synchronized (openInodes) {
            return openInodes.containsKey(last.inode());
        }
    }

    /** Schedules {@link #lingerExpired} in {@link #LINGER_MICROS}; the caller holds {@link #sendLock}. */
    private void armLinger() {
        flushScheduled = true;
        try {
            sender.schedule(this::lingerExpired, LINGER_MICROS, TimeUnit.MICROSECONDS);
        } catch (RejectedExecutionException e) {
            flushScheduled = false;
            sendQueued(); // closing
        }
    }

    /**
     * A batch of written-back changes was answered: a queue left to linger for it lingers
     * {@link #LINGER_MICROS} more before it is sent. Its writer was often waiting for this very
     * answer (a {@code close} waits for the file's create): the change it makes next (the next
     * file's create) then takes the queue along instead of following it as another log entry.
     */
    private void batchAnswered() {
        if (batchesInFlight.decrementAndGet() < WRITE_BACK_MAX_BATCHES_IN_FLIGHT
                && lingerDeferred.compareAndSet(true, false)) {
            try {
                sender.execute(this::lingerAgain); // not on the answering thread: the lock may be held long
            } catch (RejectedExecutionException e) {
                // closing: close sends the queue itself
            }
        }
    }

    private void lingerAgain() {
        sendLock.lock();
        try {
            if (!queued.isEmpty() && !flushScheduled) {
                armLinger();
            }
        } finally {
            sendLock.unlock();
        }
    }

    /** Sends the queued write-back mutations now (in one batch), if any. */
    void flushWriteBack() {
        sendLock.lock();
        try {
            sendQueued();
        } finally {
            sendLock.unlock();
        }
    }

    /** Sends the queue as one request; the caller holds {@link #sendLock}. */
    private void sendQueued() {
        sendQueued(null, null);
    }

    /**
     * Sends the queue (and {@code extra} last, answered through {@code extraAnswer}, if not null)
     * as one request; the caller holds {@link #sendLock}.
     */
    private void sendQueued(Request.Mutation extra, CompletableFuture<Response> extraAnswer) {
        if (queued.isEmpty()) {
            return;
        }
        List<Queued> batch = new ArrayList<>(queued);
        queued.clear();
        queuedPathBytes = 0;
        List<Request.Mutation> ms = new ArrayList<>(batch.size() + 1);
        for (Queued q : batch) {
            ms.add(q.mutation());
        }
        if (extra != null) {
            ms.add(extra);
        }
        flushScheduled = false;
        writeBackRequests.incrementAndGet();
        batchesInFlight.incrementAndGet();
        CompletableFuture<Response> f;
        try {
            f = service.submit(ms.size() == 1 ? ms.getFirst() : new Request.Batch(ms));
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, t) -> {
            batchAnswered();
            List<Response> answers =
                    r instanceof Response.Batch b && b.responses().size() == ms.size() ? b.responses() : null;
            for (int i = 0; i < batch.size(); i++) {
                Response one = answers != null ? answers.get(i) : ms.size() == 1 ? r : null;
                Throwable failed = t != null
                        ? t
                        : one == null ? new IllegalStateException("unexpected answer to a batch: " + r) : null;
                writtenBack(batch.get(i), one, failed);
            }
            if (extraAnswer != null) {
                if (t != null) {
                    extraAnswer.completeExceptionally(t);
                } else if (answers != null) {
                    extraAnswer.complete(answers.getLast());
                } else {
                    extraAnswer.completeExceptionally(new IllegalStateException("unexpected answer to a batch: " + r));
                }
            }
        });
    }

    /** Ends one written-back mutation: the cache learns its answer, a failure is kept for its inode. */
    private void writtenBack(Queued q, Response r, Throwable t) {
        try {
            cache.end(q.change(), t == null ? r : null);
            IOException failure = null;
            if (t != null) {
                failure = Errors.unwrap(t);
            } else if (r instanceof Response.Error e) {
                failure = Errors.toException(e, q.path(), null);
            }
            if (failure != null) {
                writeBackFailures.putIfAbsent(q.inode(), failure);
                writeBackFailed.incrementAndGet();
                if (leases != null) {
                    // a layer above (the kernel's cache) may still show the change: not on this
                    // thread, which may be a caller's (a FUSE handler's) when the send failed at once
                    Thread.ofVirtual().name("holdfast-retract").start(leases::runDropHooks);
                }
                LOG.warn(
                        "{}: written-back change of {} (inode {}) failed; the next fsync of the file reports"
                                + " it: {}",
                        volume,
                        q.path(),
                        q.inode(),
                        failure.toString());
            }
        } finally {
            if (q.mutation() instanceof Request.Create) {
                createsPending.remove(q.inode());
            }
            writeBackPending.computeIfPresent(q.inode(), (k, n) -> n == 1 ? null : n - 1);
            writeBackRoom.release();
            writeBacks.end(q.ticket());
        }
    }

    /**
     * Waits, if the create of {@code inode} was written back and is not answered yet, until it is
     * (with the written-back changes queued before it, which the ordered stream applies first):
     * close-to-open needs the file to exist for other clients once a channel on it is closed, even
     * with no data written. The create is sent now if it still lingers in the queue. Written-back
     * changes made after it (its mode, owner, times: tar's fchmod, fchown, futimens before close)
     * are not waited for, nor sent early: they travel with the next changes, and
     * {@code force(true)} waits for them. The caller waits for the file's data itself (the
     * channel's writes, sent with the create when small).
     *
     * @throws IOException if interrupted while waiting
     */
    void awaitCreated(long inode) throws IOException {
        Long ticket = Request.Create.clientInode(inode) ? createsPending.get(inode) : null;
        if (ticket == null) {
            return;
        }
        sendLock.lock();
        try {
            for (Queued q : queued) {
                if (q.ticket() == ticket) {
                    sendQueued(); // still lingering: it goes now, with what is queued with it
                    break;
                }
            }
        } finally {
            sendLock.unlock();
        }
        try {
            writeBacks.awaitThrough(ticket);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for the create of inode " + inode);
        }
    }

    /**
     * A durability point on {@code inode} ({@code force(true)} of a channel): waits for
     * its written-back changes to be answered and reports the first that failed, once.
     *
     * @throws IOException the failure of a written-back change to the inode, or
     *     {@link InterruptedIOException} if interrupted while waiting
     */
    void writeBackDurable(long inode) throws IOException {
        if (writeBackPending.containsKey(inode)) {
            awaitWrites();
        }
        writeBackFailed(inode);
    }

    /**
     * Throws the first failure of a written-back change to {@code inode} not yet reported (once),
     * without waiting for those still in flight.
     *
     * @throws IOException that failure
     */
    void writeBackFailed(long inode) throws IOException {
        IOException f = writeBackFailures.remove(inode);
        if (f != null) {
            throw f;
        }
    }

    /** A write-back mutation about {@code inode} at {@code path}, waiting to be sent. */
    private record Queued(
            Request.Mutation mutation,
            String path,
            long inode,
            MetadataCache.Change change,
            long ticket,
            long queuedNanos) {}

    /**
     * Sends a query once the writes this file system began before it have completed: every
     * {@code stat}, read or listing sees this client's own completed operations (read your writes).
     */
    Response query(Request.Query q) throws IOException {
        checkOpen();
        if (cache == null) {
            awaitWrites();
            return Errors.await(service.query(q));
        }
        // a cached answer is never older than this client's own writes: each dropped what it changes
        Response hit = cache.get(q);
        if (hit != null) {
            return hit;
        }
        if (q instanceof Request.GetAttr g && g.followSymlinks()) {
            // asked without following, which can be cached; again with following only for a link
            Response plain = query(new Request.GetAttr(g.path(), false));
            if (MetadataCache.followable(plain)) {
                return plain;
            }
        }
        awaitWrites();
        hit = cache.get(q); // the answers to those writes may have taught the cache what q asks
        if (hit != null) {
            return hit;
        }
        long generation = cache.generation();
        // A written-back removal begun by another thread since the wait above took its effect in
        // the cache without moving the generation at its answer (MetadataCache.beginUnlink), so
        // an answer kept under this generation must describe the volume after it: wait for what
        // began before the generation was read (usually nothing). Without this, a stat racing an
        // rm of the same name could cache the name as present after the rm (MetadataCacheModelTest,
        // seed 53902788973055, found it).
        awaitWrites();
        if (q instanceof Request.ReadDir d && listsWithAttributes()) {
            return listWithAttributes(d, generation);
        }
        Response r = Errors.await(service.query(q));
        cache.put(q, r, generation);
        return r;
    }

    /** Whether listings ask for the entries' attributes too (every member answers them). */
    private boolean listsWithAttributes() {
        return !listingsWithoutAttributes && service.logFormat() >= LogFormat.LISTINGS_WITH_ATTRIBUTES;
    }

    /**
     * Answers listing {@code d} with one {@link Request.ReadDirPlus}, keeping the page and each
     * entry's attributes (its {@code lstat}) in the cache: a listing followed by a {@code stat} of
     * every name ({@code ls -l}, {@code find}, a FUSE readdir) costs one query. A member that
     * does not know the query (the map said otherwise: a member downgraded since) is asked the
     * plain listing, and listings stay plain.
     */
    private Response listWithAttributes(Request.ReadDir d, long generation) throws IOException {
        Response r = Errors.await(service.query(new Request.ReadDirPlus(d.path(), d.after(), d.maxEntries())));
        if (r instanceof Response.Error e && e.errno() == Errno.EBADMSG) {
            listingsWithoutAttributes = true;
            Response plain = Errors.await(service.query(d));
            cache.put(d, plain, generation);
            return plain;
        }
        if (!(r instanceof Response.DirPlusPage plus)) {
            cache.put(d, r, generation);
            return r;
        }
        Response.DirPage page = plus.withoutAttributes();
        cache.put(d, page, generation);
        String prefix = d.path().endsWith("/") ? d.path() : d.path() + "/";
        for (int i = 0; i < plus.entries().size(); i++) {
            cache.put(
                    new Request.GetAttr(prefix + plus.entries().get(i).name(), false),
                    new Response.AttrReply(plus.attrs().get(i)),
                    generation);
        }
        return page;
    }

    /**
     * Sends a read of file content without waiting for anything: under a valid read lease as
     * {@link VolumeService#queryUnderLease} (one member, no read index), else as a linearizable
     * query. The caller waits for this file system's writes first when it must see them.
     */
    CompletableFuture<Response> readContent(Request.Read q) {
        checkOpen();
        return leases != null && leases.valid() ? service.queryUnderLease(q) : service.query(q);
    }

    /** The write-back statistics. */
    WriteBackStats writeBackStats() {
        long pending =
                writeBackPending.values().stream().mapToLong(Integer::longValue).sum();
        return new WriteBackStats(writtenBack.get(), writeBackRequests.get(), writeBackFailed.get(), pending);
    }

    /** The read lease of the metadata cache, or null without a cache. */
    ReadLease readLease() {
        return leases;
    }

    /** The metadata cache's statistics (all zero, no lease, without a cache). */
    CacheStats cacheStats() {
        return cache == null ? new CacheStats(0, 0, 0, 0, false) : cache.stats(leases.drops(), leases.valid());
    }

    // ---- write-behind window ---------------------------------------------------------------

    /**
     * Sends a write asynchronously once the window has room; blocks while it is full.
     *
     * @param onDone called exactly once when the write completes, with its reply or failure
     * @throws ClosedByInterruptException if interrupted while waiting for room
     */
    void submitWrite(Request.Write w, BiConsumer<Response, Throwable> onDone) throws ClosedByInterruptException {
        submitWrite(w, null, onDone);
    }

    /**
     * {@link #submitWrite(Request.Write, BiConsumer)} of a write carrying bytes a channel buffered:
     * {@code standIn}, the cache's stand-in for them ({@link MetadataCache#beginBuffered}), ends
     * once the write has begun and before it is sent, so never after the write's answer (which
     * would then not be learned while the stand-in still counted on the inode, and the stand-in's
     * end would drop what it said).
     *
     * @param standIn the stand-in to end, or null
     */
    void submitWrite(Request.Write w, MetadataCache.Change standIn, BiConsumer<Response, Throwable> onDone)
            throws ClosedByInterruptException {
        checkOpen();
        int n = Math.max(1, w.data().length);
        try {
            windowRequests.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClosedByInterruptException();
        }
        try {
            windowBytes.acquire(n);
        } catch (InterruptedException e) {
            windowRequests.release();
            Thread.currentThread().interrupt();
            throw new ClosedByInterruptException();
        }
        long ticket = writes.begin();
        changes.incrementAndGet();
        MetadataCache.Change change = cache == null ? null : cache.beginWrite(w);
        if (standIn != null) {
            cache.end(standIn, null);
        }
        CompletableFuture<Response> f;
        try {
            f = send(w);
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, t) -> {
            try {
                if (change != null) {
                    cache.end(change, t == null ? r : null);
                }
                onDone.accept(r, t);
            } finally {
                windowBytes.release(n);
                windowRequests.release();
                writes.end(ticket);
            }
        });
    }

    /**
     * The number of mutations (writes included) this file system has sent so far: data read before
     * the count last moved may be older than this client's own writes through another channel.
     */
    long changeCount() {
        return changes.get();
    }

    /**
     * Waits until every write and written-back change this file system began before the call has
     * completed (sending the queued ones now).
     */
    void awaitWrites() throws IOException {
        flushBuffered();
        flushWriteBack();
        try {
            writes.awaitBegun();
            writeBacks.awaitBegun();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for outstanding writes");
        }
    }

    /**
     * A durability point for the whole file system ({@code syncfs(2)}, {@code fsync(2)} of a
     * directory): waits until every write and written-back change begun before the call is
     * answered, then reports the first written-back change that failed and was not reported yet
     * (once; the others are logged).
     *
     * @throws IOException that failure, or {@link InterruptedIOException} if interrupted while
     *     waiting
     */
    void sync() throws IOException {
        checkOpen();
        awaitWrites();
        for (Long inode : List.copyOf(writeBackFailures.keySet())) {
            IOException f = writeBackFailures.remove(inode);
            if (f != null) {
                writeBackFailures.clear();
                throw f;
            }
        }
    }

    /**
     * Waits until every data write this file system began before the call has completed, not the
     * written-back attribute changes (those still queued go with the next request, before it).
     */
    void awaitDataWrites() throws IOException {
        flushBuffered();
        try {
            writes.awaitBegun();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for outstanding writes");
        }
    }

    /** Writes in flight in this file system (for tests and metrics). */
    int writesInFlight() {
        return writes.count();
    }

    // ---- open files ---------------------------------------------------------------------

    void opened(HoldfastFileChannel ch, long inode) {
        synchronized (openInodes) {
            checkOpen();
            openInodes.computeIfAbsent(inode, i -> new OpenInode()).channels++;
            channels.add(ch);
        }
    }

    /** Returns true if the inode was orphaned and its last channel closed: drop it. */
    boolean closed(HoldfastFileChannel ch, long inode) {
        synchronized (openInodes) {
            channels.remove(ch);
            OpenInode o = openInodes.get(inode);
            if (o == null) {
                return false;
            }
            if (--o.channels == 0) {
                openInodes.remove(inode);
                return o.orphaned;
            }
            return false;
        }
    }

    boolean isOpenInode(long inode) {
        synchronized (openInodes) {
            return openInodes.containsKey(inode);
        }
    }

    /** Records that an open inode lost its last link; returns false if it is no longer open. */
    boolean markOrphaned(long inode) {
        synchronized (openInodes) {
            OpenInode o = openInodes.get(inode);
            if (o == null) {
                return false;
            }
            o.orphaned = true;
            return true;
        }
    }

    private final Map<Long, List<FileLock>> locks = new HashMap<>();

    void locked(long inode, FileLock lock) {
        synchronized (locks) {
            List<FileLock> held = locks.computeIfAbsent(inode, i -> new ArrayList<>());
            for (FileLock l : held) {
                if (l.overlaps(lock.position(), lock.size())) {
                    throw new OverlappingFileLockException();
                }
            }
            held.add(lock);
        }
    }

    void unlocked(long inode, FileLock lock) {
        synchronized (locks) {
            List<FileLock> held = locks.get(inode);
            if (held != null) {
                held.remove(lock);
                if (held.isEmpty()) {
                    locks.remove(inode);
                }
            }
        }
    }

    // ---- FileSystem ----------------------------------------------------------------------

    @Override
    public HoldfastFileSystemProvider provider() {
        return provider;
    }

    /**
     * Closes this file system: closes its open channels (waiting for their outstanding writes),
     * waits for all other outstanding writes, and closes the volume connection if this file
     * system opened it. Idempotent.
     *
     * @throws IOException the first failure of a write or close, reported after everything is
     *     closed
     */
    @Override
    public void close() throws IOException {
        IOException failure = null;
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        for (HoldfastFileChannel ch : List.copyOf(channels)) {
            try {
                ch.close();
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        try {
            awaitWrites();
        } catch (IOException e) {
            if (failure == null) {
                failure = e;
            }
        }
        if (failure == null && !writeBackFailures.isEmpty()) {
            failure = writeBackFailures.values().iterator().next(); // never reported by a durability point
        }
        synchronized (openInodes) {
            open = false;
        }
        sender.shutdown();
        if (leases != null) {
            leases.close();
        }
        provider.removed(this);
        if (owned != null) {
            try {
                service.close();
            } catch (RuntimeException e) {
                // fall through: the client's close releases everything anyway
            }
            try {
                owned.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e instanceof IOException io ? io : new IOException(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    /**
     * Whether the volume is exported read-only to this client (its export ACL); asks the volume
     * each time, so an ACL change is seen. Writes are refused by the nodes either way.
     */
    @Override
    public boolean isReadOnly() {
        return new HoldfastFileStore(this).isReadOnly();
    }

    @Override
    public String getSeparator() {
        return "/";
    }

    @Override
    public Iterable<Path> getRootDirectories() {
        checkOpen();
        return List.of(root);
    }

    @Override
    public Iterable<FileStore> getFileStores() {
        checkOpen();
        return List.of(store);
    }

    @Override
    public Set<String> supportedFileAttributeViews() {
        return Attributes.VIEWS;
    }

    @Override
    public HoldfastPath getPath(String first, String... more) {
        checkOpen();
        StringBuilder sb = new StringBuilder(first);
        for (String m : more) {
            if (!m.isEmpty()) {
                if (!sb.isEmpty()) {
                    sb.append('/');
                }
                sb.append(m);
            }
        }
        return HoldfastPath.parse(this, sb.toString());
    }

    @Override
    public PathMatcher getPathMatcher(String syntaxAndPattern) {
        int colon = syntaxAndPattern.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("expected syntax:pattern, got " + syntaxAndPattern);
        }
        String syntax = syntaxAndPattern.substring(0, colon);
        String pattern = syntaxAndPattern.substring(colon + 1);
        String regex;
        if (syntax.equalsIgnoreCase("glob")) {
            regex = Globs.toRegex(pattern);
        } else if (syntax.equalsIgnoreCase("regex")) {
            regex = pattern;
        } else {
            throw new UnsupportedOperationException("Syntax '" + syntax + "' not recognized");
        }
        Pattern p = Pattern.compile(regex);
        return path -> p.matcher(path.toString()).matches();
    }

    @Override
    public UserPrincipalLookupService getUserPrincipalLookupService() {
        return principals;
    }

    /**
     * Not supported yet: the change feed that would drive it is not built.
     *
     * @throws UnsupportedOperationException always
     */
    @Override
    public WatchService newWatchService() {
        throw new UnsupportedOperationException("watch service not supported by Holdfast yet");
    }

    @Override
    public String toString() {
        return "holdfast://" + authority + "/" + volume;
    }
}
