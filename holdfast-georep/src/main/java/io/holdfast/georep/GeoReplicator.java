package io.holdfast.georep;

import io.holdfast.common.FileInfo;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Keeps a target directory tree equal to a source tree by tailing the source volume's change
 * feed (DESIGN.md section 5, "Change feed"; issue 15): the geo-replication worker.
 *
 * <p>The source tree is any {@link Path} (a {@code holdfast://} volume root, or for tests a local
 * directory) whose changes the {@link ChangeSource} reports; the target is any {@link Path} of a
 * directory, typically local at the disaster-recovery site. The worker never writes the source.
 *
 * <p>What it does:
 *
 * <ul>
 *   <li><b>Position at the target.</b> The last applied feed index, the commit time of its record
 *       and the session name live in {@code TARGET/.holdfast-georep/state}, replaced atomically
 *       (temporary file, fsync, rename, fsync of the directory) after the changes of a page are
 *       applied. A crash before that leaves the old position, and the page is applied again; every
 *       step compares before it changes, so that is harmless.
 *   <li><b>Full synchronisation</b> when the target has no state file, or when the feed has
 *       trimmed the history after the position ({@link Response.ChangePage#resyncNeeded}): reads
 *       the feed's applied index, makes the whole target equal to the source (only files whose size
 *       or time differ have their content compared, and only those whose content differs travel;
 *       what the source lacks is deleted), records that index and tails from it.
 *   <li><b>Tailing</b>: applies each page's records in order ({@link PageApplier}): renames and
 *       deletes at once (a directory rename is one rename at the target), everything else by
 *       bringing the named paths over from the source's current state at the end of the page; each
 *       file appears at the target atomically (temporary name, then rename).
 *   <li><b>Failures</b>: an {@link IOException} of the source or target abandons the attempt (the
 *       position stays where the applied data is) and retries with exponential backoff; single
 *       entries the target cannot hold (a device node without privilege, a name too long, access
 *       denied) are skipped, counted and reported. A state file that is corrupt, too new or of
 *       another session stops the worker with a {@link GeoStateException}.
 * </ul>
 *
 * <p>Limits: contents are read from the source as it is when the page ends, not as it was at the
 * page's last index, so between pages a target file may be newer than the recorded index says (it
 * never is older once the page is recorded); a file being written at the source while it is read
 * may arrive torn and is copied again when the feed reports the rest of the writes. See
 * docs/architecture.md, "Geo-replication worker".
 *
 * <p>The source must be read without a client metadata cache (a {@code holdfast://} file system
 * opened with {@code holdfast.cache=false}, as {@code holdfast georep start} does) unless the
 * writers use that same file system: the feed shows a change once it is applied, before another
 * client has dropped its cache for it, and a name a cached listing still calls absent would be
 * skipped and never looked at again.
 *
 * <p>Thread safety: {@link #runOnce()} and {@link #run()} run on the caller's thread, one at a time;
 * {@link #stop()} and {@link #status()} may be called from any thread.
 */
public final class GeoReplicator {
    /**
     * How {@link GeoListener#fullSyncStarted} names a full synchronisation because the target has
     * no state file; the other reasons are a trimmed history ({@link #TRIMMED_REASON}) or a
     * comparison of the whole tree while tailing.
     */
    public static final String NO_STATE_REASON = "no state at the target";

    /** How {@link GeoListener#fullSyncStarted}'s reason starts when the feed trimmed the history after the position. */
    public static final String TRIMMED_REASON = "feed history trimmed";

    private final ChangeSource source;
    private final GeoOptions options;
    private final Path sourceRoot;
    private final Path targetRoot;
    private final Counters counters = new Counters();
    private final StateFile stateFile;
    private final TargetSync sync;
    private final PageApplier applier;
    private final AtomicBoolean running = new AtomicBoolean();
    private final Object wakeup = new Object();

    private volatile GeoStatus.Phase phase = GeoStatus.Phase.IDLE;
    private volatile long position;
    private volatile long commitNanos;
    private volatile long feedIndex;
    private volatile boolean stopping;
    private boolean stateKnown;
    private boolean needFullSync;
    private String fullSyncReason;
    private boolean sweepNextPage = true;
    private boolean compareTreeRecorded;
    private boolean needTreeCompare;

    /** The next page, asked for while the current one is applied (null: none asked). */
    private CompletableFuture<Response.ChangePage> ahead;
    /** The position {@link #ahead} was asked after. */
    private long aheadAfter;

    /** Test hook: runs after a page is applied and before its position is recorded. */
    Runnable beforeRecord = () -> {};

    /**
     * A position recorded at a target: the session that recorded it, the last feed index applied,
     * the commit time of that change and when it was recorded (both nanoseconds since the epoch).
     */
    public record Recorded(String session, long index, long commitNanos, long writtenNanos) {}

    /**
     * The position recorded at {@code targetRoot}, if any (for status displays; it does not lock
     * anything: a running replicator may record a newer one at any time).
     *
     * @throws GeoStateException if the state file is corrupt or too new
     * @throws IOException if it cannot be read
     */
    public static Optional<Recorded> recorded(Path targetRoot) throws IOException {
        StateFile.State s = new StateFile(targetRoot, false).read();
        return s == null
                ? Optional.empty()
                : Optional.of(new Recorded(s.session(), s.index(), s.commitNanos(), s.writtenNanos()));
    }

    /**
     * A replicator; nothing is read or written until {@link #runOnce()} or {@link #run()}.
     *
     * @param source the source volume's change feed
     * @param sourceRoot the source tree's root directory (the volume's {@code /})
     * @param targetRoot the target directory; must exist
     * @param options how to run
     */
    public GeoReplicator(ChangeSource source, Path sourceRoot, Path targetRoot, GeoOptions options) {
        this.source = Objects.requireNonNull(source, "source");
        this.sourceRoot = Objects.requireNonNull(sourceRoot, "sourceRoot");
        this.targetRoot = Objects.requireNonNull(targetRoot, "targetRoot");
        this.options = Objects.requireNonNull(options, "options");
        this.stateFile = new StateFile(targetRoot, options.fsync());
        this.sync = new TargetSync(sourceRoot, targetRoot, options, counters, this::recordCompareTree);
        this.applier = new PageApplier(sync, () -> {
            counters.treeCompares.incrementAndGet();
            options.listener().fullSyncStarted(position, "a change the feed's names could not place");
        });
    }

    /**
     * Applies the feed until caught up (a page that says there is nothing more), then returns;
     * starts with a full synchronisation if the target has no state. A failed attempt is retried
     * up to {@link GeoOptions#maxRetries()} times.
     *
     * @throws GeoStateException if the target's state file is corrupt, too new or another session's
     * @throws IOException if the last retry failed too; the target is consistent with its recorded
     *     position (a later run goes on from there)
     * @throws InterruptedException if the thread is interrupted
     * @throws IllegalStateException if this replicator is already running
     */
    public void runOnce() throws IOException, InterruptedException {
        loop(true);
    }

    /**
     * Tails the feed until {@link #stop()}: like {@link #runOnce()} but, once caught up, waits for
     * new records with long polls of {@link GeoOptions#waitMillis()}, and retries failures (with
     * backoff up to {@link GeoOptions#retryMaxMillis()}) without limit.
     *
     * @throws GeoStateException if the target's state file is corrupt, too new or another session's
     * @throws InterruptedException if the thread is interrupted
     * @throws IllegalStateException if this replicator is already running
     */
    public void run() throws IOException, InterruptedException {
        loop(false);
    }

    /**
     * Makes {@link #run()} return after the page it is applying (within a long poll's wait), and
     * makes {@link #runOnce()} return early. Returns at once; a stopped replicator stays stopped.
     */
    public void stop() {
        stopping = true;
        synchronized (wakeup) {
            wakeup.notifyAll();
        }
    }

    /** The current position, lag and counters. */
    public GeoStatus status() {
        long pos = position;
        long feed = Math.max(feedIndex, pos);
        long commit = commitNanos;
        long lagEntries = feed - pos;
        double lagSeconds = 0;
        if (lagEntries > 0 && commit > 0) {
            lagSeconds = Math.max(0, (nanos(options.clock().instant()) - commit) / 1e9);
        }
        return new GeoStatus(
                options.session(),
                phase,
                pos,
                commit,
                feed,
                lagSeconds,
                lagEntries,
                counters.filesCopied.get(),
                counters.bytesCopied.get(),
                counters.deletes.get(),
                counters.renames.get(),
                counters.links.get(),
                counters.resyncs.get(),
                counters.treeCompares.get(),
                counters.errors.get());
    }

    private static long nanos(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
    }

    private void loop(boolean once) throws IOException, InterruptedException {
        if (!running.compareAndSet(false, true)) {
            throw new IllegalStateException("replicator of session " + options.session() + " is already running");
        }
        TargetLock lock = null;
        try {
            lock = TargetLock.acquire(targetRoot, "the worker of session " + options.session());
            int failures = 0;
            long backoffMillis = options.retryInitialMillis();
            while (!stopping) {
                try {
                    boolean caughtUp = step(once ? 0 : options.waitMillis());
                    failures = 0;
                    backoffMillis = options.retryInitialMillis();
                    if (caughtUp && once) {
                        return;
                    }
                } catch (GeoStateException e) {
                    throw e;
                } catch (IOException e) {
                    if (e instanceof InterruptedIOException
                            || Thread.currentThread().isInterrupted()) {
                        Thread.interrupted();
                        InterruptedException ie = new InterruptedException("interrupted: " + e.getMessage());
                        ie.initCause(e);
                        throw ie;
                    }
                    counters.errors.incrementAndGet();
                    failures++;
                    if (once && failures > options.maxRetries()) {
                        throw e;
                    }
                    options.listener().retrying(e, backoffMillis);
                    phase = GeoStatus.Phase.BACKOFF;
                    pause(backoffMillis);
                    backoffMillis = Math.min(options.retryMaxMillis(), backoffMillis * 2);
                }
            }
        } finally {
            if (lock != null) {
                lock.close();
            }
            ahead = null; // a long poll still under way ends by itself; its page is not needed
            phase = stopping ? GeoStatus.Phase.STOPPED : GeoStatus.Phase.IDLE;
            running.set(false);
        }
    }

    private void pause(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        synchronized (wakeup) {
            long left;
            while (!stopping && (left = deadline - System.nanoTime()) > 0) {
                wakeup.wait(Math.max(1, left / 1_000_000L));
            }
        }
    }

    /** One page, or one full synchronisation. Returns whether the feed has nothing more now. */
    private boolean step(int waitMillis) throws IOException {
        if (!stateKnown) {
            loadState();
        }
        if (needFullSync) {
            fullSync();
            return false;
        }
        if (needTreeCompare) {
            compareTree();
            return false;
        }
        phase = GeoStatus.Phase.TAILING;
        long after = position;
        Response.ChangePage page = fetch(after, waitMillis);
        check(page, after);
        feedIndex = Math.max(feedIndex, page.appliedIndex());
        if (page.resyncNeeded(after)) {
            needFullSync = true;
            fullSyncReason = TRIMMED_REASON + " through " + page.trimmedThrough() + ", position " + after;
            return false;
        }
        long next = page.next(after);
        if (!page.records().isEmpty()) {
            // pipelining: the next page travels while this one is applied (over a WAN, a round trip saved per page)
            askAhead(next, page.more() ? 0 : waitMillis);
            applier.apply(page.records(), sweepNextPage, !page.more());
            sweepNextPage = false;
            beforeRecord.run();
            record(next, page.records().getLast().timeNanos());
            options.listener().pageApplied(page.records().size(), status());
        } else if (next != after) {
            record(next, commitNanos);
        }
        return !page.more();
    }

    /** The page after {@code after}: the one asked for ahead if it was asked after that position, else asked now. */
    private Response.ChangePage fetch(long after, int waitMillis) throws IOException {
        CompletableFuture<Response.ChangePage> f = ahead;
        ahead = null;
        if (f == null || aheadAfter != after) {
            return source.changes(after, options.maxRecords(), waitMillis);
        }
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("interrupted while reading the feed");
            ie.initCause(e);
            throw ie;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("reading the change feed: " + e.getCause(), e.getCause());
        }
    }

    /**
     * Asks for the page after {@code after} on a virtual thread, once the current page is in; if
     * applying the current page fails, the retry asks again while this one may still be under way
     * (at most two requests at a time; its answer is then dropped). Memory: one page more.
     */
    private void askAhead(long after, int waitMillis) {
        aheadAfter = after;
        ahead = new CompletableFuture<>();
        CompletableFuture<Response.ChangePage> f = ahead;
        Thread.ofVirtual().name("georep-feed-ahead").start(() -> {
            try {
                f.complete(source.changes(after, options.maxRecords(), waitMillis));
            } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
    }

    private void check(Response.ChangePage page, long after) throws IOException {
        long last = after;
        for (ChangeRecord r : page.records()) {
            if (r.index() <= last || r.index() > page.appliedIndex()) {
                throw new IOException("change feed page after " + after + " (applied index " + page.appliedIndex()
                        + ") has record " + r.index() + " after " + last + ": out of order");
            }
            last = r.index();
        }
    }

    private void loadState() throws IOException {
        FileInfo root = TargetSync.stat(targetRoot);
        if (root == null || !root.isDirectory()) {
            throw new NotDirectoryException(targetRoot + " (the target must be an existing directory)");
        }
        FileInfo src = TargetSync.stat(sourceRoot);
        if (src == null || !src.isDirectory()) {
            throw new NotDirectoryException(sourceRoot + " (the source must be a directory)");
        }
        StateFile.State s = stateFile.read();
        if (s == null) {
            // made before the full synchronisation, so that it does not change the root's time after it
            Files.createDirectories(targetRoot.resolve(StateFile.DIR));
            needFullSync = true;
            fullSyncReason = NO_STATE_REASON;
        } else {
            if (!s.session().equals(options.session())) {
                throw new GeoStateException(stateFile.path() + " belongs to session '" + s.session() + "', not '"
                        + options.session() + "'");
            }
            if (s.promoted() != null) {
                throw Failover.promotedRefusal(targetRoot, s);
            }
            position = s.index();
            commitNanos = s.commitNanos();
            needTreeCompare = s.compareTree();
            compareTreeRecorded = s.compareTree();
        }
        stateKnown = true;
    }

    private void fullSync() throws IOException {
        phase = GeoStatus.Phase.FULL_SYNC;
        Response.ChangePage probe = source.changes(position, 1, 0);
        long index = probe.appliedIndex();
        feedIndex = Math.max(feedIndex, index);
        long startNanos = nanos(options.clock().instant());
        options.listener().fullSyncStarted(index, fullSyncReason);
        counters.resyncs.incrementAndGet();
        counters.compared.set(0);
        sync.syncTree("");
        sync.finishDirectories();
        beforeRecord.run();
        record(index, startNanos);
        needFullSync = false;
        sweepNextPage = false;
        options.listener().fullSyncDone(index, status());
    }

    private void record(long index, long commit) throws IOException {
        stateFile.write(new StateFile.State(
                options.session(), index, commit, nanos(options.clock().instant()), false));
        position = index;
        commitNanos = commit;
        compareTreeRecorded = false;
    }

    /**
     * Records, at the current position, that the target must be compared with the whole tree: the
     * page being applied is about to split a file with several names from names the worker does
     * not know. Written once; cleared by the next {@link #record}.
     */
    private void recordCompareTree() throws IOException {
        if (compareTreeRecorded || !stateKnown || needFullSync) {
            return;
        }
        stateFile.write(new StateFile.State(
                options.session(), position, commitNanos, nanos(options.clock().instant()), true));
        compareTreeRecorded = true;
    }

    /** A comparison of the whole tree a crash interrupted (the state file says so): done before tailing on. */
    private void compareTree() throws IOException {
        phase = GeoStatus.Phase.FULL_SYNC;
        counters.treeCompares.incrementAndGet();
        options.listener().fullSyncStarted(position, "a comparison of the whole tree was interrupted");
        sync.syncTree("");
        sync.finishDirectories();
        sync.takeLostLinkedName();
        record(position, commitNanos);
        needTreeCompare = false;
        sweepNextPage = false;
    }
}
