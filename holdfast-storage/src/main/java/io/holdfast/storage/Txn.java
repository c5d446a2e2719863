package io.holdfast.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * One entry's changes: its RocksDB batch, with a read-your-writes overlay for point reads and
 * prefix checks, and the data-file operations it makes (run and recorded for redo by
 * {@link Redo}). A {@link #savepoint} lets one mutation of a batch entry fail without undoing
 * the mutations before it. Not thread-safe; closed by the apply that made it.
 */
final class Txn implements Kv, AutoCloseable {
    private static final Object DELETED = new Object();
    /** In {@link #undo}: the key had no overlay value. */
    private static final Object ABSENT = new Object();

    private final Kv base;
    final WriteBatch batch = new WriteBatch();
    final Map<ByteBuffer, Object> overlay = new HashMap<>();
    final List<Redo.PhysOp> ops = new ArrayList<>();
    /** Overlay values replaced since the savepoint, oldest first ({@code null}: absent), or null without one. */
    private List<Map.Entry<ByteBuffer, Object>> undo;

    private int opsAtSavepoint;

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
        remember(ByteBuffer.wrap(key));
        overlay.put(ByteBuffer.wrap(key), value);
        try {
            batch.put(key, value);
        } catch (RocksDBException e) {
            throw new IllegalStateException(e);
        }
    }

    void delete(byte[] key) {
        remember(ByteBuffer.wrap(key));
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
        overlay.entrySet().removeIf(e -> {
            byte[] a = e.getKey().array();
            boolean in = Arrays.compareUnsigned(a, from) >= 0 && Arrays.compareUnsigned(a, to) < 0;
            if (in && undo != null) {
                undo.add(Map.entry(e.getKey(), e.getValue()));
            }
            return in;
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

    /** Keys put or deleted so far (what is rolled back is not counted). */
    int writes() {
        return batch.count();
    }

    /**
     * Marks the state to return to if the next mutation fails; {@link #release} or
     * {@link #rollback} ends it. One at a time.
     */
    void savepoint() {
        batch.setSavePoint();
        undo = new ArrayList<>();
        opsAtSavepoint = ops.size();
    }

    /** Keeps everything since the {@link #savepoint}. */
    void release() throws RocksDBException {
        batch.popSavePoint();
        undo = null;
    }

    /** Undoes every change since the {@link #savepoint}: keys, overlay and data-file operations. */
    void rollback() throws RocksDBException {
        batch.rollbackToSavePoint();
        for (int i = undo.size() - 1; i >= 0; i--) {
            Map.Entry<ByteBuffer, Object> e = undo.get(i);
            if (e.getValue() == ABSENT) {
                overlay.remove(e.getKey());
            } else {
                overlay.put(e.getKey(), e.getValue());
            }
        }
        ops.subList(opsAtSavepoint, ops.size()).clear();
        undo = null;
    }

    private void remember(ByteBuffer key) {
        if (undo != null) {
            Object old = overlay.get(key);
            undo.add(Map.entry(key, old == null ? ABSENT : old));
        }
    }

    /**
     * How many keys starting with {@code prefix} exist with this batch applied over {@code db},
     * counting at most {@code limit}. Not for prefixes a {@link #deleteRange} of this batch covers.
     */
    int countWithPrefix(RocksDB db, byte[] prefix, int limit) {
        int n = 0;
        for (Map.Entry<ByteBuffer, Object> e : overlay.entrySet()) {
            if (e.getValue() != DELETED && Keys.startsWith(e.getKey().array(), prefix)) {
                n++; // counted here; skipped below if the database has it too
            }
        }
        try (RocksIterator it = db.newIterator()) {
            for (it.seek(prefix); it.isValid() && Keys.startsWith(it.key(), prefix) && n < limit; it.next()) {
                if (!overlay.containsKey(ByteBuffer.wrap(it.key()))) {
                    n++;
                }
            }
        }
        return Math.min(n, limit);
    }

    @Override
    public void close() {
        batch.close();
    }
}
