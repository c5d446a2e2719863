package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * The brick's changelog, the source of the volume's change feed (DESIGN.md section 5): for every
 * applied entry that changed something, a {@link ChangeRecord} (log index, the entry's timestamp,
 * what changed by name) written in the same RocksDB batch as the entry itself, so the changelog
 * never disagrees with the state it describes, across crashes included.
 *
 * <h2>Names of inodes</h2>
 *
 * <p>Data changes address inodes, not names. To name them, the brick keeps each inode's most
 * recent name ({@code P} keys: parent and name, set by create, mkdir, symlink, mknod, link and
 * rename, dropped with the inode) and resolves it to a path when the data change is applied,
 * checking every step against the directory entries: a name that was since removed or replaced
 * (an unlinked hard link) resolves to nothing, and the change's path is then null. Inodes made
 * before the brick kept names resolve to nothing too.
 *
 * <h2>Retention</h2>
 *
 * <p>Records are kept while they fit in {@link ChangeFeedRetention#maxBytes} and are younger than
 * {@link ChangeFeedRetention#maxAge} (measured against the newest entry's timestamp). Each applied entry
 * trims at most {@link #TRIM_PER_ENTRY} of the oldest records, so an apply's cost stays bounded.
 * The highest trimmed index is kept ({@code trimmedThrough}); a reader whose position is below it
 * has missed changes and must resynchronise. A brick that existed before it kept a changelog
 * (no {@code trimmed} counter: a new brick writes it as 0 when it is made) starts with
 * {@code trimmedThrough} at its applied index. Retention is this member's setting:
 * members may keep different amounts of history; a record they all keep is the same on all.
 *
 * <p>The changelog and the names are derived data, not file-system state: they stay out of the
 * state digest and the scrub digests, and travel in snapshots (a member restored from one keeps
 * the leader's history).
 *
 * <p>Thread safety: {@link #append} and {@link #committed} run under the brick's write lock (in
 * apply), {@link #page} under its read lock.
 */
final class ChangeLog {
    /**
     * The largest record kept, bytes (so a page of one record fits in a frame). An entry whose record
     * would be larger (a batch of many mutations with very long names) is not recorded; it counts as
     * trimmed, so a reader that has not yet read past it must resynchronise.
     */
    static final int MAX_RECORD_BYTES = Request.Changes.MAX_PAGE_BYTES;

    /** Records trimmed at most per applied entry. */
    static final int TRIM_PER_ENTRY = 16;

    private final BrickState state;
    private volatile ChangeFeedRetention retention = ChangeFeedRetention.DEFAULT;

    /** The database the fields below were loaded from; reloaded when the brick reopens or is restored. */
    private RocksDB loadedFor;

    private long trimmedThrough;
    private boolean trimmedStored;
    private long bytes;
    /** Index and timestamp of the oldest kept record; 0 if none. */
    private long oldestIndex;

    private long oldestTime;

    ChangeLog(BrickState state) {
        this.state = state;
    }

    void retention(ChangeFeedRetention r) {
        this.retention = r;
    }

    /** Records that inode {@code id} is now named {@code name} in directory {@code parent}. */
    static void named(Txn t, long id, long parent, byte[] name) {
        t.put(
                Keys.id(Keys.PARENT, id),
                ByteBuffer.allocate(8 + name.length).putLong(parent).put(name).array());
    }

    /**
     * Adds to {@code out} the changes mutation {@code m} made, given its outcome {@code r} (not an
     * error) and the entry's transaction after it ({@code t}, to name inodes).
     */
    static void describe(Txn t, Request.Mutation m, Response r, List<Change> out) throws IOException {
        long inode = r instanceof Response.AttrReply a ? a.attr().inode() : 0;
        switch (m) {
            case Request.Mkdir x -> out.add(Change.of(Change.Kind.MKDIR, inode, x.path()));
            case Request.Create x -> out.add(Change.of(Change.Kind.CREATE, inode, x.path()));
            case Request.Symlink x -> out.add(Change.of(Change.Kind.SYMLINK, inode, x.path()));
            case Request.Mknod x -> {
                boolean file =
                        r instanceof Response.AttrReply a && !a.attr().type().isSpecial();
                out.add(Change.of(file ? Change.Kind.CREATE : Change.Kind.MKNOD, inode, x.path()));
            }
            case Request.Link x -> out.add(new Change(Change.Kind.LINK, inode, x.path(), x.existing(), 0, 0));
            case Request.Unlink x -> out.add(Change.of(Change.Kind.UNLINK, inode, x.path()));
            case Request.Rmdir x -> out.add(Change.of(Change.Kind.RMDIR, 0, x.path()));
            case Request.Rename x -> out.add(new Change(Change.Kind.RENAME, inode, x.to(), x.from(), 0, 0));
            case Request.SetAttr x -> out.add(Change.of(Change.Kind.SETATTR, inode, x.path()));
            case Request.SetXattr x -> out.add(Change.of(Change.Kind.SETXATTR, 0, x.path()));
            case Request.RemoveXattr x -> out.add(Change.of(Change.Kind.REMOVEXATTR, 0, x.path()));
            case Request.Write x ->
                out.add(new Change(
                        Change.Kind.WRITE, x.inode(), pathOf(t, x.inode()), null, x.offset(), x.data().length));
            case Request.Truncate x ->
                out.add(new Change(Change.Kind.TRUNCATE, x.inode(), pathOf(t, x.inode()), null, x.size(), 0));
            case Request.Fallocate x ->
                out.add(new Change(
                        Change.Kind.FALLOCATE, x.inode(), pathOf(t, x.inode()), null, x.offset(), x.length()));
            case Request.DropOrphan x -> {} // the inode had no name left
            case Request.ScrubMark x -> {} // changes nothing
            case Request.Batch x -> throw new IllegalArgumentException("a batch is described mutation by mutation");
        }
    }

    /**
     * The path of inode {@code id}'s most recent name, or null if it has none that still denotes
     * it (or the path would exceed {@link Limits#VOLUME_PATH_MAX} bytes).
     */
    static String pathOf(Kv kv, long id) throws IOException {
        List<byte[]> names = new ArrayList<>();
        int length = 0;
        long child = id;
        while (child != BrickState.ROOT) {
            byte[] v = kv.get(Keys.id(Keys.PARENT, child));
            if (v == null || v.length < 9) {
                return null;
            }
            long parent = ByteBuffer.wrap(v).getLong();
            byte[] name = new byte[v.length - 8];
            System.arraycopy(v, 8, name, 0, name.length);
            byte[] dent = kv.get(Keys.dent(parent, name));
            if (dent == null || Lookup.decodeDent(dent).id() != child) {
                return null; // that name was removed or now denotes another inode
            }
            length += 1 + name.length;
            if (length > Limits.VOLUME_PATH_MAX) {
                return null; // also ends a cycle, which consistent entries never make
            }
            names.add(name);
            child = parent;
        }
        if (names.isEmpty()) {
            return "/";
        }
        ByteBuffer b = ByteBuffer.allocate(length);
        for (int i = names.size() - 1; i >= 0; i--) {
            b.put((byte) '/').put(names.get(i));
        }
        return new String(b.array(), StandardCharsets.UTF_8);
    }

    /** What {@link #append} changed, made current by {@link #committed} once the entry's batch is written. */
    record Pending(long bytes, long oldestIndex, long oldestTime, long trimmedThrough) {}

    /**
     * Writes the record of entry {@code index} into {@code t} and trims the oldest records beyond
     * the retention. Under the brick's write lock.
     *
     * @return what to make current once {@code t} is written
     */
    Pending append(Txn t, long index, long timeNanos, List<Change> changes) throws IOException {
        load();
        byte[] frame = Codec.encode(new ChangeRecord(index, timeNanos, changes));
        if (frame.length > MAX_RECORD_BYTES) {
            t.put(Keys.CHANGES_TRIMMED, Keys.long8(index));
            return new Pending(bytes, oldestIndex, oldestTime, index);
        }
        t.put(Keys.id(Keys.CHANGE, index), frame);
        long newBytes = bytes + frame.length;
        long newOldest = oldestIndex == 0 ? index : oldestIndex;
        long newOldestTime = oldestIndex == 0 ? timeNanos : oldestTime;
        long newTrimmed = trimmedThrough;
        ChangeFeedRetention r = retention;
        long maxAgeNanos = r.maxAge().toNanos();
        if (newOldest < index && (newBytes > r.maxBytes() || timeNanos - newOldestTime > maxAgeNanos)) {
            try (RocksIterator it = state.db.newIterator()) {
                it.seek(Keys.id(Keys.CHANGE, newOldest));
                for (int n = 0; n < TRIM_PER_ENTRY && it.isValid() && it.key()[0] == Keys.CHANGE; n++) {
                    long at = Keys.idOf(it.key());
                    boolean over = newBytes > r.maxBytes() || timeNanos - newOldestTime > maxAgeNanos;
                    if (!over || at >= index) {
                        break;
                    }
                    t.delete(it.key());
                    newBytes -= it.value().length;
                    newTrimmed = Math.max(newTrimmed, at);
                    it.next();
                    if (it.isValid() && it.key()[0] == Keys.CHANGE) {
                        newOldest = Keys.idOf(it.key());
                        newOldestTime = timeOf(it.value());
                    } else {
                        newOldest = index;
                        newOldestTime = timeNanos;
                    }
                }
            }
        }
        t.put(Keys.CHANGES_BYTES, Keys.long8(newBytes));
        if (newTrimmed != trimmedThrough || !trimmedStored) {
            t.put(Keys.CHANGES_TRIMMED, Keys.long8(newTrimmed));
        }
        return new Pending(newBytes, newOldest, newOldestTime, newTrimmed);
    }

    /** Makes {@code p} current: its entry's batch is written. Under the brick's write lock. */
    void committed(Pending p) {
        bytes = p.bytes();
        oldestIndex = p.oldestIndex();
        oldestTime = p.oldestTime();
        trimmedThrough = p.trimmedThrough();
        trimmedStored = true;
    }

    /**
     * Answers {@link Request.Changes} from the kept records (waiting is the node's business).
     * Under the brick's read lock.
     */
    Response page(Request.Changes q) throws IOException {
        load();
        long applied = state.appliedIndex;
        if (q.afterIndex() < trimmedThrough) {
            return new Response.ChangePage(applied, trimmedThrough, List.of(), false);
        }
        List<ChangeRecord> records = new ArrayList<>();
        long pageBytes = 0;
        boolean more = false;
        try (RocksIterator it = state.db.newIterator()) {
            for (it.seek(Keys.id(Keys.CHANGE, q.afterIndex() + 1));
                    it.isValid() && it.key()[0] == Keys.CHANGE;
                    it.next()) {
                byte[] v = it.value();
                if (records.size() == q.maxRecords()
                        || (!records.isEmpty() && pageBytes + v.length > Request.Changes.MAX_PAGE_BYTES)) {
                    more = true;
                    break;
                }
                try {
                    records.add(Codec.decodeChangeRecord(v));
                } catch (ProtocolException e) {
                    return new Response.Error(
                            Errno.EIO, "change record " + Keys.idOf(it.key()) + " is corrupt: " + e.getMessage());
                }
                pageBytes += v.length;
            }
        }
        return new Response.ChangePage(applied, trimmedThrough, records, more);
    }

    /** The highest log index whose record was trimmed (or never kept). */
    long trimmedThrough() throws IOException {
        load();
        return trimmedThrough;
    }

    private synchronized void load() throws IOException {
        RocksDB db = state.db;
        if (db == loadedFor) {
            return;
        }
        try {
            byte[] t = db.get(Keys.CHANGES_TRIMMED);
            trimmedStored = t != null;
            trimmedThrough = t != null ? Keys.long8(t) : state.appliedIndex; // history before the changelog is unknown
            byte[] b = db.get(Keys.CHANGES_BYTES);
            bytes = b != null ? Keys.long8(b) : 0;
            oldestIndex = 0;
            oldestTime = 0;
            try (RocksIterator it = db.newIterator()) {
                it.seek(Keys.id(Keys.CHANGE, 0));
                if (it.isValid() && it.key()[0] == Keys.CHANGE) {
                    oldestIndex = Keys.idOf(it.key());
                    oldestTime = timeOf(it.value());
                }
            }
        } catch (RocksDBException e) {
            throw BrickState.rocks("read the changelog counters", e);
        }
        loadedFor = db;
    }

    private static long timeOf(byte[] frame) throws IOException {
        try {
            return Codec.decodeChangeRecord(frame).timeNanos();
        } catch (ProtocolException e) {
            return Long.MIN_VALUE; // a corrupt record is the first to go
        }
    }
}
