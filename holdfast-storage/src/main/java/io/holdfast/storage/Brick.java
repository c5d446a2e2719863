package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * One replica's storage for one volume: metadata and small file content in RocksDB, larger
 * file content in data files, applied as a deterministic state machine over Raft log entries.
 *
 * <h2>Parts</h2>
 *
 * <p>This class is the brick's public face: it takes the locks, turns each entry into one
 * transaction and each query into an answer, and hands the work to package-private parts that
 * share one {@link BrickState} (directories, RocksDB handle, indexes, locks):
 * {@link Namespace} (inodes, directory entries, attributes, xattrs, with {@link Lookup} for
 * paths and {@link Permissions} for POSIX checks), {@link ContentStore} (inline content, 64 KiB
 * blocks with their CRC32Cs, holes and fallocate), {@link Redo} (data-file operations, redo
 * records, checkpoints), {@link Snapshots} (the snapshot format, restore and rebuild),
 * {@link BlockRepair} (the scrubber's block checks and repairs), {@link ReadViews} (states pinned
 * at an applied index: the scrub marks), {@link MarkDigest} and {@link StateDigest}.
 *
 * <h2>Layout</h2>
 *
 * <p>{@code dir/meta} is a RocksDB database (key layout in {@link Keys}); {@code dir/data/}
 * holds one data file per large regular file. How content is kept (inline or in 64 KiB
 * blocks with a CRC32C each), holes, fallocate(2) and SEEK_HOLE: see {@link ContentStore}.
 *
 * <h2>Apply, durability and redo</h2>
 *
 * <p>Each entry is one RocksDB {@link WriteBatch} that includes the new applied index; its
 * data-file changes are physical, idempotent operations recorded in the same batch as a redo
 * record, and {@link #checkpoint()} makes them durable. Why replaying them after a crash is
 * exact is explained in {@link Redo}.
 *
 * <h2>Errors</h2>
 *
 * <p>POSIX outcomes ({@code ENOENT}, {@code EACCES}, ...) are {@link Response.Error}s and are
 * deterministic. Failures of the brick itself (disk errors, RocksDB errors, a stored block
 * failing its CRC while being merged with a partial write) are {@link IOException}s and are
 * fatal for this member. Unknown or deleted inode numbers give {@code ENOENT} (not
 * {@code ESTALE}).
 *
 * <h2>Scrub</h2>
 *
 * <p>A scrubber's {@link ScrubPass} checks every 64 KiB block and inline content against its
 * stored CRC32C and rewrites a bad one with bytes from a healthy member, through
 * {@link BlockRepair}; the stored CRC32C is the judge. A {@link Request.ScrubMark} applied as
 * entry {@code i} pins a {@link ReadView} of exactly the state after {@code i};
 * {@link #digestMark} digests it per directory in the background (metadata and block checksums
 * only: data files are covered by the block checks), so members compare at the same index.
 *
 * <h2>Thread safety</h2>
 *
 * <p>{@link #apply}, {@link #checkpoint}, {@link #writeSnapshot}, {@link #restoreSnapshot} and
 * {@link #close} must be serialized by the caller (one state-machine thread). {@link #query},
 * {@link #digest}, {@link #appliedIndex} and {@link #checkpointIndex} may be called from any
 * thread concurrently with them: a read-write lock makes every query see the state between
 * two entries, never half of one. The scrub methods may be called from any thread too: block
 * checks hold the read lock for one block, repairs the write lock (so no entry is applied while
 * a block is checked against its CRC and rewritten), and {@link #digestMark} reads its view
 * under a separate lock that only closing the database takes, so it never delays an apply.
 */
public final class Brick implements AutoCloseable {
    /** Inode number of the root directory. */
    static final long ROOT = BrickState.ROOT;
    /** The block number that names a file's inline content in the scrub methods. */
    public static final long INLINE = Request.ScrubRead.INLINE;
    /** Most scrub marks whose read views are held; the oldest not being digested go when a new one is applied. */
    static final int MAX_MARKS = 4;
    /** Most frozen images open at once. */
    static final int MAX_FROZEN = 4;
    /** Bytes a mark digest reads between two pacer calls (and checks for a closed database). */
    static final long MARK_STEP_BYTES = 256 * 1024;

    private final BrickState state;
    private final Redo redo;
    private final ContentStore content;
    private final Namespace namespace;
    private final Snapshots snapshots;
    private final BlockRepair repair;
    private final StateDigest stateDigest;
    /** The states held at scrub marks, for {@link #digestMark}. */
    private final ReadViews marks;
    /** The metadata of the open {@link FrozenImage}s. */
    private final ReadViews frozen;
    /** What each entry changed, by name: the change feed. */
    private final ChangeLog changes;

    private Brick(Path dir) {
        this.state = new BrickState(dir);
        this.redo = new Redo(state);
        this.content = new ContentStore(state);
        this.namespace = new Namespace(state);
        this.snapshots = new Snapshots(state, redo);
        this.repair = new BlockRepair(state, content);
        this.stateDigest = new StateDigest(state, content);
        this.marks = new ReadViews(state, "scrub mark", MAX_MARKS);
        this.changes = new ChangeLog(state);
        this.frozen = new ReadViews(state, "frozen image", MAX_FROZEN);
        state.releaseViewsOnClose(() -> {
            marks.releaseAll();
            frozen.releaseAll();
        });
    }

    /**
     * Opens the brick in {@code dir}, creating it (with an empty root directory, applied index
     * 0) if {@code dir/meta} does not exist. Leftovers of an interrupted
     * {@link #restoreSnapshot} are cleaned up.
     *
     * @param dir the brick directory; created if missing
     * @return the open brick; the caller must {@link #close()} it
     * @throws HoldfastException {@link Errno#EPROTO} if the brick has an unsupported format
     *     version
     * @throws IOException if the directory or the database cannot be opened
     */
    public static Brick open(Path dir) throws IOException {
        Objects.requireNonNull(dir, "dir");
        RocksDB.loadLibrary();
        Files.createDirectories(dir);
        Brick b = new Brick(dir);
        b.snapshots.recoverInterruptedSwap();
        if (!Files.exists(b.state.metaDir)) {
            Files.createDirectories(b.state.dataDir); // a new brick; an existing one must still have its own
        }
        b.state.openDb();
        return b;
    }

    /**
     * Applies the mutation in {@code entry} as Raft log entry {@code index}; see the class
     * comment. Deterministic: the same entries in the same order give the same state on every
     * member. Not thread-safe: the caller serializes apply with checkpoint, snapshots and close.
     *
     * @param index the log index, greater than {@link #appliedIndex()} for a new entry (gaps are
     *     allowed), at most {@link #appliedIndex()} for a replay after a restart
     * @param entry the log entry
     * @return the outcome; {@link Response.Error} for POSIX errors (the applied index still
     *     advances); {@link Response.Ok} for a replayed entry
     * @throws IOException if the brick itself fails (disk error, disk full, corrupt stored
     *     block); the entry's batch has then not been written, the member must stop
     * @throws IllegalStateException if the brick is closed
     */
    public Response apply(long index, LogEntry entry) throws IOException {
        Objects.requireNonNull(entry, "entry");
        Objects.requireNonNull(entry.mutation().caller(), "caller");
        state.lock.writeLock().lock();
        try {
            state.ensureOpen();
            if (index <= state.appliedIndex) {
                redo.redo(index, entry);
                return new Response.Ok();
            }
            Txn t = new Txn(state.kv);
            try {
                Response r;
                List<Change> made = new ArrayList<>(1);
                try {
                    r = entry.mutation() instanceof Request.Batch b
                            ? applyBatch(t, entry.timestampNanos(), b, made)
                            : applyOne(t, entry.timestampNanos(), entry.mutation(), made);
                } catch (Fail f) {
                    t.close();
                    t = new Txn(state.kv);
                    made.clear();
                    r = new Response.Error(f.errno, f.getMessage());
                }
                ChangeLog.Pending logged =
                        made.isEmpty() ? null : changes.append(t, index, entry.timestampNanos(), made);
                t.put(Keys.APPLIED, Keys.long8(index));
                redo.recordAndRun(
                        t,
                        index,
                        Request.Write.carriedBy(entry.mutation()) instanceof Request.Write w ? w.data() : null);
                state.db.write(state.writeOptions, t.batch);
                state.appliedIndex = index;
                if (logged != null) {
                    changes.committed(logged);
                }
                if (entry.mutation() instanceof Request.ScrubMark) {
                    marks.pin(index);
                }
                return r;
            } catch (RocksDBException e) {
                throw BrickState.rocks("apply entry " + index, e);
            } finally {
                t.close();
            }
        } finally {
            state.lock.writeLock().unlock();
        }
    }

    /**
     * Applies a batch's mutations in order, each with its own outcome: a failed one is rolled back alone. Adds
     * the changes of those that succeeded to {@code made}.
     */
    private Response applyBatch(Txn t, long ts, Request.Batch b, List<Change> made)
            throws IOException, RocksDBException {
        List<Response> responses = new ArrayList<>(b.mutations().size());
        for (Request.Mutation m : b.mutations()) {
            Objects.requireNonNull(m.caller(), "caller");
            t.savepoint();
            try {
                responses.add(applyOne(t, ts, m, made));
                t.release();
            } catch (Fail f) {
                t.rollback();
                responses.add(new Response.Error(f.errno, f.getMessage()));
            }
        }
        return new Response.Batch(responses);
    }

    /** Applies one mutation and adds its changes to {@code made}: none if it wrote nothing (it found its work done). */
    private Response applyOne(Txn t, long ts, Request.Mutation m, List<Change> made) throws Fail, IOException {
        int before = t.writes();
        Response r = dispatch(t, ts, m);
        if (t.writes() != before) {
            ChangeLog.describe(t, m, r, made);
        }
        return r;
    }

    private Response dispatch(Txn t, long ts, Request.Mutation m) throws Fail, IOException {
        return switch (m) {
            case Request.Mkdir x -> namespace.mkdir(t, ts, x);
            case Request.Create x -> namespace.create(t, ts, x);
            case Request.Symlink x -> namespace.symlink(t, ts, x);
            case Request.Mknod x -> namespace.mknod(t, ts, x);
            case Request.Link x -> namespace.link(t, ts, x);
            case Request.Unlink x -> namespace.unlink(t, ts, x);
            case Request.Rmdir x -> namespace.rmdir(t, ts, x);
            case Request.Rename x -> namespace.rename(t, ts, x);
            case Request.SetAttr x -> namespace.setAttr(t, ts, x);
            case Request.SetXattr x -> namespace.setXattr(t, ts, x);
            case Request.RemoveXattr x -> namespace.removeXattr(t, ts, x);
            case Request.Write x -> content.write(t, ts, x);
            case Request.Truncate x -> content.truncate(t, ts, x);
            case Request.Fallocate x -> content.fallocate(t, ts, x);
            case Request.DropOrphan x -> namespace.dropOrphan(t, x);
            case Request.ScrubMark x -> new Response.Ok(); // the snapshot is taken after the batch is written
            case Request.Batch x -> throw new Fail(Errno.EINVAL, "a batch inside a batch");
        };
    }

    /**
     * Sets how much change feed history this member keeps ({@link ChangeFeedRetention}; default
     * {@link ChangeFeedRetention#DEFAULT}). Takes effect from the next applied entry, which trims at
     * most 16 records. Thread-safe.
     */
    public void changeFeedRetention(ChangeFeedRetention retention) {
        changes.retention(Objects.requireNonNull(retention, "retention"));
    }

    /** The scrubber's block checks and repairs ({@link ScrubPass}). */
    BlockRepair blocks() {
        return repair;
    }

    /** The data file of inode {@code id} (tests damage it). */
    Path dataPath(long id) {
        return state.dataPath(id);
    }

    /**
     * Makes everything applied so far durable: fsyncs every data file written since the last
     * checkpoint and the data directory, then durably records {@code checkpointIndex =
     * appliedIndex} (a synced RocksDB write, which also syncs the RocksDB WAL) and drops the
     * redo records up to it. Not thread-safe: the caller serializes it with apply.
     *
     * @throws IOException if an fsync or the RocksDB write fails; the checkpoint index is then
     *     unchanged
     * @throws IllegalStateException if the brick is closed
     */
    public void checkpoint() throws IOException {
        state.writing(() -> {
            redo.checkpoint();
            return null;
        });
    }

    /**
     * Makes the state at {@code image}'s index durable, as {@link #checkpoint()} would have at
     * that index, without holding up applies for the fsyncs: every data file of the image is
     * fsynced (each is the brick's file as of the image's index, or has been replaced since by a
     * copy that was fsynced when it was made), then the data directory, and only then, under the
     * apply lock for one synced RocksDB write, the checkpoint index is raised to the image's and
     * the redo records up to it dropped (those after it stay). Thread-safe with apply: meant for
     * the thread that writes the image's snapshot. Does nothing if the checkpoint is already at or
     * past the image's index, or if the brick's state was replaced since the freeze (a restore or
     * rebuild).
     *
     * @throws IOException if an fsync or the RocksDB write fails; the checkpoint index is then
     *     unchanged
     * @throws IllegalStateException if the brick is closed
     */
    public void checkpoint(FrozenImage image) throws IOException {
        Objects.requireNonNull(image, "image");
        image.fsyncData();
        BrickState.fsyncDir(state.dataDir);
        state.writing(() -> {
            if (image.generation() == state.generation) {
                redo.checkpointAt(image.index());
            }
            return null;
        });
    }

    /**
     * Whether the brick is open: false after {@link #close} or a failed {@link #rebuild} or
     * {@link #restoreSnapshot}. Thread-safe.
     */
    public boolean isOpen() {
        return state.isOpen();
    }

    /** The index of the last applied entry; 0 for a new brick. Thread-safe. */
    public long appliedIndex() {
        return state.appliedIndex;
    }

    /** The index up to which data files are known durable (fsynced). Thread-safe. */
    public long checkpointIndex() {
        return state.checkpointIndex;
    }

    /**
     * Answers a query from applied state. Thread-safe; may run concurrently with apply (it sees
     * the state between two entries). Never returns corrupt bytes: content failing its CRC32C
     * gives {@code Error(EIO, "corrupt block N of inode X: ...")}; other local I/O failures
     * also give {@code EIO}. Queries carry no caller, so no permission checks are made.
     *
     * @throws IllegalStateException if the brick is closed
     */
    public Response query(Request.Query q) {
        Objects.requireNonNull(q, "query");
        if (q instanceof Request.Compressed c) {
            return query(c.query()); // compressing is a node's business: the reply as it is
        }
        state.lock.readLock().lock();
        try {
            state.ensureOpen();
            return switch (q) {
                case Request.GetAttr x -> namespace.getAttr(x);
                case Request.GetAttrByInode x -> namespace.getAttrByInode(x);
                case Request.ReadDir x -> namespace.readDir(x);
                case Request.ReadDirPlus x -> namespace.readDirPlus(x);
                case Request.Read x -> content.read(x);
                case Request.SeekData x -> content.seekData(x);
                case Request.ReadLink x -> namespace.readLink(x);
                case Request.GetXattr x -> namespace.getXattr(x);
                case Request.ListXattr x -> namespace.listXattr(x);
                case Request.StatFs x -> namespace.statFs();
                case Request.Changes x -> changes.page(x);
                case Request.GetDigest x -> stateDigest.digest();
                case Request.ScrubRead x -> repair.scrubRead(x);
                case Request.MarkDigest x ->
                    throw new Fail(Errno.ENOTSUP, "mark digests are kept by a node's scrubber, not by a brick");
                case Request.MarkDirectories x ->
                    throw new Fail(Errno.ENOTSUP, "mark digests are kept by a node's scrubber, not by a brick");
                case Request.ScrubControl x ->
                    throw new Fail(Errno.ENOTSUP, "scrub control is answered by a node's scrubber, not by a brick");
                case Request.SnapshotRead x ->
                    throw new Fail(Errno.ENOTSUP, "snapshot files are kept by a node, not by a brick");
                case Request.LeaseRenew x ->
                    throw new Fail(Errno.ENOTSUP, "read leases are granted by a volume's leader, not by a brick");
                case Request.LeasePoll x ->
                    throw new Fail(Errno.ENOTSUP, "read leases are granted by a volume's leader, not by a brick");
                case Request.Compressed x -> throw new IllegalStateException("unwrapped above");
            };
        } catch (Fail f) {
            return new Response.Error(f.errno, f.getMessage());
        } catch (HoldfastException e) {
            return new Response.Error(e.errno(), Fail.detail(e));
        } catch (IOException e) {
            return new Response.Error(Errno.EIO, "brick I/O error: " + e.getMessage());
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /**
     * SHA-256 over the logical state: every inode with its attributes (type, mode and device
     * number of special files included), directory entries,
     * xattrs, symlink targets, orphans, the inode counter and count, file contents (as read and
     * CRC-verified), and the applied index. Checksums, the checkpoint index and redo records
     * are not included, so members that applied the same entries agree whatever their
     * checkpoints. Thread-safe.
     *
     * @throws HoldfastException {@link Errno#EIO} if stored content fails its CRC32C
     * @throws IOException if reading fails
     * @throws IllegalStateException if the brick is closed
     */
    public Response.Digest digest() throws IOException {
        return state.reading(stateDigest::digest);
    }

    /**
     * Writes a complete, self-describing snapshot of the state to {@code out}, which is flushed
     * but not closed: magic {@code "HFSNAP"}, version, applied index, every RocksDB entry but the
     * applied and checkpoint indexes and redo records, every data file, and a CRC32C footer (the
     * byte layout is in {@link Snapshots}).
     *
     * <p>Not thread-safe with apply: the caller serializes. Holes in data files are written out as
     * zeros.
     *
     * @throws IOException if reading the brick or writing {@code out} fails
     * @throws IllegalStateException if the brick is closed
     */
    public void writeSnapshot(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        state.reading(() -> {
            snapshots.write(out);
            return null;
        });
    }

    /**
     * Freezes the state at the applied index into a {@link FrozenImage}, cheaply enough for the
     * apply thread: a RocksDB snapshot of the metadata (in memory: no flush, no fsync; a RocksDB
     * checkpoint, which flushes the memtable and fsyncs, measured 30-950 ms on a loaded 2-core
     * machine) and a hard link of every data file; no data is copied. At most
     * {@value #MAX_FROZEN} images are open at once. The caller writes the snapshot stream
     * from the image on another thread while entries are applied, then closes it.
     *
     * <p>Data files are written in place, so a hard link alone would not freeze them: until the
     * image is closed, the first write (pwrite, set-length, zeroing, block repair) to a data file
     * it shares copies the file first ({@code copy_file_range(2)}: a reflink where the file
     * system shares extents, a full copy on ext4) and renames the copy over the brick's name, so
     * the image keeps the old bytes. That copy is the price, paid by the writing entry: one
     * file's size per file written while an image exists, not the brick's size.
     *
     * <p>Durability: the image is not fsynced and is deleted by {@link #open} after a crash; a
     * caller that needs the state durable at the image's index calls
     * {@link #checkpoint(FrozenImage)} (off the apply thread) before it relies on that.
     * Not thread-safe with apply: the caller serializes (as for {@link #writeSnapshot}).
     *
     * @return the image; the caller must {@link FrozenImage#close()} it
     * @throws HoldfastException {@link Errno#EEXIST} if an image at this index exists
     * @throws IOException if a link fails; nothing is left behind
     * @throws IllegalStateException if the brick is closed
     */
    public FrozenImage freeze() throws IOException {
        return state.reading(() -> snapshots.freeze(frozen));
    }

    /** Bytes of data files copied on write because a {@link FrozenImage} shared them, since the brick was opened. */
    public long copiedOnWriteBytes() {
        return state.copiedOnWriteBytes;
    }

    /**
     * Replaces this brick's whole state with the snapshot read from {@code in} (not closed).
     * The new state is built and verified (every length against a limit, record types, the
     * CRC32C footer, the brick format) in {@code dir/restore.tmp} and then swapped in; a bad or
     * truncated snapshot changes nothing. Afterwards {@code appliedIndex() == checkpointIndex()
     * ==} the snapshot's index and the new state is durable. Not thread-safe with apply: the
     * caller serializes.
     *
     * @throws HoldfastException {@link Errno#EBADMSG} for a corrupt or truncated snapshot
     *     (message starts "corrupt snapshot"), {@link Errno#EPROTO} for a version this brick
     *     cannot read ("too old" / "too new"); nothing was changed
     * @throws IOException if reading or writing fails; if it fails during the final swap the
     *     brick may be left closed
     * @throws IllegalStateException if the brick is closed
     */
    public void restoreSnapshot(InputStream in) throws IOException {
        Objects.requireNonNull(in, "in");
        state.writing(() -> {
            snapshots.restore(in);
            return null;
        });
    }

    /** This member's own log, as {@link #rebuild} replays it. */
    public interface LogSource {
        /** The first index the log still holds. */
        long firstIndex();

        /**
         * The entry at {@code index}, or null if that index holds nothing this brick applies
         * (a Raft configuration entry, a leader's no-op, an undecodable entry).
         *
         * @throws IOException if the log cannot give it
         */
        LogEntry entry(long index) throws IOException;
    }

    /**
     * Replaces this brick's state with another member's snapshot (null: an empty brick, index 0)
     * and then re-applies this member's own log entries after the snapshot up to the index it had
     * applied before, all under the write lock, so no entry is applied in between. Afterwards the
     * brick holds what it would hold had it applied every entry itself from the other member's
     * state: entries up to {@code max(snapshot index, old applied index)} are in it, and entries
     * at or below that which are applied later are replays (see {@link #apply}).
     *
     * <p>Used by the scrubber to rebuild a quarantined member. The snapshot is built and verified
     * as in {@link #restoreSnapshot} beside the brick, without the lock (entries are applied
     * meanwhile), before anything changes; and nothing changes either if the log no longer holds
     * the first entry to replay. Thread-safe; one rebuild at a time.
     *
     * @param snapshot a stream in the {@link #writeSnapshot} format (not closed), or null
     * @param log this member's log
     * @return the snapshot's index
     * @throws HoldfastException {@link Errno#EBADMSG} or {@link Errno#EPROTO} for a bad snapshot,
     *     {@link Errno#ERANGE} if the log starts after the snapshot; nothing was changed
     * @throws IOException if building fails (nothing changed), or if replaying the log fails: the
     *     brick is then closed, since it is behind the entries the member has applied
     * @throws IllegalStateException if the brick is closed
     */
    public synchronized long rebuild(InputStream snapshot, LogSource log) throws IOException {
        return snapshots.rebuild(snapshot, log, this::apply);
    }

    /**
     * Closes the database. Does not checkpoint: data written since the last checkpoint is
     * recovered by replaying the log. Idempotent. Not thread-safe with apply.
     */
    @Override
    public void close() {
        state.lock.writeLock().lock();
        try {
            state.closeDb();
        } finally {
            state.lock.writeLock().unlock();
        }
    }

    /**
     * The indexes of the marks whose state this brick still holds (applied here since it was
     * opened, at most {@value #MAX_MARKS}, not yet digested), oldest first. Thread-safe.
     */
    public List<Long> heldMarks() {
        return marks.indexes();
    }

    /** Receives per-directory digests from {@link #digestMark}, in directory order. */
    @FunctionalInterface
    public interface DirectorySink {
        /**
         * One directory's digest.
         *
         * @param directory its inode; 0 for the volume-wide state (counters and orphans)
         * @param digest the first 64 bits of its SHA-256
         * @throws IOException if the sink cannot keep it
         */
        void accept(long directory, long digest) throws IOException;
    }

    /**
     * Digests the state this brick held right after applying mark {@code mark}, per directory,
     * and then releases that state. For each directory (by inode): its attributes and extended
     * attributes, then each entry in name order (name, inode, type) and, for an entry that is not
     * a directory, the child's attributes, extended attributes, symbolic link target and content
     * checksums (the CRC32C and length of inline content, the block CRC32Cs of a data file: the
     * content itself is checked against them by the scrubber's block checks, and a RocksDB
     * snapshot does not cover data files). Directory 0 stands for the inode counters and the
     * orphans. The result is SHA-256 over every (directory, digest) in
     * order; members that applied the same entries get the same digests.
     *
     * <p>Reads from the mark's {@link ReadView} in steps of about {@value #MARK_STEP_BYTES}
     * bytes, calling {@link Pacer#acquire} after each, without the apply lock: applies go on
     * meanwhile. Blocking; call it from a background thread. Not to be called twice at once for
     * the same mark.
     *
     * @return the SHA-256 (32 bytes)
     * @throws HoldfastException {@link Errno#ENOENT} if the brick does not hold that mark (never
     *     applied here, already digested, or released when the brick was restored or closed)
     * @throws IOException if RocksDB or the sink fails
     * @throws InterruptedException if interrupted while pacing; the mark is released all the same
     */
    public byte[] digestMark(long mark, Pacer pacer, DirectorySink sink) throws IOException, InterruptedException {
        Objects.requireNonNull(pacer, "pacer");
        Objects.requireNonNull(sink, "sink");
        try (ReadView view = marks.open(mark)) {
            return MarkDigest.digest(view, pacer, sink, MARK_STEP_BYTES);
        }
    }

    /** Releases the state held for a mark, if any. Thread-safe. */
    public void releaseMark(long mark) {
        marks.release(mark);
    }
}
