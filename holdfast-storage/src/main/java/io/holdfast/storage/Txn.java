package io.holdfast.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * One entry's changes: its RocksDB batch, with a read-your-writes overlay for point reads, and
 * the data-file operations it makes (run and recorded for redo by {@link Redo}). Not
 * thread-safe; closed by the apply that made it.
 */
final class Txn implements Kv, AutoCloseable {
    private static final Object DELETED = new Object();
    private final Kv base;
    final WriteBatch batch = new WriteBatch();
    final Map<ByteBuffer, Object> overlay = new HashMap<>();
    final List<Redo.PhysOp> ops = new ArrayList<>();

    /** A transaction over {@code base}, the open database. */
    Txn(Kv base) {
        this.base = base;
    }

    @Override
    public byte[] get(byte[] key) throws IOException {
        Object o = overlay.get(ByteBuffer.wrap(key));
        if (o == DELETED) {
            return null;
        }
        if (o != null) {
            return (byte[]) o;
        }
        return base.get(key);
    }

    void put(byte[] key, byte[] value) {
        overlay.put(ByteBuffer.wrap(key), value);
        try {
            batch.put(key, value);
        } catch (RocksDBException e) {
            throw new IllegalStateException(e);
        }
    }

    void delete(byte[] key) {
        overlay.put(ByteBuffer.wrap(key), DELETED);
        try {
            batch.delete(key);
        } catch (RocksDBException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Deletes a key range. Point reads of keys in the range are not answered from this batch afterwards, so callers
     * must not read them back in the same entry (none does).
     */
    void deleteRange(byte[] from, byte[] to) {
        overlay.keySet().removeIf(k -> {
            byte[] a = k.array();
            return Arrays.compareUnsigned(a, from) >= 0 && Arrays.compareUnsigned(a, to) < 0;
        });
        try {
            batch.deleteRange(from, to);
        } catch (RocksDBException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes the entry's own data (a {@code Request.Write}'s) at {@code pos} of inode {@code id}'s data file. */
    void pwriteEntry(long id, long pos) {
        ops.add(new Redo.PhysOp(Redo.OP_PWRITE_ENTRY, id, pos, null));
    }

    /** Writes {@code bytes} at {@code pos} of inode {@code id}'s data file. */
    void pwrite(long id, long pos, byte[] bytes) {
        ops.add(new Redo.PhysOp(Redo.OP_PWRITE, id, pos, bytes));
    }

    /** Sets the length of inode {@code id}'s data file (created if missing), in bytes. */
    void setLength(long id, long length) {
        ops.add(new Redo.PhysOp(Redo.OP_SETLEN, id, length, null));
    }

    /** Deletes inode {@code id}'s data file. */
    void deleteFile(long id) {
        ops.add(new Redo.PhysOp(Redo.OP_DELETE, id, 0, null));
    }

    /** Makes {@code [pos, pos + length)} of inode {@code id}'s data file read as zeros. */
    void zero(long id, long pos, long length) {
        ops.add(new Redo.PhysOp(Redo.OP_ZERO, id, pos, null, length));
    }

    @Override
    public void close() {
        batch.close();
    }
}
