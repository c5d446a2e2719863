package io.holdfast.storage;

import io.holdfast.common.Pacer;
import io.holdfast.protocol.FileType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * The digest of a brick's state at a scrub mark, per directory, read from the mark's
 * {@link ReadView}. For each directory (by inode): its attributes and extended attributes, then
 * each entry in name order (name, inode, type) and, for an entry that is not a directory, the
 * child's attributes, extended attributes, symbolic link target and content checksums (the
 * CRC32C and length of inline content, the block CRC32Cs of a data file: the content itself is
 * checked against them by the block checks, and a RocksDB snapshot does not cover data files).
 * Directory 0 stands for the inode counters and the orphans. The result is SHA-256 over every
 * (directory, digest) in order; members that applied the same entries get the same digests.
 *
 * <p>The walk is resumable between steps (the next inode record to look at, or the directory
 * being hashed and its next entry), so it reads in steps of a byte budget with pacing between
 * them. Not thread-safe: one thread walks.
 */
final class MarkDigest {
    private final Brick.DirectorySink sink;
    private final MessageDigest total = sha256();
    private final MessageDigest dirSha = sha256();
    private boolean volumeDone;
    private boolean done;
    private byte[] nextInode = Keys.inode(0);
    private long dir = -1;
    private byte[] nextDent;
    private long read;
    /** The database being read, during a step. */
    private RocksDB db;

    private MarkDigest(Brick.DirectorySink sink) {
        this.sink = sink;
        total.update("HFMARK1".getBytes(StandardCharsets.US_ASCII));
    }

    /** Walks on until about {@code budget} bytes were read or the end; returns the bytes read. */
    private long step(RocksDB db, ReadOptions ro, long budget) throws IOException {
        this.db = db;
        read = 0;
        try {
            if (!volumeDone) {
                hashVolume(ro);
                volumeDone = true;
            }
            while (!done && read < budget) {
                if (dir < 0) {
                    nextDirectory(ro, budget);
                } else {
                    dirEntries(ro, budget);
                }
            }
        } catch (RocksDBException e) {
            throw BrickState.rocks("digest a scrub mark", e);
        } finally {
            this.db = null;
        }
        return read;
    }

    private void hashVolume(ReadOptions ro) throws IOException, RocksDBException {
        dirSha.reset();
        dirSha.update("VOLUME".getBytes(StandardCharsets.US_ASCII));
        for (byte[] k : new byte[][] {Keys.FORMAT, Keys.NEXT_INODE, Keys.INODE_COUNT}) {
            hashKv(k, db.get(ro, k));
        }
        byte[] prefix = {Keys.ORPHAN};
        try (RocksIterator it = db.newIterator(ro)) {
            for (it.seek(prefix); it.isValid() && it.key()[0] == Keys.ORPHAN; it.next()) {
                hashKv(it.key(), it.value());
                hashObject(ro, Keys.idOf(it.key()));
            }
            it.status();
        }
        finishDirectory(0);
    }

    private void nextDirectory(ReadOptions ro, long budget) throws IOException, RocksDBException {
        try (RocksIterator it = db.newIterator(ro)) {
            for (it.seek(nextInode); it.isValid() && it.key()[0] == Keys.INODE; it.next()) {
                if (read >= budget) {
                    nextInode = it.key();
                    return;
                }
                byte[] k = it.key();
                byte[] v = it.value();
                read += k.length + v.length;
                Node n = Node.decodeOrNull(v);
                if (n != null && n.isDir()) {
                    long id = Keys.idOf(k);
                    dir = id;
                    nextInode = Keys.inode(id + 1);
                    dirSha.reset();
                    dirSha.update("DIR".getBytes(StandardCharsets.US_ASCII));
                    hashKv(k, v);
                    hashRange(ro, Keys.id(Keys.XATTR, id));
                    nextDent = Keys.id(Keys.DENT, id);
                    return;
                }
            }
            it.status();
        }
        done = true;
    }

    private void dirEntries(ReadOptions ro, long budget) throws IOException, RocksDBException {
        byte[] prefix = Keys.id(Keys.DENT, dir);
        try (RocksIterator it = db.newIterator(ro)) {
            for (it.seek(nextDent); it.isValid() && Keys.startsWith(it.key(), prefix); it.next()) {
                if (read >= budget) {
                    nextDent = it.key();
                    return;
                }
                byte[] v = it.value();
                hashKv(it.key(), v);
                if (v.length == 9 && v[8] != FileType.DIRECTORY.code()) { // a malformed entry is hashed as it is
                    hashObject(ro, ByteBuffer.wrap(v).getLong());
                }
            }
            it.status();
        }
        finishDirectory(dir);
        dir = -1;
    }

    private void finishDirectory(long id) throws IOException {
        long digest = ByteBuffer.wrap(dirSha.digest()).getLong();
        sink.accept(id, digest);
        total.update(Keys.long8(id));
        total.update(Keys.long8(digest));
    }

    /** A file or symlink: its attributes, xattrs, target, and content checksums. */
    private void hashObject(ReadOptions ro, long id) throws IOException, RocksDBException {
        byte[] k = Keys.inode(id);
        byte[] v = db.get(ro, k);
        hashKv(k, v);
        if (v == null) {
            return;
        }
        hashRange(ro, Keys.id(Keys.XATTR, id));
        Node n = Node.decodeOrNull(v);
        if (n == null) {
            return; // a damaged record: its bytes are hashed, which is what a comparison needs
        } else if (n.type == FileType.SYMLINK) {
            byte[] sk = Keys.id(Keys.SYMLINK, id);
            hashKv(sk, db.get(ro, sk));
        } else if (n.type == FileType.FILE) {
            if (n.inFile) {
                hashRange(ro, Keys.id(Keys.BLOCK_CRC, id));
            } else {
                // the checksum only, as for data files: content against checksum is the block check's
                // job, and a member must not look divergent for a bad block it is about to repair
                byte[] ck = Keys.id(Keys.INLINE, id);
                byte[] cv = db.get(ro, ck);
                hashKv(
                        ck,
                        cv == null
                                ? null
                                : ByteBuffer.allocate(8)
                                        .putInt(cv.length)
                                        .put(cv, 0, Math.min(4, cv.length))
                                        .array());
            }
        }
    }

    private void hashRange(ReadOptions ro, byte[] prefix) throws RocksDBException {
        try (RocksIterator it = db.newIterator(ro)) {
            for (it.seek(prefix); it.isValid() && Keys.startsWith(it.key(), prefix); it.next()) {
                hashKv(it.key(), it.value());
            }
            it.status();
        }
    }

    private void hashKv(byte[] k, byte[] v) {
        dirSha.update(Keys.int4(k.length));
        dirSha.update(k);
        if (v == null) {
            dirSha.update(Keys.int4(-1));
        } else {
            dirSha.update(Keys.int4(v.length));
            dirSha.update(v);
            read += k.length + v.length;
        }
    }

    /**
     * Digests {@code view} in steps of about {@code stepBytes} bytes, calling {@link Pacer#acquire}
     * after each; see {@link Brick#digestMark}. Does not close the view.
     *
     * @return the SHA-256 (32 bytes)
     */
    static byte[] digest(ReadView view, Pacer pacer, Brick.DirectorySink sink, long stepBytes)
            throws IOException, InterruptedException {
        MarkDigest walk = new MarkDigest(sink);
        while (!walk.done) {
            long read = view.read((db, ro) -> walk.step(db, ro, stepBytes));
            pacer.acquire(read);
        }
        return walk.total.digest();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
