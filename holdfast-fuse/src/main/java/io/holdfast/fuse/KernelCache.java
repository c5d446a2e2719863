package io.holdfast.fuse;

import io.holdfast.client.nio.ReadLease;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Lets the kernel cache a mount's names and attributes while the served file system's read lease
 * holds, and takes them back when the lease says another client changed something: the kernel
 * side of the client cache (FUSE protocol: {@code entry_valid}/{@code attr_valid} of each reply,
 * {@code FUSE_NOTIFY_INC_EPOCH}, {@code FUSE_NOTIFY_INVAL_INODE}).
 *
 * <h2>What the kernel keeps, and how it is taken back</h2>
 *
 * While the lease holds for more than {@link #SLACK_MILLIS}, replies carry the mount's timeout
 * ({@code --cache-timeout}) as entry and attribute validity; otherwise 0 (nothing is cached;
 * negative lookups never are). Everything the kernel may then hold is taken back by one
 * <em>invalidation</em>:
 *
 * <ul>
 *   <li>the epoch of the connection moves ({@code FUSE_NOTIFY_INC_EPOCH}, Linux &ge; 6.16): every
 *       cached name is stale, so the next path walk looks each name up again, and that answer
 *       refreshes the attributes of the inode it names;
 *   <li>the attributes (and pages) of the files open now and of the mount's root, which are
 *       reached without a path walk, are made stale by path ({@code fuse_invalidate_path}), on a
 *       thread of their own: the kernel locks a file's pages to drop them, and a page stays
 *       locked while a write to it waits for this mount. An invalidation waits for them at most
 *       {@link #OPEN_FILES_WAIT_MILLIS} (a FUSE handler not at all).
 * </ul>
 *
 * An invalidation runs (a) at every drop of the file system's cache, before the drop is
 * acknowledged to the leader, so another client's mutation completes only after this kernel
 * forgot what it changed; (b) when the lease ends or begins (the validity of later replies
 * changes with it, and what was cached under the ended lease is not covered any more); and (c)
 * after this mount changes a file with more than one name ({@link #changedLinked}): libfuse's
 * high-level API gives each name its own kernel inode, so the others would keep the old
 * attributes.
 *
 * <p>Left stale: an open file whose pages are locked by a write in flight keeps its attributes
 * until that write is answered (the invalidation then goes through), beyond the {@link
 * #OPEN_FILES_WAIT_MILLIS} the drop waited. For at most the timeout: the attributes of a
 * process's working directory and of directories held open as starting points of {@code *at()}
 * calls (no path walk reaches them and they are not open files here). A reply computed without
 * the lease that reaches the kernel after the lease was granted and the invalidation that
 * followed, which needs a FUSE thread stalled between answering and replying for longer than
 * the lease's first renewal, is cached for the timeout.
 *
 * <p>Lifecycle: {@link #start} once the session's {@code init} has run, {@link #close} before
 * unmounting. Thread-safe: one daemon thread follows the lease; invalidations may run on any
 * thread.
 */
final class KernelCache implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(KernelCache.class.getName());
    /** The lease must hold this much longer for replies to be cached. */
    static final long SLACK_MILLIS = 100;
    /** How often the thread looks at the lease when nothing changes. */
    static final long TICK_MILLIS = 50;
    /** How long an invalidation waits for the open files' attributes to be taken back. */
    static final long OPEN_FILES_WAIT_MILLIS = 100;
    /** The most multiply-linked paths tracked; past it every change through the mount invalidates. */
    static final int MAX_LINKED_PATHS = 65_536;

    private final NativeFuse.KernelCacheControl control;
    private final ReadLease lease;
    private final double timeoutSeconds;
    private final Supplier<Set<String>> openPaths;
    private final Set<String> linked = ConcurrentHashMap.newKeySet();
    private volatile boolean linkedOverflow;
    private final AtomicLong invalidations = new AtomicLong();
    /** Takes back the open files' attributes (see {@link #invalidate(boolean)}). */
    private final ExecutorService openFiles = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().daemon().name("holdfast-kernel-inval").factory());

    private final Object stateLock = new Object();
    private boolean caching;
    private volatile boolean closed;
    private AutoCloseable hook;
    private Thread follower;

    private KernelCache(
            NativeFuse.KernelCacheControl control, ReadLease lease, Duration timeout, Supplier<Set<String>> openPaths) {
        this.control = control;
        this.lease = lease;
        this.timeoutSeconds = timeout.toNanos() / 1e9;
        this.openPaths = openPaths;
    }

    /**
     * Starts following {@code lease}, or returns null (and leaves the kernel caching nothing) if
     * the kernel cannot take cached names back: a kernel older than Linux 6.16 refuses
     * {@code FUSE_NOTIFY_INC_EPOCH}.
     *
     * @param control the session's control, from {@code init}
     * @param lease the served file system's read lease
     * @param timeout how long the kernel keeps a reply's names and attributes under the lease;
     *     positive
     * @param ops the mount's operations: their open files, and where replies and changes are noted
     * @return the running cache, or null
     */
    static KernelCache start(
            NativeFuse.KernelCacheControl control, ReadLease lease, Duration timeout, PathFuseOperations ops) {
        int errno = control.incrementEpoch();
        if (errno != 0) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "the kernel cannot take cached names back (FUSE_NOTIFY_INC_EPOCH refused, errno " + errno
                            + "; needs Linux 6.16 or later): every lookup and stat goes to the volume");
            return null;
        }
        KernelCache k = new KernelCache(control, lease, timeout, ops::openPaths);
        ops.kernelCache(k); // before anything is cached
        k.hook = lease.onDrop(k::invalidate);
        k.follower = Thread.ofPlatform().daemon().name("holdfast-kernel-cache").start(k::follow);
        return k;
    }

    /** Whether replies are cached by the kernel now (the lease holds). */
    boolean caching() {
        synchronized (stateLock) {
            return caching;
        }
    }

    /** Invalidations so far. */
    long invalidations() {
        return invalidations.get();
    }

    /**
     * Takes back every name and attribute the kernel may hold for the mount (see the class
     * comment), waiting at most {@link #OPEN_FILES_WAIT_MILLIS} for the open files' part.
     */
    void invalidate() {
        invalidate(true);
    }

    /**
     * Takes back every name (synchronously: it takes no lock in the kernel) and the attributes of
     * the open files and of the root. Those go on another thread: the kernel drops a file's pages
     * with its attributes, and a page stays locked while a write to it waits for this mount's
     * reply, so a FUSE handler must never wait for them (it may be that write), and a drop hook
     * waits a bounded time (the write may wait for the leader, which waits for this drop's
     * acknowledgement: two mounts writing would each wait for the other).
     *
     * @param wait whether to wait (at most {@link #OPEN_FILES_WAIT_MILLIS}) for the open files
     */
    private void invalidate(boolean wait) {
        invalidations.incrementAndGet();
        int errno = control.incrementEpoch();
        if (errno != 0 && !closed) {
            LOG.log(System.Logger.Level.WARNING, "FUSE_NOTIFY_INC_EPOCH failed, errno " + errno);
        }
        Future<?> files = openFiles.submit(() -> {
            control.invalidatePath("/");
            for (String p : openPaths.get()) {
                control.invalidatePath(p); // -ENOENT: libfuse no longer knows it (released meanwhile)
            }
        });
        if (wait) {
            try {
                files.get(OPEN_FILES_WAIT_MILLIS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                LOG.log(System.Logger.Level.DEBUG, "open files' attributes still being taken back (a write in flight)");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException e) {
                LOG.log(System.Logger.Level.WARNING, "invalidating open files failed", e.getCause());
            }
        }
    }

    /**
     * Notes a reply's attributes: a file with more than one name is tracked so that a change to
     * it through the mount takes back what the kernel holds for its other names.
     */
    void answered(String fusePath, boolean directory, long nlink) {
        if (nlink > 1 && !directory) {
            if (linked.size() < MAX_LINKED_PATHS) {
                linked.add(fusePath);
            } else if (!linked.contains(fusePath)) {
                linkedOverflow = true;
            }
        }
    }

    /**
     * After this mount changed what {@code fusePath} names (its data, attributes, or its names: a
     * link, an unlink, a rename): invalidates if the file may have other names the kernel caches
     * separately. A new link always does.
     */
    void changedLinked(String fusePath, boolean newLink) {
        if (newLink || linkedOverflow || linked.contains(fusePath)) {
            invalidate(false); // on a FUSE thread: see invalidate(boolean)
        }
    }

    /**
     * After a rename through the mount: invalidates once if the moved file (its change time) or a
     * file it replaced may have other names, then forgets the tracked names at or below {@code
     * from}.
     */
    void renamed(String from, String to) {
        if (linkedOverflow || linked.contains(from) || linked.contains(to)) {
            invalidate(false); // on a FUSE thread: see invalidate(boolean)
        }
        linked.removeIf(p -> PathFuseOperations.atOrBelow(p, from));
    }

    private void follow() {
        while (!closed) {
            long left = lease.validUntilNanos() - System.nanoTime();
            boolean holds = left > TimeUnit.MILLISECONDS.toNanos(SLACK_MILLIS);
            boolean change;
            synchronized (stateLock) {
                change = holds != caching;
                if (change) {
                    caching = holds;
                }
            }
            if (change) {
                // when it begins: validity first, then the invalidation, so that nothing answered
                // without the lease stays; when it ends: nothing cached any more, then take back
                control.timeouts(holds ? timeoutSeconds : 0);
                invalidate();
            }
            long sleep = TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS);
            if (holds) {
                sleep = Math.min(sleep, left - TimeUnit.MILLISECONDS.toNanos(SLACK_MILLIS));
            }
            if (sleep > 0) {
                try {
                    TimeUnit.NANOSECONDS.sleep(sleep);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    /**
     * Stops caching: later replies carry 0, what the kernel holds is taken back, the lease is no
     * longer followed. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        follower.interrupt();
        try {
            follower.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            hook.close();
        } catch (Exception e) {
            LOG.log(System.Logger.Level.DEBUG, "removing the drop hook", e);
        }
        control.timeouts(0);
        invalidate();
        openFiles.shutdown();
    }
}
