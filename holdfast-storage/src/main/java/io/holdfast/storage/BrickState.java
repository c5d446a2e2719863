package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.FileType;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.stream.Stream;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * What the parts of one {@link Brick} share: its directories, the RocksDB handle (one column
 * family, key layout in {@link Keys}) and its write options, the applied and checkpoint
 * indexes, and the two locks; also opening (with the start-up check), and closing the database.
 *
 * <p>Locks. {@link #lock} is the apply lock: apply, checkpoint, restore, the repairs and close
 * hold it for writing; queries, digests, writing a snapshot and block checks for reading, so a
 * reader sees the state between two entries, never half of one. {@link #dbLifetime} is held for
 * reading while a {@link ReadView} is read without the apply lock, and for writing while the
 * database is closed, so a view never reads a closed database. {@link #db} is replaced only
 * under the apply lock's write lock (a restore swaps the database), and set to null only under
 * both write locks.
 */
final class BrickState {
    /** Inode number of the root directory. */
    static final long ROOT = 1;
    /** On-disk format version of a brick, stored under the FORMAT meta key. */
    static final long FORMAT_VERSION = 1;

    /** Where {@link #unshare} copies a data file before renaming it over the shared one. */
    static final String COW_TMP = "cow.tmp";

    final Path dir;
    final Path metaDir;
    final Path dataDir;
    final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /**
     * Held (read) while a view's snapshot is read, (write) while the database is closed: views
     * are read without the apply lock, and must not read a closed database.
     */
    final ReentrantReadWriteLock dbLifetime = new ReentrantReadWriteLock();

    RocksDB db;
    private Options options;
    WriteOptions writeOptions;
    WriteOptions syncOptions;
    volatile long appliedIndex;
    /** Raised whenever a snapshot replaces the state (restore, rebuild): an older frozen image is not of it. */
    volatile long generation;
    /** Data files, and their bytes, copied by {@link #unshare} since the brick was opened. */
    volatile long copiedOnWriteFiles;

    volatile long copiedOnWriteBytes;
    volatile long checkpointIndex;
    private volatile boolean closed;
    /** Releases the pinned views; run before the database closes, under {@link #dbLifetime}'s write lock. */
    private Runnable releaseViews = () -> {};

    /** Point reads of the open database. */
    final Kv kv = key -> {
        try {
            return db.get(key);
        } catch (RocksDBException e) {
            throw rocks("read", e);
        }
    };

    BrickState(Path dir) {
        this.dir = dir;
        this.metaDir = dir.resolve("meta");
        this.dataDir = dir.resolve("data");
    }

    /** Sets what releases the pinned views before the database closes; called once, before {@link #openDb}. */
    void releaseViewsOnClose(Runnable release) {
        this.releaseViews = Objects.requireNonNull(release, "release");
    }

    /** The data file of inode {@code id}: {@code data/} and the inode as 16 lower-case hex digits. */
    Path dataPath(long id) {
        return dataDir.resolve(String.format("%016x", id));
    }

    /**
     * Opens inode {@code id}'s data file for writing: the one entry point for every writer of a
     * data file (apply, redo, block repair), so that a frozen snapshot image that shares the file
     * by a hard link never sees it change ({@link #unshare}).
     *
     * @param create whether a missing file is created
     */
    FileChannel openForWrite(long id, boolean create) throws IOException {
        Path p = dataPath(id);
        unshare(p);
        return create
                ? FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)
                : FileChannel.open(p, StandardOpenOption.WRITE);
    }

    /**
     * Breaks the hard link between data file {@code p} and a frozen snapshot image
     * ({@link Snapshots#freeze}) before the file is written in place: if the file has more than
     * one link, it is copied to {@code cow.tmp} in the brick directory ({@link Files#copy}, which
     * on Linux uses {@code copy_file_range(2)}: a reflink on file systems that share extents,
     * a full copy elsewhere, e.g. ext4), fsynced and renamed over {@code p}. The image keeps the
     * old inode, the brick writes the new one. A missing file is left missing. Costs one
     * {@code stat} per call, and a copy of the whole file on the first write to a file after a
     * freeze while the image exists; the copy's bytes are counted in {@link #copiedOnWriteBytes}.
     *
     * <p>Crash safety: the copy is durable before the rename, and both names hold the same bytes,
     * so whichever the directory keeps after a crash, redo from the checkpoint rebuilds the file.
     */
    void unshare(Path p) throws IOException {
        int links;
        try {
            links = (Integer) Files.getAttribute(p, "unix:nlink");
        } catch (NoSuchFileException e) {
            return;
        } catch (UnsupportedOperationException e) {
            return; // no link counts: no hard-linked images on this file system either (see Snapshots.freeze)
        }
        if (links <= 1) {
            return;
        }
        Path tmp = dir.resolve(COW_TMP);
        Files.deleteIfExists(tmp);
        Files.copy(p, tmp);
        long size;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
            size = ch.size();
        }
        Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        copiedOnWriteFiles++;
        copiedOnWriteBytes += size;
    }

    /** Whether the database is open: false after close, a failed open, or a failed swap. */
    boolean isOpen() {
        return !closed;
    }

    void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("brick " + dir + " is closed");
        }
    }

    /** Something that reads or changes the brick and may fail with an {@link IOException}. */
    @FunctionalInterface
    interface IoCall<T> {
        T call() throws IOException;
    }

    /** Runs {@code call} under the read lock, once the brick is known to be open. */
    <T> T reading(IoCall<T> call) throws IOException {
        lock.readLock().lock();
        try {
            ensureOpen();
            return call.call();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Runs {@code call} under the write lock, once the brick is known to be open. */
    <T> T writing(IoCall<T> call) throws IOException {
        lock.writeLock().lock();
        try {
            ensureOpen();
            return call.call();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Opens the database in {@link #metaDir}, creating an empty brick (root directory, applied
     * index 0) if it holds none, and checks an existing one ({@link #integrityProblem}).
     *
     * @throws HoldfastException {@link Errno#EPROTO} for another format version
     * @throws IOException naming what is wrong, if the brick is damaged or cannot be opened
     */
    void openDb() throws IOException {
        options = new Options().setCreateIfMissing(true);
        writeOptions = new WriteOptions();
        syncOptions = new WriteOptions().setSync(true);
        try {
            db = RocksDB.open(options, metaDir.toString());
            byte[] f = db.get(Keys.FORMAT);
            if (f == null) {
                try (WriteBatch b = new WriteBatch()) {
                    b.put(Keys.FORMAT, Keys.long8(FORMAT_VERSION));
                    b.put(Keys.APPLIED, Keys.long8(0));
                    b.put(Keys.CHECKPOINT, Keys.long8(0));
                    b.put(Keys.NEXT_INODE, Keys.long8(ROOT + 1));
                    b.put(Keys.INODE_COUNT, Keys.long8(1));
                    b.put(Keys.CHANGES_TRIMMED, Keys.long8(0)); // a new brick's change feed has all its history
                    b.put(Keys.inode(ROOT), new Node(FileType.DIRECTORY, 0755, 2, 0, 0, 0).encode());
                    db.write(syncOptions, b);
                }
            } else if (Keys.long8(f) != FORMAT_VERSION) {
                long v = Keys.long8(f);
                closeDb();
                throw new HoldfastException(
                        Errno.EPROTO,
                        "brick " + dir + " has format " + v + ", too " + (v > FORMAT_VERSION ? "new" : "old")
                                + " for this version (" + FORMAT_VERSION + ")");
            }
            String problem = f == null ? null : integrityProblem();
            if (problem != null) {
                closeDb();
                throw corrupt(problem);
            }
            appliedIndex = Keys.long8(db.get(Keys.APPLIED));
            checkpointIndex = Keys.long8(db.get(Keys.CHECKPOINT));
            closed = false;
        } catch (RocksDBException e) {
            closeDb();
            throw corrupt("its metadata (RocksDB in " + metaDir + ") cannot be opened: " + e.getMessage());
        }
    }

    /**
     * The start-up check of an existing brick: every RocksDB block checksum (metadata only; data
     * file blocks are the scrubber's job, and every read checks them), the counters, the root
     * directory, and the data directory. Returns what is wrong, or null.
     */
    private String integrityProblem() throws RocksDBException {
        try {
            db.verifyChecksum();
        } catch (RocksDBException e) {
            return "its metadata fails RocksDB's checksums: " + e.getMessage();
        }
        for (byte[] key : List.of(Keys.APPLIED, Keys.CHECKPOINT, Keys.NEXT_INODE, Keys.INODE_COUNT)) {
            byte[] v = db.get(key);
            if (v == null || v.length != 8) {
                return "its metadata lacks the counter " + new String(key, 1, key.length - 1, StandardCharsets.US_ASCII)
                        + (v == null ? "" : " (" + v.length + " bytes instead of 8)");
            }
        }
        Node root = Node.decodeOrNull(db.get(Keys.inode(ROOT)));
        if (root == null || root.type != FileType.DIRECTORY) {
            return "its root directory (inode " + ROOT + ") is "
                    + (root == null ? "missing or undecodable" : "a " + root.type);
        }
        if (!Files.isDirectory(dataDir)) {
            return "its data directory " + dataDir + " is missing";
        }
        return null;
    }

    private IOException corrupt(String problem) {
        return new IOException(
                "refusing brick " + dir + ": " + problem + ". Move the brick directory away (the member then"
                        + " rebuilds from the other members) or restore it from a backup");
    }

    /**
     * Releases the pinned views and closes the database; idempotent. The caller holds the write lock, or is opening.
     */
    void closeDb() {
        dbLifetime.writeLock().lock();
        try {
            releaseViews.run();
            if (db != null) {
                db.close();
                db = null;
            }
        } finally {
            dbLifetime.writeLock().unlock();
        }
        if (options != null) {
            options.close();
            writeOptions.close();
            syncOptions.close();
            options = null;
        }
        closed = true;
    }

    static IOException rocks(String what, RocksDBException e) {
        return new IOException("RocksDB failed to " + what + ": " + e.getMessage(), e);
    }

    static void fsyncDir(Path d) throws IOException {
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(x);
            }
        }
    }
}
