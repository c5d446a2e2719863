package io.holdfast.storage;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The RocksDB key layout of a brick: one column family, keys distinguished by a one-byte
 * prefix, numbers big-endian so that byte order is numeric order (inode ids are positive).
 *
 * <pre>
 *  key                                  value
 *  'M' ascii-name                       meta: applied, checkpoint, next-inode, format, inodes (i64)
 *  'I' inode:i64                        attributes ({@link Node} encoding)
 *  'D' parent:i64 name-bytes            child:i64 type:u8   (directory entry; listing order = name bytes)
 *  'X' inode:i64 name-bytes             extended attribute value
 *  'S' inode:i64                        symbolic link target (UTF-8)
 *  'C' inode:i64                        inline content: crc32c:i32 bytes   (absent = empty)
 *  'B' inode:i64 block:i64              crc32c:i32 of the 64 KiB block      (absent = hole, all zeros)
 *  'O' inode:i64                        empty: the inode is an orphan (nlink 0, kept open)
 *  'R' index:i64                        redo record: data-file operations of that log entry,
 *                                       kept until the next checkpoint (see {@link Brick})
 *  'P' inode:i64                        the inode's most recent name: parent:i64 name-bytes
 *                                       (for the change feed; see {@link ChangeLog})
 *  'L' index:i64                        change record of that log entry ({@link ChangeLog})
 *  'l' ascii-name                       changelog counters: trimmed (i64), bytes (i64)
 * </pre>
 *
 * <p>The 'P', 'L' and 'l' keys are derived from the entries for the change feed; they are not part
 * of the file system's state and stay out of the state digest.
 */
final class Keys {
    static final byte META = 'M';
    static final byte INODE = 'I';
    static final byte DENT = 'D';
    static final byte XATTR = 'X';
    static final byte SYMLINK = 'S';
    static final byte INLINE = 'C';
    static final byte BLOCK_CRC = 'B';
    static final byte ORPHAN = 'O';
    static final byte REDO = 'R';
    static final byte PARENT = 'P';
    static final byte CHANGE = 'L';
    static final byte CHANGE_META = 'l';

    static final byte[] APPLIED = meta("applied");
    static final byte[] CHECKPOINT = meta("checkpoint");
    static final byte[] NEXT_INODE = meta("next-inode");
    static final byte[] FORMAT = meta("format");
    static final byte[] INODE_COUNT = meta("inodes");
    static final byte[] CHANGES_TRIMMED = {CHANGE_META, 't'};
    static final byte[] CHANGES_BYTES = {CHANGE_META, 'b'};

    private Keys() {}

    static byte[] meta(String name) {
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        byte[] k = new byte[1 + n.length];
        k[0] = META;
        System.arraycopy(n, 0, k, 1, n.length);
        return k;
    }

    static byte[] id(byte prefix, long id) {
        return ByteBuffer.allocate(9).put(prefix).putLong(id).array();
    }

    static byte[] idName(byte prefix, long id, byte[] name) {
        return ByteBuffer.allocate(9 + name.length)
                .put(prefix)
                .putLong(id)
                .put(name)
                .array();
    }

    static byte[] inode(long id) {
        return id(INODE, id);
    }

    static byte[] dent(long parent, byte[] name) {
        return idName(DENT, parent, name);
    }

    static byte[] xattr(long id, byte[] name) {
        return idName(XATTR, id, name);
    }

    static byte[] blockCrc(long id, long block) {
        return ByteBuffer.allocate(17).put(BLOCK_CRC).putLong(id).putLong(block).array();
    }

    /** Whether a key with this prefix belongs to the change feed (not to the file system's state). */
    static boolean isChangeFeed(byte prefix) {
        return prefix == PARENT || prefix == CHANGE || prefix == CHANGE_META;
    }

    static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    static long idOf(byte[] key) {
        return ByteBuffer.wrap(key, 1, 8).getLong();
    }

    static byte[] long8(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    static long long8(byte[] v) {
        return ByteBuffer.wrap(v).getLong();
    }

    static byte[] int4(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    static int int4(byte[] v) {
        return ByteBuffer.wrap(v).getInt();
    }
}
