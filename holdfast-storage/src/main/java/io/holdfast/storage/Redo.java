package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The data-file side of applying entries: the physical operations an entry makes on data
 * files, their redo records, and the checkpoint that makes them durable and drops the records.
 *
 * <h2>Apply, durability and redo</h2>
 *
 * <p>Each entry is one RocksDB {@link WriteBatch} that includes the new applied index (RocksDB
 * writes go to its WAL without fsync). Data-file changes are physical, idempotent operations
 * (pwrite at an offset, shrink to a length, delete) done with positional I/O and no fsync;
 * they are recorded in the same batch as a redo record under the entry's index. A
 * {@link #checkpoint()} fsyncs all data files touched since the previous one, then durably
 * records {@code checkpointIndex = appliedIndex} and drops the redo records. After a crash
 * the Raft layer replays entries {@code (checkpointIndex, ...]}; for those at or below
 * {@link Brick#appliedIndex()} the brick re-runs exactly the recorded physical operations in log
 * order (the bytes of a write come from the replayed entry itself), which rebuilds the data
 * files as they were, whatever subset of the unsynced writes reached the disk. Metadata is
 * not touched again, so it is applied exactly once.
 *
 * <p>Why replay is exact: the physical length of a data file always equals the file size, and
 * every operation sets the bytes it affects independently of the file's prior content: a
 * pwrite sets its range; a set-length sets the exact length; an operation that makes a hole
 * (growing truncate, write past the end) first sets the length to the old size, so the hole
 * reads zeros even if bytes of a later, superseded extension reached the disk before the
 * crash; a promotion from inline first empties the file. So for every byte, the last
 * operation after the checkpoint that affected it is replayed and gives the same value, and
 * a byte no such operation affected still holds its fsynced checkpoint value. A zeroing
 * operation (fallocate's punch or zero-range) sets its range to zeros whatever was there.
 *
 * <p>Redo record ({@code R} key, big-endian): {@code count:i32} then per operation {@code
 * kind:u8 inode:i64 arg:i64}, followed by {@code length:i32 bytes} for {@link #OP_PWRITE} and
 * {@code length:i64} for {@link #OP_ZERO}.
 *
 * <p>Not thread-safe: called under the apply lock's write lock.
 */
final class Redo {
    /**
     * pwrite of the entry's own data ({@link Request.Write#carriedBy}: its write, or the write its
     * batch ends with; at most one per entry) at {@code arg}; the bytes are not recorded.
     */
    static final byte OP_PWRITE_ENTRY = 1;
    /** pwrite of the recorded bytes at {@code arg}. */
    static final byte OP_PWRITE = 2;
    /** Set the length to {@code arg} (created if missing, extended with zeros). */
    static final byte OP_SETLEN = 3;
    /** Delete the data file. */
    static final byte OP_DELETE = 4;
    /** Make {@code [arg, arg + length)} read as zeros (punched where the file system can). */
    static final byte OP_ZERO = 5;

    /** A data-file operation; {@code length} is used by {@link #OP_ZERO} only. */
    record PhysOp(byte kind, long inode, long arg, byte[] bytes, long length) {
        PhysOp(byte kind, long inode, long arg, byte[] bytes) {
            this(kind, inode, arg, bytes, 0);
        }
    }

    private final BrickState state;
    /** Data files written since the last checkpoint. */
    private final Set<Long> dirty = new HashSet<>();

    Redo(BrickState state) {
        this.state = state;
    }

    /**
     * Records {@code t}'s data-file operations, if any, in its batch as the redo record of entry
     * {@code index}, and runs them ({@code entryData}: the bytes of the entry's write, or null).
     */
    void recordAndRun(Txn t, long index, byte[] entryData) throws IOException {
        if (!t.ops.isEmpty()) {
            t.put(Keys.id(Keys.REDO, index), encodeOps(t.ops));
            runOps(t.ops, entryData);
        }
    }

    private static byte[] encodeOps(List<PhysOp> ops) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (DataOutputStream d = new DataOutputStream(bos)) {
            d.writeInt(ops.size());
            for (PhysOp op : ops) {
                d.writeByte(op.kind);
                d.writeLong(op.inode);
                d.writeLong(op.arg);
                if (op.kind == OP_PWRITE) {
                    d.writeInt(op.bytes.length);
                    d.write(op.bytes);
                } else if (op.kind == OP_ZERO) {
                    d.writeLong(op.length);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bos.toByteArray();
    }

    private static List<PhysOp> decodeOps(byte[] rec) throws IOException {
        DataInputStream d = new DataInputStream(new ByteArrayInputStream(rec));
        int count = d.readInt();
        List<PhysOp> ops = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte kind = d.readByte();
            long inode = d.readLong();
            long arg = d.readLong();
            byte[] bytes = null;
            long length = 0;
            if (kind == OP_PWRITE) {
                bytes = new byte[d.readInt()];
                d.readFully(bytes);
            } else if (kind == OP_ZERO) {
                length = d.readLong();
            }
            ops.add(new PhysOp(kind, inode, arg, bytes, length));
        }
        return ops;
    }

    private void runOps(List<PhysOp> ops, byte[] entryData) throws IOException {
        for (PhysOp op : ops) {
            Path p = state.dataPath(op.inode);
            switch (op.kind) {
                case OP_PWRITE_ENTRY -> pwrite(op.inode, op.arg, entryData);
                case OP_PWRITE -> pwrite(op.inode, op.arg, op.bytes);
                case OP_SETLEN -> {
                    try (FileChannel ch = state.openForWrite(op.inode, true)) {
                        long size = ch.size();
                        if (size > op.arg) {
                            ch.truncate(op.arg);
                        } else if (size < op.arg) {
                            ch.write(ByteBuffer.wrap(new byte[1]), op.arg - 1); // sparse extension with zeros
                        }
                    }
                    dirty.add(op.inode);
                }
                case OP_DELETE -> {
                    Files.deleteIfExists(p);
                    dirty.remove(op.inode);
                }
                case OP_ZERO -> {
                    state.unshare(p);
                    HolePunch.zero(p, op.arg, op.length);
                    dirty.add(op.inode);
                }
                default -> throw new IllegalStateException("unknown data-file operation " + op.kind);
            }
        }
    }

    private void pwrite(long id, long pos, byte[] bytes) throws IOException {
        try (FileChannel ch = state.openForWrite(id, true)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf, pos + buf.position());
            }
        }
        dirty.add(id);
    }

    /**
     * Replays entry {@code index} (at or below the applied index) after a restart: re-runs the
     * data-file operations recorded for it, if it is after the checkpoint.
     *
     * @throws HoldfastException {@link Errno#EIO} if a recorded write does not match the entry
     */
    void redo(long index, LogEntry entry) throws IOException {
        if (index <= state.checkpointIndex) {
            return;
        }
        byte[] rec;
        try {
            rec = state.db.get(Keys.id(Keys.REDO, index));
        } catch (RocksDBException e) {
            throw BrickState.rocks("read redo record " + index, e);
        }
        if (rec == null) {
            return;
        }
        List<PhysOp> ops = decodeOps(rec);
        byte[] data = null;
        for (PhysOp op : ops) {
            if (op.kind == OP_PWRITE_ENTRY) {
                if (!(Request.Write.carriedBy(entry.mutation()) instanceof Request.Write w)
                        || w.inode() != op.inode
                        || w.offset() != op.arg
                        || Checksums.crc32c(w.data()) != w.crc32c()) {
                    throw new HoldfastException(
                            Errno.EIO, "replayed entry " + index + " is not the write recorded for it");
                }
                data = w.data();
            }
        }
        runOps(ops, data);
    }

    /** See {@link Brick#checkpoint()}; the caller holds the write lock of an open brick. */
    void checkpoint() throws IOException {
        for (long id : dirty) {
            try (FileChannel ch = FileChannel.open(state.dataPath(id), StandardOpenOption.WRITE)) {
                ch.force(true);
            } catch (NoSuchFileException e) {
                // deleted since; the directory fsync below makes that durable
            }
        }
        BrickState.fsyncDir(state.dataDir);
        long applied = state.appliedIndex;
        try (WriteBatch b = new WriteBatch()) {
            b.put(Keys.CHECKPOINT, Keys.long8(applied));
            b.deleteRange(Keys.id(Keys.REDO, 0), Keys.id(Keys.REDO, applied + 1));
            state.db.write(state.syncOptions, b);
        } catch (RocksDBException e) {
            throw BrickState.rocks("checkpoint", e);
        }
        dirty.clear();
        state.checkpointIndex = applied;
    }

    /**
     * See {@link Brick#checkpoint(FrozenImage)}: records {@code index} (at most the applied
     * index) as the checkpoint once the caller made every data-file effect up to it durable, and
     * drops the redo records up to it; the files written since stay dirty. The caller holds the
     * write lock of an open brick.
     */
    void checkpointAt(long index) throws IOException {
        if (index <= state.checkpointIndex) {
            return;
        }
        if (index > state.appliedIndex) {
            throw new IllegalStateException(
                    "checkpoint at " + index + " is past the applied index " + state.appliedIndex);
        }
        try (WriteBatch b = new WriteBatch()) {
            b.put(Keys.CHECKPOINT, Keys.long8(index));
            b.deleteRange(Keys.id(Keys.REDO, 0), Keys.id(Keys.REDO, index + 1));
            state.db.write(state.syncOptions, b);
        } catch (RocksDBException e) {
            throw BrickState.rocks("checkpoint", e);
        }
        state.checkpointIndex = index;
    }

    /** Forgets the data files written since the checkpoint: the data directory was replaced by a durable one. */
    void forgetDirty() {
        dirty.clear();
    }
}
