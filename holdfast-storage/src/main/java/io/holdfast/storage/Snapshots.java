package io.holdfast.storage;

import static io.holdfast.storage.BrickState.FORMAT_VERSION;
import static io.holdfast.storage.BrickState.ROOT;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.LogEntry;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.LongFunction;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A brick's snapshot format, and installing a snapshot: writing the whole state as one
 * self-describing stream, building a brick from one beside the live brick, and swapping it in
 * (for {@link Brick#restoreSnapshot}, and for {@link Brick#rebuild} followed by a replay of the
 * member's own log).
 *
 * <p>Format (big-endian):
 *
 * <pre>
 *  "HFSNAP" version:i32 appliedIndex:i64
 *  { 1 keyLen:i32 key valueLen:i32 value }*      every RocksDB entry except the applied and
 *                                              checkpoint indexes and redo records
 *  { 2 inode:i64 length:i64 bytes }*             every data file, as stored
 *  0
 *  crc32c:i32                                    of every byte before it
 * </pre>
 *
 * <p>Reading checks every length against a limit, the record types and key prefixes, the
 * CRC32C footer, and the brick format of the result; a bad or truncated stream is an
 * {@link Errno#EBADMSG} ("corrupt snapshot: ..."), a version outside
 * [{@value #SNAPSHOT_MIN_VERSION}, {@value #SNAPSHOT_VERSION}] an {@link Errno#EPROTO}
 * ("too old" / "too new"), and nothing of the live brick has changed.
 *
 * <p>Swap: the new {@code meta/} and {@code data/} are built in {@code restore.tmp/} or
 * {@code rebuild.tmp/}, fsynced, then moved in place of the old ones (kept as {@code *.old}
 * until the swap is done); {@link #recoverInterruptedSwap} puts the old ones back after a crash
 * in between.
 */
final class Snapshots {
    static final byte[] SNAPSHOT_MAGIC = "HFSNAP".getBytes(StandardCharsets.US_ASCII);
    /** Version 2 adds the change feed's keys ('P', 'L', 'l'; see {@link ChangeLog}). */
    static final int SNAPSHOT_VERSION = 2;

    static final int SNAPSHOT_MIN_VERSION = 1;
    static final int SNAPSHOT_MAX_KEY_BYTES = 16 + Limits.NAME_MAX + 16;
    static final int SNAPSHOT_MAX_VALUE_BYTES = Math.max(
            4 + Math.max(ContentStore.INLINE_MAX_BYTES, Limits.MAX_XATTR_VALUE_BYTES), ChangeLog.MAX_RECORD_BYTES);
    private static final int SNAP_END = 0;
    private static final int SNAP_KV = 1;
    private static final int SNAP_FILE = 2;
    private static final long RESTORE_BATCH_BYTES = 4L << 20;
    /** The directory of a brick that holds its frozen images ({@link #freeze}). */
    static final String FROZEN = "frozen";

    /** Applies a replayed entry, as {@link Brick#apply} does. */
    @FunctionalInterface
    interface Replay {
        void apply(long index, LogEntry entry) throws IOException;
    }

    private final BrickState state;
    private final Redo redo;

    Snapshots(BrickState state, Redo redo) {
        this.state = state;
        this.redo = redo;
    }

    /** See {@link Brick#writeSnapshot}; the caller holds the read lock of an open brick. */
    void write(OutputStream out) throws IOException {
        try (ReadOptions options = new ReadOptions()) {
            writeStream(state.db, options, state.appliedIndex, state::dataPath, out);
        }
    }

    /**
     * See {@link Brick#freeze}; the caller holds the read lock of an open brick, so no entry is
     * applied and no block repaired meanwhile. Pins the metadata as a RocksDB snapshot in
     * {@code views} (in memory: no flush, no fsync) and builds {@code frozen/<index>.tmp/data/}
     * (a hard link of every data file), renamed to {@code frozen/<index>/}. Not fsynced: an image
     * lives only until its stream is written, and {@link Brick#open} deletes every image
     * (finished or not) that a crash left.
     */
    FrozenImage freeze(ReadViews views) throws IOException {
        long index = state.appliedIndex;
        Path root = state.dir.resolve(FROZEN);
        Path tmp = root.resolve(index + ".tmp");
        Path done = root.resolve(Long.toString(index));
        BrickState.deleteTree(tmp);
        if (Files.exists(done)) {
            throw new HoldfastException(Errno.EEXIST, "a frozen image at index " + index + " exists: " + done);
        }
        ReadView view = null;
        try {
            Path data = Files.createDirectories(tmp.resolve("data"));
            try (DirectoryStream<Path> files = Files.newDirectoryStream(state.dataDir)) {
                for (Path f : files) {
                    Files.createLink(data.resolve(f.getFileName()), f);
                }
            }
            Files.move(tmp, done, StandardCopyOption.ATOMIC_MOVE);
            views.pin(index);
            view = views.open(index);
        } catch (IOException | RuntimeException e) {
            BrickState.deleteTree(tmp);
            BrickState.deleteTree(done);
            throw e;
        }
        return new FrozenImage(done, index, state.generation, view);
    }

    /**
     * Writes the snapshot stream of a frozen image ({@link FrozenImage#writeSnapshot}): the same
     * bytes {@link #write} gave at the image's index. Needs no lock of the brick: the metadata is
     * read through the image's view (which holds the database open meanwhile), the data files
     * from the image's links.
     */
    static void writeFrozen(Path image, ReadView view, OutputStream out) throws IOException {
        Path data = image.resolve("data");
        if (!Files.isDirectory(data)) {
            throw new IOException("frozen image " + image + " is gone");
        }
        view.read((db, options) -> {
            writeStream(db, options, view.index(), id -> data.resolve(String.format("%016x", id)), out);
            return null;
        });
    }

    private static void writeStream(
            RocksDB db, ReadOptions options, long appliedIndex, LongFunction<Path> dataPath, OutputStream out)
            throws IOException {
        OutputStream shield = new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                flush();
            }
        };
        CheckedOutputStream cos = new CheckedOutputStream(shield, new CRC32C());
        DataOutputStream d = new DataOutputStream(new BufferedOutputStream(cos, 1 << 16));
        d.write(SNAPSHOT_MAGIC);
        d.writeInt(SNAPSHOT_VERSION);
        d.writeLong(appliedIndex);
        List<Long> files = new ArrayList<>();
        try (RocksIterator it = db.newIterator(options)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                if (k[0] == Keys.REDO || Arrays.equals(k, Keys.APPLIED) || Arrays.equals(k, Keys.CHECKPOINT)) {
                    continue;
                }
                byte[] v = it.value();
                d.writeByte(SNAP_KV);
                d.writeInt(k.length);
                d.write(k);
                d.writeInt(v.length);
                d.write(v);
                if (k[0] == Keys.INODE && Node.decode(v).inFile) {
                    files.add(Keys.idOf(k));
                }
            }
        }
        byte[] buf = new byte[1 << 16];
        for (long id : files) {
            Path p = dataPath.apply(id);
            if (!Files.exists(p)) {
                continue;
            }
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                long len = ch.size();
                d.writeByte(SNAP_FILE);
                d.writeLong(id);
                d.writeLong(len);
                long pos = 0;
                while (pos < len) {
                    ByteBuffer bb = ByteBuffer.wrap(buf, 0, (int) Math.min(buf.length, len - pos));
                    int r = ch.read(bb, pos);
                    if (r < 0) {
                        throw new IOException("data file " + p + " shrank while writing a snapshot");
                    }
                    d.write(buf, 0, r);
                    pos += r;
                }
            }
        }
        d.writeByte(SNAP_END);
        d.flush();
        int crc = (int) cos.getChecksum().getValue();
        out.write(Keys.int4(crc));
        out.flush();
    }

    /** See {@link Brick#restoreSnapshot}; the caller holds the write lock of an open brick. */
    void restore(InputStream in) throws IOException {
        Path tmp = state.dir.resolve("restore.tmp");
        BrickState.deleteTree(tmp);
        Files.createDirectories(tmp.resolve("data"));
        long index;
        try {
            index = buildFromSnapshot(in, tmp);
        } catch (IOException | RuntimeException e) {
            BrickState.deleteTree(tmp);
            throw e;
        }
        swapIn(tmp);
        state.appliedIndex = index;
        state.checkpointIndex = index;
    }

    /**
     * See {@link Brick#rebuild}: builds without the lock, then takes the write lock to swap in
     * and to replay entries through {@code replay}. The caller allows one rebuild at a time.
     */
    long rebuild(InputStream snapshot, Brick.LogSource log, Replay replay) throws IOException {
        Objects.requireNonNull(log, "log");
        state.ensureOpen();
        // built beside the brick without the lock (applies go on meanwhile); only swapping in and
        // replaying hold it
        Path tmp = state.dir.resolve("rebuild.tmp");
        BrickState.deleteTree(tmp);
        long index;
        try {
            if (snapshot == null) {
                createEmpty(tmp); // a new, empty brick: the state before entry 1
                index = 0;
            } else {
                Files.createDirectories(tmp.resolve("data"));
                index = buildFromSnapshot(snapshot, tmp);
            }
        } catch (IOException | RuntimeException e) {
            BrickState.deleteTree(tmp);
            throw e;
        }
        state.lock.writeLock().lock();
        try {
            long before = state.appliedIndex;
            try {
                state.ensureOpen();
                if (before > index && log.firstIndex() > index + 1) {
                    throw new HoldfastException(
                            Errno.ERANGE,
                            "this member's log starts at " + log.firstIndex() + ", after the snapshot's index " + index
                                    + ": entries in between cannot be replayed");
                }
            } catch (IOException | RuntimeException e) {
                BrickState.deleteTree(tmp);
                throw e;
            }
            swapIn(tmp);
            state.appliedIndex = index;
            state.checkpointIndex = index;
            try {
                for (long i = index + 1; i <= before; i++) {
                    LogEntry e = log.entry(i);
                    if (e != null) {
                        replay.apply(i, e);
                    }
                }
            } catch (IOException | RuntimeException e) {
                state.closeDb(); // behind what the member applied: it must not go on applying
                throw new IOException(
                        "brick " + state.dir + " rebuilt from a snapshot at " + index + " but replaying its log up to "
                                + before + " failed; the brick is closed: " + e.getMessage(),
                        e);
            }
            return index;
        } finally {
            state.lock.writeLock().unlock();
        }
    }

    /** Creates an empty brick (the state before entry 1) in {@code dir}. */
    private static void createEmpty(Path dir) throws IOException {
        BrickState empty = new BrickState(dir);
        Files.createDirectories(empty.dataDir);
        empty.openDb();
        empty.closeDb();
    }

    private long buildFromSnapshot(InputStream raw, Path tmp) throws IOException {
        BufferedInputStream bin = new BufferedInputStream(raw, 1 << 16);
        CheckedInputStream cin = new CheckedInputStream(bin, new CRC32C());
        DataInputStream d = new DataInputStream(cin);
        try (Options o = new Options().setCreateIfMissing(true);
                WriteOptions sync = new WriteOptions().setSync(true)) {
            byte[] magic = new byte[SNAPSHOT_MAGIC.length];
            d.readFully(magic);
            if (!Arrays.equals(magic, SNAPSHOT_MAGIC)) {
                throw badSnapshot("bad magic");
            }
            int version = d.readInt();
            if (version > SNAPSHOT_VERSION) {
                throw new HoldfastException(
                        Errno.EPROTO,
                        "snapshot version " + version + " is too new (this brick reads " + SNAPSHOT_MIN_VERSION + ".."
                                + SNAPSHOT_VERSION + ")");
            }
            if (version < SNAPSHOT_MIN_VERSION) {
                throw new HoldfastException(
                        Errno.EPROTO,
                        "snapshot version " + version + " is too old (this brick reads " + SNAPSHOT_MIN_VERSION + ".."
                                + SNAPSHOT_VERSION + ")");
            }
            long index = d.readLong();
            if (index < 0) {
                throw badSnapshot("negative applied index " + index);
            }
            Set<Long> seenFiles = new HashSet<>();
            try (RocksDB ndb = RocksDB.open(o, tmp.resolve("meta").toString())) {
                WriteBatch batch = new WriteBatch();
                try {
                    long batchBytes = 0;
                    byte[] buf = new byte[1 << 16];
                    while (true) {
                        int type = d.readUnsignedByte();
                        if (type == SNAP_END) {
                            break;
                        } else if (type == SNAP_KV) {
                            byte[] k = new byte[checkLength(d.readInt(), 1, SNAPSHOT_MAX_KEY_BYTES, "key")];
                            d.readFully(k);
                            byte[] v = new byte[checkLength(d.readInt(), 0, SNAPSHOT_MAX_VALUE_BYTES, "value")];
                            d.readFully(v);
                            if (k[0] == Keys.REDO
                                    || Arrays.equals(k, Keys.APPLIED)
                                    || Arrays.equals(k, Keys.CHECKPOINT)
                                    || (version >= 2 ? "MIDXSCBOPLl" : "MIDXSCBO").indexOf(k[0]) < 0) {
                                throw badSnapshot("unexpected key with prefix " + (k[0] & 0xff));
                            }
                            batch.put(k, v);
                            batchBytes += k.length + v.length;
                            if (batchBytes > RESTORE_BATCH_BYTES) {
                                ndb.write(sync, batch);
                                batch.close();
                                batch = new WriteBatch();
                                batchBytes = 0;
                            }
                        } else if (type == SNAP_FILE) {
                            long id = d.readLong();
                            long len = d.readLong();
                            if (id <= 0 || len < 0 || len > Limits.MAX_FILE_SIZE || !seenFiles.add(id)) {
                                throw badSnapshot("bad data file record for inode " + id + " of " + len + " bytes");
                            }
                            Path p = tmp.resolve("data").resolve(String.format("%016x", id));
                            try (FileChannel ch =
                                    FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                                long pos = 0;
                                while (pos < len) {
                                    int n = (int) Math.min(buf.length, len - pos);
                                    d.readFully(buf, 0, n);
                                    ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                                    while (bb.hasRemaining()) {
                                        ch.write(bb, pos + bb.position());
                                    }
                                    pos += n;
                                }
                                ch.force(true);
                            }
                        } else {
                            throw badSnapshot("unknown record type " + type);
                        }
                    }
                    int expected = (int) cin.getChecksum().getValue();
                    byte[] footer = new byte[4];
                    new DataInputStream(bin).readFully(footer);
                    if (Keys.int4(footer) != expected) {
                        throw badSnapshot("CRC32C footer mismatch");
                    }
                    batch.put(Keys.APPLIED, Keys.long8(index));
                    batch.put(Keys.CHECKPOINT, Keys.long8(index));
                    ndb.write(sync, batch);
                } finally {
                    batch.close();
                }
                byte[] f = ndb.get(Keys.FORMAT);
                if (f == null
                        || f.length != 8
                        || Keys.long8(f) != FORMAT_VERSION
                        || ndb.get(Keys.inode(ROOT)) == null) {
                    throw badSnapshot("missing brick format or root inode");
                }
            }
            BrickState.fsyncDir(tmp.resolve("data"));
            return index;
        } catch (EOFException e) {
            throw new HoldfastException(Errno.EBADMSG, "corrupt snapshot: truncated", e);
        } catch (RocksDBException e) {
            throw BrickState.rocks("restore snapshot", e);
        }
    }

    private static int checkLength(int len, int min, int max, String what) throws HoldfastException {
        if (len < min || len > max) {
            throw badSnapshot(what + " length " + len + " outside [" + min + ", " + max + "]");
        }
        return len;
    }

    private static HoldfastException badSnapshot(String what) {
        return new HoldfastException(Errno.EBADMSG, "corrupt snapshot: " + what);
    }

    /** Replaces meta/ and data/ by those in {@code tmp}; the old ones go to *.old then away. */
    private void swapIn(Path tmp) throws IOException {
        state.closeDb();
        Path oldMeta = state.dir.resolve("meta.old");
        Path oldData = state.dir.resolve("data.old");
        BrickState.deleteTree(oldMeta);
        BrickState.deleteTree(oldData);
        Files.move(state.metaDir, oldMeta, StandardCopyOption.ATOMIC_MOVE);
        Files.move(state.dataDir, oldData, StandardCopyOption.ATOMIC_MOVE);
        Files.move(tmp.resolve("meta"), state.metaDir, StandardCopyOption.ATOMIC_MOVE);
        Files.move(tmp.resolve("data"), state.dataDir, StandardCopyOption.ATOMIC_MOVE);
        BrickState.fsyncDir(state.dir);
        BrickState.deleteTree(oldMeta);
        BrickState.deleteTree(oldData);
        BrickState.deleteTree(tmp);
        redo.forgetDirty();
        state.generation++;
        state.openDb();
    }

    /**
     * After a crash during {@link #swapIn}: puts back the old state if the new is incomplete, and
     * removes what an interrupted restore or rebuild left. Called by {@link Brick#open} before the
     * database is opened.
     */
    void recoverInterruptedSwap() throws IOException {
        Path oldMeta = state.dir.resolve("meta.old");
        Path oldData = state.dir.resolve("data.old");
        if (Files.exists(oldMeta) && (!Files.exists(state.metaDir) || !Files.exists(state.dataDir))) {
            // the swap did not complete: the new state is incomplete, restore the old one
            Path tmp = state.dir.resolve("restore.tmp");
            if (Files.exists(state.metaDir)) {
                BrickState.deleteTree(state.metaDir);
            }
            Files.move(oldMeta, state.metaDir, StandardCopyOption.ATOMIC_MOVE);
            if (Files.exists(oldData)) {
                BrickState.deleteTree(state.dataDir);
                Files.move(oldData, state.dataDir, StandardCopyOption.ATOMIC_MOVE);
            }
            BrickState.deleteTree(tmp);
        }
        BrickState.deleteTree(oldMeta);
        BrickState.deleteTree(oldData);
        BrickState.deleteTree(state.dir.resolve("restore.tmp"));
        BrickState.deleteTree(state.dir.resolve("rebuild.tmp"));
        // a frozen image lives only until its stream is written, and a copy-on-write until its
        // rename: after a crash neither is used, and the image's links would make every data
        // file it shares be copied on its next write
        BrickState.deleteTree(state.dir.resolve(FROZEN));
        Files.deleteIfExists(state.dir.resolve(BrickState.COW_TMP));
    }
}
