package io.holdfast.storage;

import static io.holdfast.storage.Brick.INLINE;
import static io.holdfast.storage.ContentStore.BLOCK_BYTES;
import static io.holdfast.storage.Lookup.node;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * Block verification and repair for the scrubber: listing the files with content, checking one
 * 64 KiB block or one inline content against its stored CRC32C, answering another member's
 * {@link Request.ScrubRead} with a copy that passes, and rewriting a bad block or inline content
 * with a peer's copy. The stored CRC32C is the judge: bytes are accepted only if they match it,
 * so bytes from a member at another applied index are refused if the block changed in between.
 * A repair restores bytes the log already implies, so it is neither logged nor redone.
 *
 * <p>Thread-safe: listing and checks take the apply lock's read lock, repairs its write lock (so
 * no entry is applied between reading the stored CRC and writing); {@link #check} and
 * {@link #scrubRead} are called with the lock held.
 */
final class BlockRepair {
    /** Inode records {@link #contentAfter} looks at in one call at most. */
    static final int CONTENT_SCAN_MAX = 4096;

    /**
     * A regular file with content, as the scrubber lists it.
     *
     * @param inode the file's inode
     * @param size its size in bytes, positive
     * @param inline whether its content is inline in RocksDB (one check) rather than in a data
     *     file (one check per 64 KiB block)
     */
    record Content(long inode, long size, boolean inline) {
        /** The blocks to check: 1 for inline content, else one per started 64 KiB. */
        long blocks() {
            return inline ? 1 : (size + BLOCK_BYTES - 1) / BLOCK_BYTES;
        }

        /** The logical length of block {@code b} ({@link Brick#INLINE} for inline content), in bytes. */
        int length(long b) {
            return inline ? (int) size : (int) Math.min(BLOCK_BYTES, size - b * BLOCK_BYTES);
        }
    }

    /**
     * One page of {@link #contentAfter}.
     *
     * @param files files with content, in inode order
     * @param next the inode to pass as {@code after} for the next page
     * @param done whether no inode follows
     */
    record ContentPage(List<Content> files, long next, boolean done) {
        ContentPage {
            files = List.copyOf(files);
        }
    }

    /**
     * The outcome of checking one block.
     *
     * @param status what was found
     * @param bytes bytes read
     * @param problem what is wrong, for {@link Status#BAD}; empty otherwise
     */
    record BlockCheck(Status status, int bytes, String problem) {
        /** What a check found. */
        enum Status {
            /** The bytes match the stored CRC32C (or a hole reads as zeros). */
            GOOD,
            /** The bytes do not match, or cannot be read. */
            BAD,
            /** The block no longer exists: the file was removed, shrunk, or moved out of (or into) inline storage. */
            GONE
        }
    }

    /** What a repair did. */
    enum RepairOutcome {
        /** The bytes matched the stored CRC32C and were written (and fsynced). */
        REPAIRED,
        /** The block checks good now (a write replaced it meanwhile); nothing was written. */
        ALREADY_GOOD,
        /**
         * The bytes do not match the stored CRC32C (the block changed since they were read, or
         * they are wrong, or there is no stored checksum to judge by); nothing was written.
         */
        MISMATCH,
        /** The block no longer exists (see {@link BlockCheck.Status#GONE}); nothing was written. */
        GONE
    }

    /** A check's outcome, with the bytes read if they are good. */
    record Checked(BlockCheck check, byte[] bytes) {}

    private final BrickState state;
    private final ContentStore content;

    BlockRepair(BrickState state, ContentStore content) {
        this.state = state;
        this.content = content;
    }

    /**
     * Lists regular files with content (size above 0) after inode {@code after}, in inode order,
     * looking at no more than {@value #CONTENT_SCAN_MAX} inode records (so a page may be empty
     * and not {@code done}). Holds the read lock for the scan only. Thread-safe.
     *
     * @param after the last inode of the previous page; 0 for the first page
     * @throws IOException if RocksDB fails
     * @throws IllegalStateException if the brick is closed
     */
    ContentPage contentAfter(long after) throws IOException {
        return state.reading(() -> listContent(after));
    }

    /**
     * Reads block {@code block} of file {@code inode} (or its inline content, {@link Brick#INLINE})
     * and checks it against the stored CRC32C, as of the applied state now. Holds the read lock
     * for one block (at most 64 KiB of I/O). Thread-safe. A read error of the data file counts
     * as {@link BlockCheck.Status#BAD}.
     *
     * @throws IOException if RocksDB fails
     * @throws IllegalStateException if the brick is closed
     * @throws IllegalArgumentException if {@code block} is negative and not {@link Brick#INLINE}
     */
    BlockCheck verifyBlock(long inode, long block) throws IOException {
        if (block < 0 && block != INLINE) {
            throw new IllegalArgumentException("bad block number " + block);
        }
        return state.reading(() -> check(inode, block).check());
    }

    /**
     * Rewrites block {@code block} of file {@code inode}'s data file with {@code bytes}, if and
     * only if they are the block's logical length and match this brick's stored CRC32C for it
     * (a hole: all zeros) and the block on disk does not. The write is fsynced before returning.
     *
     * <p>Concurrency: runs under the write lock, so no entry is applied between reading the
     * stored CRC and writing; a block changed by an entry applied before the lock was taken has
     * a new CRC, which the bytes (read elsewhere, earlier) then fail: {@link RepairOutcome#MISMATCH},
     * to be tried again. The repair is not logged: it restores bytes the log already implies, so
     * neither redo nor snapshots need to know of it. Thread-safe.
     *
     * @param bytes the good bytes, e.g. from another member ({@link Request.ScrubRead}); not kept
     * @throws IOException if RocksDB fails or the write or fsync fails
     * @throws IllegalArgumentException if {@code block} is negative
     * @throws IllegalStateException if the brick is closed
     */
    RepairOutcome repairBlock(long inode, long block, byte[] bytes) throws IOException {
        Objects.requireNonNull(bytes, "bytes");
        if (block < 0) {
            throw new IllegalArgumentException("bad block number " + block + " (inline content: use repairInline)");
        }
        return state.writing(() -> repairBlockLocked(inode, block, bytes));
    }

    /**
     * Rewrites the inline content of file {@code inode} with {@code bytes}, if and only if they
     * are the file's size and match the CRC32C stored with the inline content, and the stored
     * content does not. Written with a synced RocksDB write. Concurrency as
     * {@link #repairBlock}. Thread-safe.
     *
     * @return the outcome; {@link RepairOutcome#MISMATCH} also if the stored value is too short to
     *     hold a checksum (nothing to judge by)
     * @throws IOException if RocksDB fails
     * @throws IllegalStateException if the brick is closed
     */
    RepairOutcome repairInline(long inode, byte[] bytes) throws IOException {
        Objects.requireNonNull(bytes, "bytes");
        return state.writing(() -> repairInlineLocked(inode, bytes));
    }

    private ContentPage listContent(long after) throws IOException {
        List<Content> out = new ArrayList<>();
        long last = after;
        try (RocksIterator it = state.db.newIterator()) {
            int seen = 0;
            for (it.seek(Keys.inode(after + 1)); it.isValid() && it.key()[0] == Keys.INODE; it.next()) {
                if (seen++ == CONTENT_SCAN_MAX) {
                    return new ContentPage(out, last, false);
                }
                last = Keys.idOf(it.key());
                Node n = Node.decodeOrNull(it.value());
                if (n != null && n.type == FileType.FILE && n.size > 0) {
                    out.add(new Content(last, n.size, !n.inFile));
                }
            }
            it.status();
        } catch (RocksDBException e) {
            throw BrickState.rocks("list files", e);
        }
        return new ContentPage(out, last, true);
    }

    /**
     * Checks block {@code block} (or {@link Brick#INLINE}) of file {@code inode} against its stored CRC32C; the caller
     * holds the lock.
     */
    Checked check(long inode, long block) throws IOException {
        Node n = node(state.kv, inode);
        if (n == null
                || n.type != FileType.FILE
                || n.size == 0
                || n.inFile == (block == INLINE)
                || (block != INLINE && (block < 0 || block * BLOCK_BYTES >= n.size))) {
            return new Checked(new BlockCheck(BlockCheck.Status.GONE, 0, ""), null);
        }
        if (block == INLINE) {
            byte[] v = state.kv.get(Keys.id(Keys.INLINE, inode));
            if (v == null || v.length != 4 + n.size) {
                return bad(
                        v == null ? 0 : v.length,
                        "inline content of inode " + inode + " missing or not " + n.size + " bytes");
            }
            byte[] c = Arrays.copyOfRange(v, 4, v.length);
            if (Checksums.crc32c(c) != ByteBuffer.wrap(v).getInt()) {
                return bad(c.length, "inline content of inode " + inode + " fails its CRC32C");
            }
            return new Checked(new BlockCheck(BlockCheck.Status.GOOD, c.length, ""), c);
        }
        int len = (int) Math.min(BLOCK_BYTES, n.size - block * BLOCK_BYTES);
        try {
            byte[] bytes = content.blockVerified(state.kv, inode, n.size, block);
            return new Checked(new BlockCheck(BlockCheck.Status.GOOD, bytes.length, ""), bytes);
        } catch (HoldfastException e) {
            return bad(len, Fail.detail(e));
        } catch (IOException e) {
            if (e.getCause() instanceof RocksDBException) {
                throw e;
            }
            return bad(len, "block " + block + " of inode " + inode + " cannot be read: " + e.getMessage());
        }
    }

    private static Checked bad(int bytes, String problem) {
        return new Checked(new BlockCheck(BlockCheck.Status.BAD, bytes, problem), null);
    }

    /** Answers another member's {@link Request.ScrubRead}: this member's copy, only if it passes its CRC32C. */
    Response scrubRead(Request.ScrubRead x) throws Fail, IOException {
        Checked c = check(x.inode(), x.block());
        if (c.check.status() != BlockCheck.Status.GOOD) {
            throw new Fail(
                    c.check.status() == BlockCheck.Status.BAD ? Errno.EIO : Errno.ENOENT,
                    c.check.status() == BlockCheck.Status.BAD
                            ? c.check.problem()
                            : "no " + (x.block() == INLINE ? "inline content" : "block " + x.block()) + " of inode "
                                    + x.inode());
        }
        return new Response.Data(c.bytes, Checksums.crc32c(c.bytes));
    }

    private RepairOutcome repairBlockLocked(long inode, long block, byte[] bytes) throws IOException {
        Node n = node(state.kv, inode);
        if (n == null || n.type != FileType.FILE || !n.inFile || block * BLOCK_BYTES >= n.size) {
            return RepairOutcome.GONE;
        }
        long start = block * BLOCK_BYTES;
        int len = (int) Math.min(BLOCK_BYTES, n.size - start);
        byte[] crc = state.kv.get(Keys.blockCrc(inode, block));
        boolean matches =
                bytes.length == len && (crc == null ? isZeros(bytes) : Checksums.crc32c(bytes) == Keys.int4(crc));
        if (!matches) {
            return RepairOutcome.MISMATCH;
        }
        if (check(inode, block).check.status() == BlockCheck.Status.GOOD) {
            return RepairOutcome.ALREADY_GOOD;
        }
        Path p = state.dataPath(inode);
        boolean created = !Files.exists(p);
        try (FileChannel ch = state.openForWrite(inode, true)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf, start + buf.position());
            }
            ch.force(true);
        }
        if (created) {
            BrickState.fsyncDir(state.dataDir);
        }
        return RepairOutcome.REPAIRED;
    }

    private RepairOutcome repairInlineLocked(long inode, byte[] bytes) throws IOException {
        Node n = node(state.kv, inode);
        if (n == null || n.type != FileType.FILE || n.inFile || n.size == 0) {
            return RepairOutcome.GONE;
        }
        byte[] key = Keys.id(Keys.INLINE, inode);
        byte[] stored = state.kv.get(key);
        if (bytes.length != n.size
                || stored == null
                || stored.length < 4
                || Checksums.crc32c(bytes) != ByteBuffer.wrap(stored).getInt()) {
            return RepairOutcome.MISMATCH;
        }
        if (check(inode, INLINE).check.status() == BlockCheck.Status.GOOD) {
            return RepairOutcome.ALREADY_GOOD;
        }
        byte[] v = new byte[4 + bytes.length];
        System.arraycopy(stored, 0, v, 0, 4);
        System.arraycopy(bytes, 0, v, 4, bytes.length);
        try {
            state.db.put(state.syncOptions, key, v);
        } catch (RocksDBException e) {
            throw BrickState.rocks("repair inline content of inode " + inode, e);
        }
        return RepairOutcome.REPAIRED;
    }

    private static boolean isZeros(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
