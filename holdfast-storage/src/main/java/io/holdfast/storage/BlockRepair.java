package io.holdfast.storage;

import static io.holdfast.storage.Brick.INLINE;
import static io.holdfast.storage.ContentStore.BLOCK_BYTES;
import static io.holdfast.storage.Lookup.node;

import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Errno;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.HoldfastException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.storage.Brick.BlockCheck;
import io.holdfast.storage.Brick.Content;
import io.holdfast.storage.Brick.ContentPage;
import io.holdfast.storage.Brick.RepairOutcome;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
 * <p>Not thread-safe: listing and checks run under the apply lock's read lock, repairs under its
 * write lock (so no entry is applied between reading the stored CRC and writing).
 */
final class BlockRepair {
  /** Inode records {@link #contentAfter} looks at in one call at most. */
  static final int CONTENT_SCAN_MAX = 4096;

  /** A check's outcome, with the bytes read if they are good. */
  record Checked(BlockCheck check, byte[] bytes) {}

  private final BrickState state;
  private final ContentStore content;

  BlockRepair(BrickState state, ContentStore content) {
    this.state = state;
    this.content = content;
  }

  /** See {@link Brick#contentAfter}. */
  ContentPage contentAfter(long after) throws IOException {
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

  /** Checks block {@code block} (or {@link Brick#INLINE}) of file {@code inode} against its stored CRC32C. */
  Checked check(long inode, long block) throws IOException {
    Node n = node(state.kv, inode);
    if (n == null || n.type != FileType.FILE || n.size == 0 || n.inFile == (block == INLINE)
        || (block != INLINE && (block < 0 || block * BLOCK_BYTES >= n.size))) {
      return new Checked(new BlockCheck(BlockCheck.Status.GONE, 0, ""), null);
    }
    if (block == INLINE) {
      byte[] v = state.kv.get(Keys.id(Keys.INLINE, inode));
      if (v == null || v.length != 4 + n.size) {
        return bad(v == null ? 0 : v.length, "inline content of inode " + inode + " missing or not " + n.size + " bytes");
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
      throw new Fail(c.check.status() == BlockCheck.Status.BAD ? Errno.EIO : Errno.ENOENT,
          c.check.status() == BlockCheck.Status.BAD ? c.check.problem()
              : "no " + (x.block() == INLINE ? "inline content" : "block " + x.block()) + " of inode " + x.inode());
    }
    return new Response.Data(c.bytes, Checksums.crc32c(c.bytes));
  }

  /** See {@link Brick#repairBlock}; {@code block} is not negative. */
  RepairOutcome repairBlock(long inode, long block, byte[] bytes) throws IOException {
    Node n = node(state.kv, inode);
    if (n == null || n.type != FileType.FILE || !n.inFile || block * BLOCK_BYTES >= n.size) {
      return RepairOutcome.GONE;
    }
    long start = block * BLOCK_BYTES;
    int len = (int) Math.min(BLOCK_BYTES, n.size - start);
    byte[] crc = state.kv.get(Keys.blockCrc(inode, block));
    boolean matches = bytes.length == len
        && (crc == null ? isZeros(bytes) : Checksums.crc32c(bytes) == Keys.int4(crc));
    if (!matches) {
      return RepairOutcome.MISMATCH;
    }
    if (check(inode, block).check.status() == BlockCheck.Status.GOOD) {
      return RepairOutcome.ALREADY_GOOD;
    }
    Path p = state.dataPath(inode);
    boolean created = !Files.exists(p);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
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

  /** See {@link Brick#repairInline}. */
  RepairOutcome repairInline(long inode, byte[] bytes) throws IOException {
    Node n = node(state.kv, inode);
    if (n == null || n.type != FileType.FILE || n.inFile || n.size == 0) {
      return RepairOutcome.GONE;
    }
    byte[] key = Keys.id(Keys.INLINE, inode);
    byte[] stored = state.kv.get(key);
    if (bytes.length != n.size || stored == null || stored.length < 4
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
