package io.holdfast.storage;

import io.holdfast.protocol.Attr;
import io.holdfast.protocol.FileType;
import java.nio.ByteBuffer;

/**
 * The mutable, in-memory form of one inode's attributes as stored under an {@code I} key.
 *
 * <p>Encoding (big-endian, 51 bytes): {@code version:u8=1 type:u8 mode:i32 nlink:i32 uid:i32
 * gid:i32 size:i64 atime:i64 mtime:i64 ctime:i64 storage:u8} where storage is 0 for content
 * inline in RocksDB and 1 for content in a data file. Special files (FIFOs, devices, sockets)
 * use version 2, 59 bytes: the same fields then {@code rdev:i64}; files, directories and
 * symbolic links keep version 1, so their records (and the digests over them) are unchanged.
 */
final class Node {
    static final int ENCODED_BYTES = 51;
    /** Length of a version-2 record: a special file's, with its device number. */
    static final int SPECIAL_ENCODED_BYTES = 59;

    private static final byte VERSION = 1;
    private static final byte SPECIAL_VERSION = 2;

    FileType type;
    int mode;
    int nlink;
    int uid;
    int gid;
    long size;
    long atimeNanos;
    long mtimeNanos;
    long ctimeNanos;
    /** Whether the content lives in a data file (files only; once set it stays set). */
    boolean inFile;
    /** Device number of a character or block device (Linux {@code dev_t}); 0 otherwise. */
    long rdev;

    Node(FileType type, int mode, int nlink, int uid, int gid, long timeNanos) {
        this.type = type;
        this.mode = mode;
        this.nlink = nlink;
        this.uid = uid;
        this.gid = gid;
        this.atimeNanos = timeNanos;
        this.mtimeNanos = timeNanos;
        this.ctimeNanos = timeNanos;
    }

    boolean isDir() {
        return type == FileType.DIRECTORY;
    }

    Attr toAttr(long inode) {
        return new Attr(inode, type, mode, nlink, uid, gid, size, atimeNanos, mtimeNanos, ctimeNanos, rdev);
    }

    byte[] encode() {
        boolean special = type.isSpecial();
        ByteBuffer b = ByteBuffer.allocate(special ? SPECIAL_ENCODED_BYTES : ENCODED_BYTES);
        b.put(special ? SPECIAL_VERSION : VERSION)
                .put((byte) type.code())
                .putInt(mode)
                .putInt(nlink)
                .putInt(uid)
                .putInt(gid);
        b.putLong(size).putLong(atimeNanos).putLong(mtimeNanos).putLong(ctimeNanos);
        b.put((byte) (inFile ? 1 : 0));
        if (special) {
            b.putLong(rdev);
        }
        return b.array();
    }

    /**
     * Decodes a record written by {@link #encode()}.
     *
     * @throws IllegalStateException if the length or version is wrong, or the version does not fit
     *     the type (version 2 for special files only)
     * @throws IllegalArgumentException if the type code is unknown
     */
    static Node decode(byte[] bytes) {
        boolean v1 = bytes.length == ENCODED_BYTES && bytes[0] == VERSION;
        boolean v2 = bytes.length == SPECIAL_ENCODED_BYTES && bytes[0] == SPECIAL_VERSION;
        if (!v1 && !v2) {
            throw new IllegalStateException("bad inode record of " + bytes.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        b.get();
        FileType type = FileType.fromCode(b.get());
        if (type.isSpecial() != v2) {
            throw new IllegalStateException("bad inode record: version " + bytes[0] + " for a " + type);
        }
        Node n = new Node(type, b.getInt(), b.getInt(), b.getInt(), b.getInt(), 0);
        n.size = b.getLong();
        n.atimeNanos = b.getLong();
        n.mtimeNanos = b.getLong();
        n.ctimeNanos = b.getLong();
        n.inFile = b.get() == 1;
        if (v2) {
            n.rdev = b.getLong();
        }
        return n;
    }

    /** An inode record, or null if it cannot be decoded (damaged); for scans that must go on past damage. */
    static Node decodeOrNull(byte[] v) {
        try {
            return decode(v);
        } catch (RuntimeException e) {
            return null;
        }
    }
}
