package io.holdfast.storage;

import static io.holdfast.storage.Lookup.node;
import static io.holdfast.storage.Lookup.putNode;
import static io.holdfast.storage.Permissions.clearSetId;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.rocksdb.RocksIterator;

/**
 * The content of regular files: inline in RocksDB, or in data files cut into 64 KiB blocks with
 * a CRC32C each; writes, truncation, fallocate(2), reads and SEEK_DATA/SEEK_HOLE. Changes go
 * into the entry's {@link Txn} (keys) and its data-file operations (run by {@link Redo}).
 *
 * <h2>Layout</h2>
 *
 * <p>{@code dir/data/} holds one data file per large regular file, named by the inode as 16
 * lower-case hex digits (never by path). Content is cut into 64 KiB blocks; the CRC32C of each
 * block's logical bytes (the last block: up to the file size) is stored in RocksDB ({@code B}
 * keys, see {@link Keys}). A block without a stored CRC is a hole and must read as zeros. A data
 * file may be shorter than the file size: the missing tail reads as zeros.
 *
 * <h2>Holes, fallocate and SEEK_HOLE</h2>
 *
 * <p>Holes have the granularity of the 64 KiB content blocks: a block of a data file without a
 * stored CRC is a hole (never written since the file grew past it, or covered whole by a
 * fallocate(2) punch or zero-range, whose bytes are then punched out of the data file with
 * {@link HolePunch}); every other block, and all inline content, is data. A block that a punch
 * covers only partly stays data: its bytes in the range are zeroed and its CRC recomputed.
 * {@link Request.SeekData} answers lseek(2) SEEK_DATA / SEEK_HOLE from the stored CRCs, with the
 * end of the file as a hole, as Linux. Allocation (fallocate mode 0 or KEEP_SIZE) preallocates
 * nothing: the range stays a hole, as an unwritten extent reads on Linux.
 *
 * <h2>Inline content</h2>
 *
 * <p>A regular file starts inline: its content (at most 64 KiB) is one RocksDB value with its
 * CRC32C ({@code C} key). When a write or truncate makes it larger than 64 KiB it is promoted
 * to a data file, and it stays in a data file (even if truncated small again) until it is
 * deleted. The choice is a function of the applied entries only, hence identical on every
 * member.
 *
 * <p>Every read checks the CRC32Cs: stored bytes that fail theirs are an {@code EIO}
 * {@link HoldfastException} naming the inode and block, never returned. Not thread-safe: the
 * mutations run under the apply lock's write lock, the reads under its read lock at least.
 */
final class ContentStore {
    /** Block size for data-file checksums, in bytes. */
    static final int BLOCK_BYTES = 64 * 1024;
    /** Largest content kept inline in RocksDB, in bytes. */
    static final int INLINE_MAX_BYTES = 64 * 1024;

    private static final byte[] EMPTY = new byte[0];

    private final BrickState state;

    ContentStore(BrickState state) {
        this.state = state;
    }

    Response write(Txn t, long ts, Request.Write m) throws Fail, IOException {
        byte[] data = m.data();
        if (Checksums.crc32c(data) != m.crc32c()) {
            throw new Fail(Errno.EBADMSG, "data of write to inode " + m.inode() + " fails its CRC32C");
        }
        if (m.offset() < 0 || data.length > Limits.MAX_DATA_BYTES) {
            throw new Fail(Errno.EINVAL, "bad write offset " + m.offset() + " or length " + data.length);
        }
        if (m.offset() > Limits.MAX_FILE_SIZE - data.length) {
            throw new Fail(Errno.EFBIG, "write past the largest file size to inode " + m.inode());
        }
        long id = m.inode();
        Node n = fileNode(t, id);
        if (data.length == 0) {
            return new Response.AttrReply(n.toAttr(id));
        }
        long stamp = m.changeTime(n.ctimeNanos, ts); // the client's time when it stamped one, within bounds
        writeContent(t, id, n, m.offset(), data);
        return contentChanged(t, stamp, m.caller(), id, n);
    }

    Response truncate(Txn t, long ts, Request.Truncate m) throws Fail, IOException {
        if (m.size() < 0) {
            throw new Fail(Errno.EINVAL, "negative size " + m.size());
        }
        if (m.size() > Limits.MAX_FILE_SIZE) {
            throw new Fail(Errno.EFBIG, "size " + m.size() + " over the largest file size");
        }
        long id = m.inode();
        Node n = fileNode(t, id);
        resize(t, id, n, m.size());
        return contentChanged(t, ts, m.caller(), id, n);
    }

    /**
     * Linux fallocate(2), see {@link Request.Fallocate}. Checks in the order of Linux's
     * vfs_fallocate: EINVAL for the range, EOPNOTSUPP for the mode, then the file, then EFBIG.
     * Allocation only changes the size (no preallocation); punching and zeroing make the content
     * blocks the range covers fully holes (their CRCs are dropped and their storage punched), and
     * rewrite a partly covered block with zeros in the range and a new CRC.
     */
    Response fallocate(Txn t, long ts, Request.Fallocate m) throws Fail, IOException {
        long off = m.offset();
        long len = m.length();
        if (off < 0 || len <= 0) {
            throw new Fail(Errno.EINVAL, "bad fallocate offset " + off + " or length " + len);
        }
        if (!Request.Fallocate.supported(m.mode())) {
            throw new Fail(Errno.ENOTSUP, String.format("fallocate mode 0x%x is not supported", m.mode()));
        }
        long id = m.inode();
        Node n = fileNode(t, id);
        if (len > Limits.MAX_FILE_SIZE || off > Limits.MAX_FILE_SIZE - len) {
            throw new Fail(Errno.EFBIG, "fallocate past the largest file size of inode " + id);
        }
        long end = off + len;
        boolean keepSize = (m.mode() & Request.Fallocate.KEEP_SIZE) != 0;
        boolean zero = (m.mode() & (Request.Fallocate.PUNCH_HOLE | Request.Fallocate.ZERO_RANGE)) != 0;
        long oldSize = n.size;
        boolean extend = !keepSize && end > oldSize;
        // Zeroing reads partly covered blocks back within this entry, so it runs on a state whose
        // data-file bytes are those on disk: inline content before a resize that may promote it, a
        // data file after the resize (whose new bytes are zeros anyway), never after a dropped CRC.
        if (zero && off < oldSize && !(extend && n.inFile)) {
            zeroRange(t, id, n, off, Math.min(end, oldSize));
        }
        boolean inFileBefore = n.inFile;
        if (extend) {
            resize(t, id, n, end);
        }
        if (zero && off < oldSize && extend && inFileBefore) {
            long oldBlocksEnd = (oldSize + BLOCK_BYTES - 1) / BLOCK_BYTES * BLOCK_BYTES; // beyond: holes already
            zeroRange(t, id, n, off, Math.min(n.size, oldBlocksEnd));
        }
        if (!zero && (keepSize || end <= oldSize)) {
            return new Response.AttrReply(n.toAttr(id)); // allocation inside the size: nothing changes
        }
        return contentChanged(t, ts, m.caller(), id, n);
    }

    /** After a write or truncate of file {@code id}: set-id bits, times, stored node and reply. */
    private static Response contentChanged(Txn t, long ts, Caller c, long id, Node n) {
        clearSetId(c, n);
        n.mtimeNanos = ts;
        n.ctimeNanos = ts;
        putNode(t, id, n);
        return new Response.AttrReply(n.toAttr(id));
    }

    /**
     * A regular file by inode: ENOENT if unknown, EISDIR for a directory, EINVAL for anything else
     * (a symbolic link, or a special file: the volume keeps no data for FIFOs, devices and sockets,
     * so {@link Request.Read}, {@link Request.Write} and {@link Request.Truncate} of one are
     * refused with EINVAL, as Linux's {@code truncate(2)} refuses a FIFO).
     */
    Node fileNode(Kv kv, long id) throws Fail, IOException {
        Node n = node(kv, id);
        if (n == null) {
            throw new Fail(Errno.ENOENT, "no inode " + id);
        }
        if (n.isDir()) {
            throw new Fail(Errno.EISDIR, "inode " + id + " is a directory");
        }
        if (n.type.isSpecial()) {
            throw new Fail(
                    Errno.EINVAL,
                    "inode " + id + " is a special file (" + n.type + "): the volume keeps no data for it");
        }
        if (n.type != FileType.FILE) {
            throw new Fail(Errno.EINVAL, "inode " + id + " is not a regular file");
        }
        return n;
    }

    private void writeContent(Txn t, long id, Node n, long off, byte[] data) throws IOException {
        long end = off + data.length;
        long oldSize = n.size;
        long newSize = Math.max(oldSize, end);
        if (!n.inFile && newSize <= INLINE_MAX_BYTES) {
            byte[] c = Arrays.copyOf(inlineContent(t, id, n), (int) newSize);
            System.arraycopy(data, 0, c, (int) off, data.length);
            putInline(t, id, c);
            n.size = newSize;
            return;
        }
        byte[] inlineOld = n.inFile ? null : promote(t, id, n);
        TreeSet<Long> blocks = new TreeSet<>();
        for (long b = off / BLOCK_BYTES; b <= (end - 1) / BLOCK_BYTES; b++) {
            blocks.add(b);
        }
        if (newSize > oldSize && oldSize % BLOCK_BYTES != 0) {
            blocks.add(oldSize / BLOCK_BYTES);
        }
        if (inlineOld != null && oldSize > 0) {
            blocks.add(0L);
        }
        for (long b : blocks) {
            long bs = b * BLOCK_BYTES;
            int blen = (int) Math.min(BLOCK_BYTES, newSize - bs);
            int crc;
            if (off <= bs && end >= bs + blen) {
                crc = Checksums.crc32c(data, (int) (bs - off), blen);
            } else {
                byte[] c = new byte[blen];
                byte[] old = inlineOld != null ? (b == 0 ? inlineOld : EMPTY) : blockVerified(t, id, oldSize, b);
                System.arraycopy(old, 0, c, 0, Math.min(old.length, blen));
                long from = Math.max(off, bs);
                long to = Math.min(end, bs + blen);
                if (from < to) {
                    System.arraycopy(data, (int) (from - off), c, (int) (from - bs), (int) (to - from));
                }
                crc = Checksums.crc32c(c);
            }
            t.put(Keys.blockCrc(id, b), Keys.int4(crc));
        }
        if (off > oldSize) {
            // the gap [oldSize, off) becomes a hole: cut whatever lies beyond the old end first, so
            // that replay defines every byte of the hole
            t.setLength(id, oldSize);
        }
        t.pwriteEntry(id, off);
        n.size = newSize;
    }

    /**
     * Makes {@code [from, to)} of file {@code id} read as zeros, {@code 0 <= from < to <= size}.
     * Inline content is rewritten. In a data file, each block the range covers fully (the last
     * block of the file up to the size) becomes a hole: its CRC is dropped and its bytes punched;
     * a block covered partly keeps its CRC, recomputed over its bytes with the range zeroed, unless
     * it is a hole already. Partial blocks are read (and verified) before the CRC range is dropped,
     * as {@link Txn#deleteRange} requires.
     */
    private void zeroRange(Txn t, long id, Node n, long from, long to) throws IOException {
        long size = n.size;
        if (!n.inFile) {
            byte[] c = inlineContent(t, id, n);
            Arrays.fill(c, (int) from, (int) to, (byte) 0);
            putInline(t, id, c);
            return;
        }
        long head = from / BLOCK_BYTES;
        long tail = (to - 1) / BLOCK_BYTES;
        boolean headFull = from % BLOCK_BYTES == 0 && to >= Math.min((head + 1) * BLOCK_BYTES, size);
        boolean tailFull = to >= Math.min((tail + 1) * BLOCK_BYTES, size) && from <= tail * BLOCK_BYTES;
        long firstFull = headFull ? head : head + 1;
        long endFull = tailFull ? tail + 1 : tail; // exclusive
        List<long[]> partial = new ArrayList<>(2); // {block, from, to}
        if (!headFull) {
            partial.add(new long[] {head, from, Math.min(to, (head + 1) * BLOCK_BYTES)});
        }
        if (!tailFull && tail != head) {
            partial.add(new long[] {tail, tail * BLOCK_BYTES, to});
        }
        List<byte[]> crcKeys = new ArrayList<>(2);
        List<Integer> crcs = new ArrayList<>(2);
        for (long[] p : partial) {
            long b = p[0];
            if (t.get(Keys.blockCrc(id, b)) == null) {
                continue; // a hole already reads as zeros
            }
            long bs = b * BLOCK_BYTES;
            byte[] c = blockVerified(t, id, size, b);
            Arrays.fill(c, (int) (p[1] - bs), (int) (p[2] - bs), (byte) 0);
            crcKeys.add(Keys.blockCrc(id, b));
            crcs.add(Checksums.crc32c(c));
            t.zero(id, p[1], p[2] - p[1]);
        }
        if (firstFull < endFull) {
            t.deleteRange(Keys.blockCrc(id, firstFull), Keys.blockCrc(id, endFull));
            long ps = firstFull * BLOCK_BYTES;
            t.zero(id, ps, Math.min(endFull * BLOCK_BYTES, size) - ps);
        }
        for (int i = 0; i < crcKeys.size(); i++) {
            t.put(crcKeys.get(i), Keys.int4(crcs.get(i)));
        }
    }

    private void resize(Txn t, long id, Node n, long newSize) throws IOException {
        long oldSize = n.size;
        if (!n.inFile && newSize <= INLINE_MAX_BYTES) {
            putInline(t, id, Arrays.copyOf(inlineContent(t, id, n), (int) newSize));
            n.size = newSize;
            return;
        }
        byte[] inlineOld = n.inFile ? null : promote(t, id, n);
        if (newSize > oldSize) {
            t.setLength(id, oldSize); // see writeContent
        }
        t.setLength(id, newSize);
        if (newSize < oldSize) {
            long firstGone = (newSize + BLOCK_BYTES - 1) / BLOCK_BYTES;
            t.deleteRange(Keys.blockCrc(id, firstGone), Keys.id(Keys.BLOCK_CRC, id + 1));
            if (newSize % BLOCK_BYTES != 0) {
                long b = newSize / BLOCK_BYTES;
                byte[] old = blockVerified(t, id, oldSize, b);
                t.put(Keys.blockCrc(id, b), Keys.int4(Checksums.crc32c(old, 0, (int) (newSize % BLOCK_BYTES))));
            }
        } else if (newSize > oldSize) {
            long last = -1;
            if (inlineOld != null) {
                last = oldSize > 0 ? 0 : -1;
            } else if (oldSize % BLOCK_BYTES != 0) {
                last = oldSize / BLOCK_BYTES;
            }
            if (last >= 0) {
                long bs = last * BLOCK_BYTES;
                byte[] c = new byte[(int) Math.min(BLOCK_BYTES, newSize - bs)];
                byte[] old = inlineOld != null ? inlineOld : blockVerified(t, id, oldSize, last);
                System.arraycopy(old, 0, c, 0, old.length);
                t.put(Keys.blockCrc(id, last), Keys.int4(Checksums.crc32c(c)));
            }
        }
        n.size = newSize;
    }

    /** Moves inline content to a (new) data file; returns the old inline content. */
    private byte[] promote(Txn t, long id, Node n) throws IOException {
        byte[] old = inlineContent(t, id, n);
        t.delete(Keys.id(Keys.INLINE, id));
        t.setLength(id, 0);
        t.pwrite(id, 0, old);
        n.inFile = true;
        return old;
    }

    private static void putInline(Txn t, long id, byte[] content) {
        byte[] key = Keys.id(Keys.INLINE, id);
        if (content.length == 0) {
            t.delete(key);
            return;
        }
        byte[] v = new byte[4 + content.length];
        ByteBuffer.wrap(v).putInt(Checksums.crc32c(content));
        System.arraycopy(content, 0, v, 4, content.length);
        t.put(key, v);
    }

    /** The verified inline content of a file that is not in a data file. */
    byte[] inlineContent(Kv kv, long id, Node n) throws IOException {
        if (n.size == 0) {
            return EMPTY;
        }
        byte[] v = kv.get(Keys.id(Keys.INLINE, id));
        if (v == null || v.length != 4 + n.size) {
            throw corrupt(id, 0, "inline content missing or not " + n.size + " bytes");
        }
        byte[] c = Arrays.copyOfRange(v, 4, v.length);
        if (Checksums.crc32c(c) != ByteBuffer.wrap(v).getInt()) {
            throw corrupt(id, 0, "inline content fails its CRC32C");
        }
        return c;
    }

    /** The logical bytes of block {@code b} of a file of {@code size} bytes, CRC-verified. */
    byte[] blockVerified(Kv kv, long id, long size, long b) throws IOException {
        long bs = b * BLOCK_BYTES;
        if (bs >= size) {
            return EMPTY;
        }
        int len = (int) Math.min(BLOCK_BYTES, size - bs);
        byte[] bytes = readPhysical(id, bs, len);
        byte[] crc = kv.get(Keys.blockCrc(id, b));
        if (crc == null) {
            for (byte x : bytes) {
                if (x != 0) {
                    throw corrupt(id, b, "hole holds non-zero bytes");
                }
            }
        } else if (Checksums.crc32c(bytes) != Keys.int4(crc)) {
            throw corrupt(id, b, "data fails its CRC32C");
        }
        return bytes;
    }

    /** Reads up to {@code len} bytes at {@code pos} of a data file; missing bytes are zeros. */
    private byte[] readPhysical(long id, long pos, int len) throws IOException {
        byte[] out = new byte[len];
        try (FileChannel ch = FileChannel.open(state.dataPath(id), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.wrap(out);
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos + buf.position());
                if (r < 0) {
                    break;
                }
            }
        } catch (NoSuchFileException e) {
            // a missing data file reads as zeros; the block CRCs catch a lost file
        }
        return out;
    }

    /** {@code len} bytes at {@code off} of a file, {@code off + len <= size}, CRC-verified. */
    private byte[] readRange(Kv kv, long id, Node n, long off, int len) throws IOException {
        if (!n.inFile) {
            return Arrays.copyOfRange(inlineContent(kv, id, n), (int) off, (int) off + len);
        }
        byte[] out = new byte[len];
        long end = off + len;
        for (long b = off / BLOCK_BYTES; b * BLOCK_BYTES < end; b++) {
            long bs = b * BLOCK_BYTES;
            byte[] block = blockVerified(kv, id, n.size, b);
            long from = Math.max(off, bs);
            long to = Math.min(end, bs + block.length);
            System.arraycopy(block, (int) (from - bs), out, (int) (from - off), (int) (to - from));
        }
        return out;
    }

    private static HoldfastException corrupt(long id, long block, String what) {
        return new HoldfastException(Errno.EIO, "corrupt block " + block + " of inode " + id + ": " + what);
    }

    Response read(Request.Read q) throws Fail, IOException {
        if (q.offset() < 0 || q.length() < 0 || q.length() > Limits.MAX_DATA_BYTES) {
            throw new Fail(Errno.EINVAL, "bad read offset " + q.offset() + " or length " + q.length());
        }
        Node n = fileNode(state.kv, q.inode());
        if (q.offset() >= n.size || q.length() == 0) {
            return new Response.Data(EMPTY, Checksums.crc32c(EMPTY));
        }
        int len = (int) Math.min(q.length(), n.size - q.offset());
        byte[] out = readRange(state.kv, q.inode(), n, q.offset(), len);
        return new Response.Data(out, Checksums.crc32c(out));
    }

    /**
     * lseek(2) SEEK_DATA / SEEK_HOLE, see {@link Request.SeekData}: a block of a data file without
     * a stored CRC is a hole, inline content is all data, the end of the file is a hole.
     */
    Response seekData(Request.SeekData q) throws Fail, IOException {
        Node n = fileNode(state.kv, q.inode());
        long off = q.offset();
        if (off < 0 || off >= n.size) {
            throw new Fail(
                    Errno.ENXIO, "offset " + off + " is not inside inode " + q.inode() + " of " + n.size + " bytes");
        }
        if (!n.inFile) {
            return new Response.Offset(q.hole() ? n.size : off);
        }
        long id = q.inode();
        long first = off / BLOCK_BYTES;
        long blocks = (n.size + BLOCK_BYTES - 1) / BLOCK_BYTES;
        byte[] prefix = Keys.id(Keys.BLOCK_CRC, id);
        long expect = first; // next block number if data continues without a hole
        try (RocksIterator it = state.db.newIterator()) {
            for (it.seek(Keys.blockCrc(id, first)); it.isValid() && Keys.startsWith(it.key(), prefix); it.next()) {
                long b = ByteBuffer.wrap(it.key(), 9, 8).getLong();
                if (b >= blocks) {
                    break;
                }
                if (!q.hole()) {
                    return new Response.Offset(Math.max(off, b * BLOCK_BYTES));
                }
                if (b != expect) {
                    break; // block 'expect' has no CRC: a hole
                }
                expect = b + 1;
            }
        }
        if (!q.hole()) {
            throw new Fail(Errno.ENXIO, "no data in inode " + id + " at or after offset " + off);
        }
        return new Response.Offset(expect >= blocks ? n.size : Math.max(off, expect * BLOCK_BYTES));
    }

    /** Deletes the content of file {@code id} (being deleted): its inline value, or its block CRCs and data file. */
    static void dropContent(Txn t, long id, Node n) {
        if (n.inFile) {
            t.deleteRange(Keys.blockCrc(id, 0), Keys.id(Keys.BLOCK_CRC, id + 1));
            t.deleteFile(id);
        } else {
            t.delete(Keys.id(Keys.INLINE, id));
        }
    }
}
