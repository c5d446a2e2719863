package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.io.IOException;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;

/**
 * A consistent, read-only view of a brick's state exactly as it was right after one applied
 * log index: a RocksDB snapshot taken under the apply lock between two entries and tagged with
 * that index, so that members reading the view at the same index read the same state whatever
 * they have applied since. It covers everything in RocksDB (metadata, inline content, block
 * CRC32Cs), not the data files, which go on changing.
 *
 * <p>Lifecycle: pinned by {@link ReadViews#pin} (by apply, right after the entry), claimed by
 * one reader with {@link ReadViews#open}, read with {@link #read} in as many steps as the
 * reader likes, without the apply lock (applies go on meanwhile), and closed with
 * {@link #close}, which releases the snapshot. A view is also released when its registry drops
 * it (bound exceeded, or the database closes for a restore or for good); reading it then fails.
 * The number held is bounded by the registry.
 *
 * <p>Thread-safe; one reader at a time (the one that opened it).
 */
final class ReadView implements AutoCloseable {
    /** Reads through a view: {@code options} has the view's snapshot set; neither is kept. */
    @FunctionalInterface
    interface Reader<T> {
        T read(RocksDB db, ReadOptions options) throws IOException, RocksDBException;
    }

    private final ReadViews owner;
    private final BrickState state;
    private final long index;
    final Snapshot snapshot;
    /** Whether a reader has opened it; guarded by the owner's lock. */
    boolean inUse;

    ReadView(ReadViews owner, BrickState state, long index, Snapshot snapshot) {
        this.owner = owner;
        this.state = state;
        this.index = index;
        this.snapshot = snapshot;
    }

    /** The applied index whose state the view holds. */
    long index() {
        return index;
    }

    /**
     * Runs {@code reader} against the view, holding the database open meanwhile (not the apply
     * lock).
     *
     * @throws HoldfastException {@link Errno#ENOENT} if the view was released (its registry
     *     dropped it, or the brick was restored or closed)
     * @throws IOException if {@code reader} fails, RocksDB's errors included
     */
    <T> T read(Reader<T> reader) throws IOException {
        state.dbLifetime.readLock().lock();
        try {
            if (!owner.holds(this) || state.db == null) {
                throw new HoldfastException(
                        Errno.ENOENT,
                        "state of " + owner.what() + " " + index + " was released (brick restored or closed)");
            }
            try (ReadOptions ro = new ReadOptions().setSnapshot(snapshot)) {
                return reader.read(state.db, ro);
            } catch (RocksDBException e) {
                throw BrickState.rocks("read the " + owner.what() + " view at " + index, e);
            }
        } finally {
            state.dbLifetime.readLock().unlock();
        }
    }

    /** Releases the view (its snapshot and its place in the registry), if not released already. Idempotent. */
    @Override
    public void close() {
        owner.release(this);
    }
}
