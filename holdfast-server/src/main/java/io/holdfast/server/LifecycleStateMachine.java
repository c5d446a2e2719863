package io.holdfast.server;

import io.holdfast.common.HoldfastException;
import io.holdfast.transport.Refusal;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.InstantSource;
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
 *       Ratis's state machine updater thread, so no entry is applied meanwhile.
 * </ul>
 */
public abstract class LifecycleStateMachine extends BaseStateMachine {
    private static final SnapshotRetentionPolicy KEEP_TWO_SNAPSHOTS = new SnapshotRetentionPolicy() {
        @Override
        public int getNumSnapshotsRetained() {
            return 2;
        }
    };

    protected final SimpleStateMachineStorage storage = new SimpleStateMachineStorage();

    @Override
    public final StateMachineStorage getStateMachineStorage() {
        return storage;
    }

    @Override
    public void pause() {
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
     * Writes a snapshot at the last applied index: {@link #beforeSnapshot}, then
     * {@link #writeSnapshot} into the snapshot file.
     *
     * @return the snapshot's index, or -1 if nothing was applied yet or snapshots are not allowed
     */
    @Override
    public final long takeSnapshot() throws IOException {
        TermIndex last = getLastAppliedTermIndex();
        if (last == null || last.getIndex() <= 0 || !snapshotsAllowed()) {
            return -1;
        }
        beforeSnapshot(last.getIndex());
        File file = storage.getSnapshotFile(last.getTerm(), last.getIndex());
        Path tmp = file.toPath().resolveSibling(file.getName() + ".tmp");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
                writeSnapshot(out, last.getIndex());
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp); // a snapshot that failed (e.g. a full disk) must not keep its space
            throw e;
        }
        Files.move(tmp, file.toPath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        MD5Hash md5 = MD5FileUtil.computeAndSaveMd5ForFile(file);
        storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(file.toPath(), md5), last));
        storage.cleanupOldSnapshots(KEEP_TWO_SNAPSHOTS);
        return last.getIndex();
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
