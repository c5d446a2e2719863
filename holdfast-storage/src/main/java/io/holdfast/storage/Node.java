package io.holdfast.storage;

import io.holdfast.protocol.Attr;
import io.holdfast.protocol.FileType;
import java.nio.ByteBuffer;

/**
 * The mutable, in-memory form of one inode's attributes as stored under an {@code I} key.
 *
 * <p>Encoding (big-endian, 51 bytes): {@code version:u8=1 type:u8 mode:i32 nlink:i32 uid:i32
 * gid:i32 size:i64 atime:i64 mtime:i64 ctime:i64 storage:u8} where storage is 0 for content
 * inline in RocksDB and 1 for content in a data file.
 */
final class Node {
  static final int ENCODED_BYTES = 51;
  private static final byte VERSION = 1;

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
    return new Attr(inode, type, mode, nlink, uid, gid, size, atimeNanos, mtimeNanos, ctimeNanos);
  }

  byte[] encode() {
    ByteBuffer b = ByteBuffer.allocate(ENCODED_BYTES);
    b.put(VERSION).put((byte) type.code()).putInt(mode).putInt(nlink).putInt(uid).putInt(gid);
    b.putLong(size).putLong(atimeNanos).putLong(mtimeNanos).putLong(ctimeNanos);
    b.put((byte) (inFile ? 1 : 0));
    return b.array();
  }

  static Node decode(byte[] bytes) {
    if (bytes.length != ENCODED_BYTES || bytes[0] != VERSION) {
      throw new IllegalStateException("bad inode record of " + bytes.length + " bytes");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    b.get();
    FileType type = FileType.fromCode(b.get());
    Node n = new Node(type, b.getInt(), b.getInt(), b.getInt(), b.getInt(), 0);
    n.size = b.getLong();
    n.atimeNanos = b.getLong();
    n.mtimeNanos = b.getLong();
    n.ctimeNanos = b.getLong();
    n.inFile = b.get() == 1;
    return n;
  }
}
