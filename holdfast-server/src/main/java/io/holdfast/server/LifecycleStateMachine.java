package io.holdfast.server;

import io.holdfast.common.HoldfastException;
import io.holdfast.transport.Refusal;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.util.LifeCycle;
import org.apache.ratis.util.MD5FileUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What Holdfast's state machines share with Ratis: the lifecycle and the snapshot files.
 *
 * <ul>
 *   <li><b>Lifecycle</b>: RUNNING after {@code initialize}; {@link #pause()} (RUNNING → PAUSED)
 *       before the snapshot files are replaced by one from the leader; {@link #resume()}
 *       (PAUSED → RUNNING) at the end of {@code reinitialize}. Ratis refuses to reload a state
 *       machine that is not PAUSED and then shuts the member down.
 *   <li><b>Snapshots</b>: one file per snapshot in Ratis's {@link SimpleStateMachineStorage}
 *       ({@code snapshot.<term>_<index>} with an MD5 beside it), written to a temporary file,
 *       fsynced and renamed into place; the two newest are kept. {@link #takeSnapshot()} runs on
 *       Ratis's state machine updater thread, so no entry is applied meanwhile; a state machine
 *       that can freeze its state cheaply ({@link #freezeSnapshot}) has the file written from the
 *       frozen state on another thread instead, and applies go on.
 * </ul>
 */
public abstract class LifecycleStateMachine extends BaseStateMachine {
    private static final SnapshotRetentionPolicy KEEP_TWO_SNAPSHOTS = new SnapshotRetentionPolicy() {
        @Override
        public int getNumSnapshotsRetained() {
            return 2;
        }
    };

    private static final Logger LOG = LoggerFactory.getLogger(LifecycleStateMachine.class);

    protected final SimpleStateMachineStorage storage = new SnapshotStorage();
    /** The snapshot being written in the background, or the finished one not yet reported to Ratis. */
    private volatile Background background;

    private volatile long lastSnapshotPauseNanos = -1;

    @Override
    public final StateMachineStorage getStateMachineStorage() {
        return storage;
    }

    /** Also cancels a snapshot being written in the background: the state it froze is being replaced. */
    @Override
    public void pause() {
        cancelBackgroundSnapshot();
        if (getLifeCycleState() == LifeCycle.State.RUNNING) {
            getLifeCycle().transition(LifeCycle.State.PAUSING);
            getLifeCycle().transition(LifeCycle.State.PAUSED);
        }
    }

    /**
     * This member's log format guard ({@link LogFormatGuard}), or null before it has one; the
     * two notifications below follow its halt.
     */
    protected abstract LogFormatGuard logFormatGuard();

    /**
     * Ratis reports entries that are not the state machine's (configuration changes, a new
     * leader's first entry) here, and the base class takes them as applied. After a halt they
     * must not be: the applied index would pass the entry this member did not apply, a snapshot
     * would be labelled past it, and after the upgrade the entry would be skipped.
     */
    @Override
    public void notifyTermIndexUpdated(long term, long index) {
        LogFormatGuard g = logFormatGuard();
        if (g == null || g.refusal() == null) {
            super.notifyTermIndexUpdated(term, index);
        }
    }

    /** A halted member that becomes leader steps down again at once. */
    @Override
    public void notifyLeaderChanged(RaftGroupMemberId memberId, RaftPeerId newLeaderId) {
        LogFormatGuard g = logFormatGuard();
        if (g != null && memberId.getPeerId().equals(newLeaderId)) {
            getServer().thenAccept(s -> g.stepDown(s, getGroupId()));
        }
    }

    /** Back to RUNNING after a snapshot was loaded in {@code reinitialize}. */
    protected final void resume() {
        if (getLifeCycleState() == LifeCycle.State.PAUSED) {
            getLifeCycle().transition(LifeCycle.State.STARTING);
            getLifeCycle().transition(LifeCycle.State.RUNNING);
        }
    }

    /**
     * Takes a snapshot at the last applied index: {@link #beforeSnapshot}, then either
     * {@link #writeSnapshot} into the snapshot file on this thread (the default), or, when
     * {@link #freezeSnapshot} gives a frozen state, the file is written from it on a thread of its
     * own while entries go on being applied. Then this returns -1 (no snapshot yet: Ratis purges
     * nothing and asks again after its next applies) and, once the file is complete, the index
     * of that snapshot the next time Ratis asks (Ratis then purges the log up to it). A snapshot
     * that failed or was cancelled ({@link #pause}, {@link #cancelBackgroundSnapshot}) leaves no
     * file; one that an installed snapshot made stale is dropped.
     *
     * @return the snapshot's index, or -1 if nothing was applied yet, snapshots are not allowed,
     *     or a snapshot is being written in the background
     */
    @Override
    public final long takeSnapshot() throws IOException {
        Background bg = background;
        if (bg != null) {
            if (!bg.done.isDone()) {
                return -1;
            }
            background = null;
            Long written = bg.done.exceptionally(e -> null).join();
            var latest = storage.getLatestSnapshot();
            if (written != null && latest != null && latest.getIndex() == written) {
                return written;
            }
        }
        TermIndex last = getLastAppliedTermIndex();
        if (last == null || last.getIndex() <= 0 || !snapshotsAllowed()) {
            return -1;
        }
        long started = System.nanoTime();
        beforeSnapshot(last.getIndex());
        Frozen frozen = freezeSnapshot(last.getIndex());
        if (frozen == null) {
            writeSnapshotFile(last, out -> writeSnapshot(out, last.getIndex()), () -> false);
            return last.getIndex();
        }
        var latest = storage.getLatestSnapshot();
        if (latest != null && latest.getIndex() == last.getIndex()) {
            frozen.close(); // nothing applied since the latest snapshot
            return last.getIndex();
        }
        lastSnapshotPauseNanos = System.nanoTime() - started;
        Background b = new Background(last, new CompletableFuture<>());
        background = b;
        Thread.ofPlatform()
                .daemon()
                .name("snapshot-" + getGroupId() + "-" + last.getIndex())
                .start(() -> writeInBackground(b, frozen, started));
        return -1;
    }

    private void writeInBackground(Background b, Frozen frozen, long started) {
        long index = b.at.getIndex();
        Long written = null;
        Exception failure = null;
        try (frozen) {
            var before = storage.getLatestSnapshot();
            if (before == null || before.getIndex() < index) { // else a snapshot installed meanwhile is newer
                writeSnapshotFile(b.at, frozen::write, () -> b.cancelled);
                written = index;
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
        }
        // completed only once the frozen state is let go of, so the next snapshot may freeze again
        if (failure == null) {
            LOG.info(
                    "{}: snapshot at index {}: the apply thread paused {} ms, written in the background in {} ms",
                    getGroupId(),
                    index,
                    lastSnapshotPauseNanos / 1_000_000,
                    (System.nanoTime() - started) / 1_000_000);
            b.done.complete(written);
        } else {
            if (!b.cancelled) {
                LOG.warn("{}: snapshot at index {} failed: {}", getGroupId(), index, failure.toString());
            }
            b.done.completeExceptionally(failure);
        }
    }

    /**
     * Writes the snapshot file at {@code at} through a temporary file (fsynced, renamed, MD5
     * beside it) and makes it the latest, unless a newer one is there by then.
     */
    private void writeSnapshotFile(TermIndex at, Writer writer, BooleanSupplier cancelled) throws IOException {
        File file = storage.getSnapshotFile(at.getTerm(), at.getIndex());
        Path tmp = file.toPath().resolveSibling(file.getName() + ".tmp");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    if (cancelled.getAsBoolean()) {
                        throw new IOException("snapshot at index " + at.getIndex() + " cancelled");
                    }
                    super.write(b, off, len);
                }
            }) {
                writer.write(out);
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp); // a snapshot that failed (e.g. a full disk) must not keep its space
            throw e;
        }
        // the MD5 is read from the temporary file and saved before the file gets its name: Ratis
        // lists snapshot files by name, and one listed without its MD5 (while a large file was
        // being read for it) was logged as "missing MD5 file" and could be sent unchecked
        MD5Hash md5;
        try {
            md5 = MD5FileUtil.computeMd5ForFile(tmp.toFile());
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        synchronized (storage) {
            var latest = storage.getLatestSnapshot();
            if (latest != null && latest.getIndex() >= at.getIndex()) {
                Files.deleteIfExists(tmp);
                return;
            }
            MD5FileUtil.saveMD5File(file, md5);
            Files.move(tmp, file.toPath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(file.toPath(), md5), at));
            storage.cleanupOldSnapshots(KEEP_TWO_SNAPSHOTS);
        }
        try {
            ByteBuffer digest = md5.getDigest();
            byte[] bytes = new byte[digest.remaining()];
            digest.duplicate().get(bytes);
            snapshotWritten(file.toPath(), at, bytes);
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: after writing the snapshot at index {}: {}", getGroupId(), at.getIndex(), e.toString());
        }
    }

    /**
     * Called once a snapshot file was written and made the latest (on the thread that wrote it),
     * e.g. to describe it for members that catch up. Default: nothing. A failure here is logged
     * and leaves the snapshot as it is.
     *
     * @param md5 the file's MD5 (16 bytes)
     * @throws IOException if describing it failed
     */
    protected void snapshotWritten(Path file, TermIndex at, byte[] md5) throws IOException {}

    /**
     * Stops a snapshot being written in the background, if any, and waits (up to 30 s) until its
     * thread has let go of the frozen state and the temporary file. For {@link #pause} (a
     * snapshot from the leader replaces the state) and {@code close}.
     */
    protected final void cancelBackgroundSnapshot() {
        Background bg = background;
        if (bg != null) {
            bg.cancelled = true;
            try {
                bg.done.get(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                // cancelled, failed, or still stuck: nothing more to do here
            }
        }
    }

    /**
     * Waits until no snapshot is being written in the background (for tools that need a snapshot
     * file, e.g. before a member catches up).
     *
     * @return true if none is being written now, false if one still was at the deadline
     * @throws InterruptedException if interrupted while waiting
     */
    public final boolean awaitBackgroundSnapshot(Duration timeout) throws InterruptedException {
        Background bg = background;
        if (bg == null) {
            return true;
        }
        try {
            bg.done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            // failed: not being written any more
        } catch (TimeoutException e) {
            return false;
        }
        return true;
    }

    /** How long the apply thread was held by the latest snapshot taken in the background, in ns; -1 before one. */
    public final long lastSnapshotPauseNanos() {
        return lastSnapshotPauseNanos;
    }

    /**
     * Freezes the state at {@code index} (after {@link #beforeSnapshot}) for a snapshot to be
     * written from on another thread, or returns null (the default) to write it on this thread
     * with {@link #writeSnapshot}. Runs on the state machine updater thread: no entry is applied
     * meanwhile, and this is the whole pause of the applies.
     */
    protected Frozen freezeSnapshot(long index) throws IOException {
        return null;
    }

    /** Writes a snapshot stream. */
    @FunctionalInterface
    protected interface Writer {
        void write(OutputStream out) throws IOException;
    }

    /** A state frozen by {@link #freezeSnapshot}: written once on another thread, then closed. */
    protected interface Frozen extends AutoCloseable {
        /** Writes the snapshot stream of the frozen state. */
        void write(OutputStream out) throws IOException;

        /** Lets go of the frozen state. */
        @Override
        void close() throws IOException;
    }

    private static final class Background {
        final TermIndex at;
        final CompletableFuture<Long> done;
        volatile boolean cancelled;

        Background(TermIndex at, CompletableFuture<Long> done) {
            this.at = at;
            this.done = done;
        }
    }

    /**
     * Whether a snapshot may be taken now (default: always). When not, {@link #takeSnapshot()}
     * takes none and returns -1, and Ratis keeps the log instead of purging it.
     */
    protected boolean snapshotsAllowed() {
        return true;
    }

    /** Makes the state durable up to {@code index} before its snapshot is written (default: nothing). */
    protected void beforeSnapshot(long index) throws IOException {}

    /** Writes the whole state, as of applied index {@code index}, to {@code out}. */
    protected abstract void writeSnapshot(OutputStream out, long index) throws IOException;

    /**
     * A transaction that is answered with {@code error} and never logged; the client reads the
     * errno back ({@link Refusal#decode}).
     */
    protected static TransactionContext refused(TransactionContext.Builder b, HoldfastException error) {
        TransactionContext refused = b.build();
        refused.setException(Refusal.exception(error));
        return refused;
    }

    /** The clock's time in nanoseconds since the epoch, as log entries carry it. */
    protected static long epochNanos(InstantSource clock) {
        Instant now = clock.instant();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /**
     * The file of a snapshot, after checking it against its saved MD5.
     *
     * @throws IOException if the file does not match its MD5
     */
    protected static File verifiedFile(SingleFileSnapshotInfo snapshot) throws IOException {
        File file = snapshot.getFile().getPath().toFile();
        MD5Hash md5 = snapshot.getFile().getFileDigest();
        if (md5 != null) {
            MD5FileUtil.verifySavedMD5(file, md5);
        }
        return file;
    }
}
