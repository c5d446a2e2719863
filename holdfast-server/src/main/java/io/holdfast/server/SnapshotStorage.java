package io.holdfast.server;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;

/**
 * Ratis's {@link SimpleStateMachineStorage} that remembers that there is no snapshot yet.
 *
 * <p>The storage keeps the latest snapshot in memory once there is one, but while there is none
 * {@link #getLatestSnapshot} lists the snapshot directory and matches every name on each call,
 * and Ratis's log appender asks on every pass ({@code LogAppender.shouldInstallSnapshot}): on a
 * young volume's leader that listing took 4.7% of the CPU of a maildir delivery workload. Here a
 * listing that found none is remembered until something may have changed the snapshots: an
 * update with a snapshot (a load that finds one makes one), a clean-up, an {@link #init} or a
 * {@link #format}. Each of those moves a generation
 * number before and after the change, and "none" is believed only while the generation is the
 * one read before the listing, so a snapshot written concurrently with a listing that missed it
 * is never hidden.
 *
 * <p>Thread-safe, as its superclass.
 */
public final class SnapshotStorage extends SimpleStateMachineStorage {
    private final AtomicLong generation = new AtomicLong();
    /** The generation at which a listing found no snapshot; -1 when none did. */
    private volatile long noneAt = -1;

    @Override
    public SingleFileSnapshotInfo getLatestSnapshot() {
        long g = generation.get();
        if (noneAt == g) {
            return null;
        }
        SingleFileSnapshotInfo s = super.getLatestSnapshot();
        if (s == null) {
            noneAt = g;
        }
        return s;
    }

    /**
     * Ratis's {@code loadLatestSnapshot} (also called by {@link #getLatestSnapshot} while there is
     * none) ends here, with null when it found none: that changes nothing, and so does not count.
     */
    @Override
    public SingleFileSnapshotInfo updateLatestSnapshot(SingleFileSnapshotInfo info) {
        return info == null ? super.updateLatestSnapshot(null) : changing(() -> super.updateLatestSnapshot(info));
    }

    @Override
    public void init(RaftStorage storage) throws IOException {
        changing(() -> {
            super.init(storage);
            return null;
        });
    }

    @Override
    public void format() throws IOException {
        changing(() -> {
            super.format();
            return null;
        });
    }

    @Override
    public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) throws IOException {
        changing(() -> {
            super.cleanupOldSnapshots(policy);
            return null;
        });
    }

    /** Something that may change the snapshots, throwing {@code E}. */
    @FunctionalInterface
    private interface Change<T, E extends Exception> {
        T run() throws E;
    }

    /** Runs {@code change} between two moves of the generation (see the class comment). */
    private <T, E extends Exception> T changing(Change<T, E> change) throws E {
        generation.incrementAndGet();
        try {
            return change.run();
        } finally {
            generation.incrementAndGet();
        }
    }
}
