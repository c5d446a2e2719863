package io.holdfast.storage;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.PathNames;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * One replica's storage for one volume: metadata and small file content in RocksDB, larger
 * file content in data files, applied as a deterministic state machine over Raft log entries.
 *
 * <h2>Layout</h2>
 *
 * <p>{@code dir/meta} is a RocksDB database (key layout in {@code Keys}); {@code dir/data/}
 * holds one data file per large regular file, named by the inode as 16 lower-case hex digits
 * (never by path). Content is cut into 64 KiB blocks; the CRC32C of each block's logical
 * bytes (the last block: up to the file size) is stored in RocksDB. A block without a stored
 * CRC is a hole and must read as zeros. A data file may be shorter than the file size: the
 * missing tail reads as zeros.
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
 * CRC32C. When a write or truncate makes it larger than 64 KiB it is promoted to a data file,
 * and it stays in a data file (even if truncated small again) until it is deleted. The choice
 * is a function of the applied entries only, hence identical on every member.
 *
 * <h2>Apply, durability and redo</h2>
 *
 * <p>Each entry is one RocksDB {@link WriteBatch} that includes the new applied index (RocksDB
 * writes go to its WAL without fsync). Data-file changes are physical, idempotent operations
 * (pwrite at an offset, shrink to a length, delete) done with positional I/O and no fsync;
 * they are recorded in the same batch as a redo record under the entry's index. A
 * {@link #checkpoint()} fsyncs all data files touched since the previous one, then durably
 * records {@code checkpointIndex = appliedIndex} and drops the redo records. After a crash
 * the Raft layer replays entries {@code (checkpointIndex, ...]}; for those at or below
 * {@link #appliedIndex()} the brick re-runs exactly the recorded physical operations in log
 * order (the bytes of a write come from the replayed entry itself), which rebuilds the data
 * files as they were, whatever subset of the unsynced writes reached the disk. Metadata is
 * not touched again, so it is applied exactly once.
 *
 * <p>Why replay is exact: the physical length of a data file always equals the file size, and
 * every operation sets the bytes it affects independently of the file's prior content: a
 * pwrite sets its range; a set-length sets the exact length; an operation that makes a hole
 * (growing truncate, write past the end) first sets the length to the old size, so the hole
 * reads zeros even if bytes of a later, superseded extension reached the disk before the
 * crash; a promotion from inline first empties the file. So for every byte, the last
 * operation after the checkpoint that affected it is replayed and gives the same value, and
 * a byte no such operation affected still holds its fsynced checkpoint value. A zeroing
 * operation (fallocate's punch or zero-range) sets its range to zeros whatever was there.
 *
 * <h2>Errors</h2>
 *
 * <p>POSIX outcomes ({@code ENOENT}, {@code EACCES}, ...) are {@link Response.Error}s and are
 * deterministic. Failures of the brick itself (disk errors, RocksDB errors, a stored block
 * failing its CRC while being merged with a partial write) are {@link IOException}s and are
 * fatal for this member. Unknown or deleted inode numbers give {@code ENOENT} (not
 * {@code ESTALE}).
 *
 * <h2>Scrub</h2>
 *
 * <p>A scrubber (see {@link ScrubPass}) lists the files with content ({@link #contentAfter}),
 * checks each 64 KiB block or inline content against its stored CRC32C ({@link #verifyBlock}),
 * and rewrites a bad one with bytes from a healthy member ({@link #repairBlock},
 * {@link #repairInline}). The stored CRC32C is the judge: bytes are accepted only if they match
 * it, so bytes from a member at another applied index are refused if the block changed in
 * between, and tried again. A {@link Request.ScrubMark} applied as entry {@code i} makes the
 * brick hold a RocksDB snapshot of exactly the state after {@code i}; {@link #digestMark}
 * digests it per directory in the background (metadata and block checksums only: data files
 * are covered by the block checks), so members compare at the same index.
 *
 * <h2>Thread safety</h2>
 *
 * <p>{@link #apply}, {@link #checkpoint}, {@link #writeSnapshot}, {@link #restoreSnapshot} and
 * {@link #close} must be serialized by the caller (one state-machine thread). {@link #query},
 * {@link #digest}, {@link #appliedIndex} and {@link #checkpointIndex} may be called from any
 * thread concurrently with them: a read-write lock makes every query see the state between
 * two entries, never half of one. The scrub methods may be called from any thread too:
 * {@link #verifyBlock} holds the read lock for one block, the repairs hold the write lock (so
 * no entry is applied while a block is checked against its CRC and rewritten), and
 * {@link #digestMark} reads its RocksDB snapshot under a separate lock that only closing the
 * database takes, so it never delays an apply.
 */
public final class Brick implements AutoCloseable {
  /** Block size for data-file checksums, in bytes. */
  static final int BLOCK_BYTES = 64 * 1024;
  /** Largest content kept inline in RocksDB, in bytes. */
  static final int INLINE_MAX_BYTES = 64 * 1024;
  /** Inode number of the root directory. */
  static final long ROOT = 1;
  /** On-disk format version of a brick, stored under the FORMAT meta key. */
  static final long FORMAT_VERSION = 1;
  /** Most symbolic links followed while resolving one path (Linux MAXSYMLINKS). */
  static final int MAX_SYMLINK_HOPS = 40;
  /** Most hard links of one inode (as ext4). */
  static final int MAX_LINKS = 65_000;

  static final byte[] SNAPSHOT_MAGIC = "HFSNAP".getBytes(StandardCharsets.US_ASCII);
  static final int SNAPSHOT_VERSION = 1;
  static final int SNAPSHOT_MIN_VERSION = 1;
  static final int SNAPSHOT_MAX_KEY_BYTES = 16 + Limits.NAME_MAX + 16;
  static final int SNAPSHOT_MAX_VALUE_BYTES = 4 + Math.max(INLINE_MAX_BYTES, Limits.MAX_XATTR_VALUE_BYTES);
  private static final int SNAP_END = 0;
  private static final int SNAP_KV = 1;
  private static final int SNAP_FILE = 2;
  private static final long RESTORE_BATCH_BYTES = 4L << 20;

  private static final byte OP_PWRITE_ENTRY = 1;
  private static final byte OP_PWRITE = 2;
  private static final byte OP_SETLEN = 3;
  private static final byte OP_DELETE = 4;
  /** Make {@code [arg, arg + length)} read as zeros (punched where the file system can). */
  private static final byte OP_ZERO = 5;
  private static final byte[] EMPTY = new byte[0];

  /** The block number that names a file's inline content in the scrub methods. */
  public static final long INLINE = Request.ScrubRead.INLINE;
  /** Most marks whose snapshots are held; older ones are released when a new one is applied. */
  static final int MAX_MARKS = 4;
  /** Bytes a mark digest reads between two pacer calls (and checks for a closed database). */
  static final long MARK_STEP_BYTES = 256 * 1024;
  /** Inode records {@link #contentAfter} looks at in one call at most. */
  static final int CONTENT_SCAN_MAX = 4096;

  private final Path dir;
  private final Path metaDir;
  private final Path dataDir;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  /**
   * Held (read) while a mark's snapshot is read, (write) while the database is closed: mark
   * digests read without the apply lock, and must not read a closed database.
   */
  private final ReentrantReadWriteLock dbLifetime = new ReentrantReadWriteLock();
  /** Snapshots of marks, by index; guarded by itself. */
  private final TreeMap<Long, MarkView> marks = new TreeMap<>();
  private final Set<Long> dirty = new HashSet<>();
  private RocksDB db;
  private Options options;
  private WriteOptions writeOptions;
  private WriteOptions syncOptions;
  private volatile long appliedIndex;
  private volatile long checkpointIndex;
  private volatile boolean closed;

  private Brick(Path dir) {
    this.dir = dir;
    this.metaDir = dir.resolve("meta");
    this.dataDir = dir.resolve("data");
  }

  /**
   * Opens the brick in {@code dir}, creating it (with an empty root directory, applied index
   * 0) if {@code dir/meta} does not exist. Leftovers of an interrupted
   * {@link #restoreSnapshot} are cleaned up.
   *
   * @param dir the brick directory; created if missing
   * @return the open brick; the caller must {@link #close()} it
   * @throws HoldfastException {@link Errno#EPROTO} if the brick has an unsupported format
   *     version
   * @throws IOException if the directory or the database cannot be opened
   */
  public static Brick open(Path dir) throws IOException {
    Objects.requireNonNull(dir, "dir");
    RocksDB.loadLibrary();
    Files.createDirectories(dir);
    Brick b = new Brick(dir);
    b.recoverInterruptedSwap();
    if (!Files.exists(b.metaDir)) {
      Files.createDirectories(b.dataDir); // a new brick; an existing one must still have its own
    }
    b.openDb();
    return b;
  }

  // ---------------------------------------------------------------------------------------
  // Apply

  /**
   * Applies the mutation in {@code entry} as Raft log entry {@code index}; see the class
   * comment. Deterministic: the same entries in the same order give the same state on every
   * member. Not thread-safe: the caller serializes apply with checkpoint, snapshots and close.
   *
   * @param index the log index, greater than {@link #appliedIndex()} for a new entry (gaps are
   *     allowed), at most {@link #appliedIndex()} for a replay after a restart
   * @param entry the log entry
   * @return the outcome; {@link Response.Error} for POSIX errors (the applied index still
   *     advances); {@link Response.Ok} for a replayed entry
   * @throws IOException if the brick itself fails (disk error, disk full, corrupt stored
   *     block); the entry's batch has then not been written, the member must stop
   * @throws IllegalStateException if the brick is closed
   */
  public Response apply(long index, LogEntry entry) throws IOException {
    Objects.requireNonNull(entry, "entry");
    Objects.requireNonNull(entry.mutation().caller(), "caller");
    lock.writeLock().lock();
    try {
      ensureOpen();
      if (index <= appliedIndex) {
        redo(index, entry);
        return new Response.Ok();
      }
      Txn t = new Txn();
      try {
        Response r;
        try {
          r = dispatch(t, entry.timestampNanos(), entry.mutation());
        } catch (Fail f) {
          t.close();
          t = new Txn();
          r = new Response.Error(f.errno, f.getMessage());
        }
        t.put(Keys.APPLIED, Keys.long8(index));
        if (!t.ops.isEmpty()) {
          t.put(Keys.id(Keys.REDO, index), encodeOps(t.ops));
          runOps(t.ops, entry.mutation() instanceof Request.Write w ? w.data() : null);
        }
        db.write(writeOptions, t.batch);
        appliedIndex = index;
        if (entry.mutation() instanceof Request.ScrubMark) {
          holdMark(index);
        }
        return r;
      } catch (RocksDBException e) {
        throw rocks("apply entry " + index, e);
      } finally {
        t.close();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  private Response dispatch(Txn t, long ts, Request.Mutation m) throws Fail, IOException {
    return switch (m) {
      case Request.Mkdir x -> mkdir(t, ts, x);
      case Request.Create x -> create(t, ts, x);
      case Request.Symlink x -> symlink(t, ts, x);
      case Request.Mknod x -> mknod(t, ts, x);
      case Request.Link x -> link(t, ts, x);
      case Request.Unlink x -> unlink(t, ts, x);
      case Request.Rmdir x -> rmdir(t, ts, x);
      case Request.Rename x -> rename(t, ts, x);
      case Request.SetAttr x -> setAttr(t, ts, x);
      case Request.SetXattr x -> setXattr(t, ts, x);
      case Request.RemoveXattr x -> removeXattr(t, ts, x);
      case Request.Write x -> write(t, ts, x);
      case Request.Truncate x -> truncate(t, ts, x);
      case Request.Fallocate x -> fallocate(t, ts, x);
      case Request.DropOrphan x -> dropOrphan(t, x);
      case Request.ScrubMark x -> new Response.Ok(); // the snapshot is taken after the batch is written
    };
  }

  private Response mkdir(Txn t, long ts, Request.Mkdir m) throws Fail, IOException {
    Caller c = m.caller();
    Loc l = locateNew(t, c, m.path());
    Node parent = l.parentNode;
    if (parent.nlink >= MAX_LINKS) {
      throw new Fail(Errno.EMLINK, "too many subdirectories in parent of " + m.path());
    }
    int mode = m.mode() & 07777;
    int gid = c.gid();
    if ((parent.mode & 02000) != 0) {
      gid = parent.gid;
      mode |= 02000;
    }
    long id = allocate(t);
    Node n = new Node(FileType.DIRECTORY, mode, 2, c.uid(), gid, ts);
    putNode(t, id, n);
    t.put(Keys.dent(l.parent, l.name), dentValue(id, FileType.DIRECTORY));
    parent.nlink++;
    touch(parent, ts);
    putNode(t, l.parent, parent);
    return new Response.AttrReply(n.toAttr(id));
  }

  private Response create(Txn t, long ts, Request.Create m) throws Fail, IOException {
    Caller c = m.caller();
    List<String> parts = split(m.path());
    if (parts.isEmpty()) {
      throw new Fail(m.exclusive() ? Errno.EEXIST : Errno.EISDIR, "/ is a directory");
    }
    Loc l = locate(t, c, parts, m.path());
    if (l.dent != null) {
      if (m.exclusive()) {
        throw new Fail(Errno.EEXIST, m.path() + " exists");
      }
      Node n = mustNode(t, l.dent.id);
      if (n.isDir()) {
        throw new Fail(Errno.EISDIR, m.path() + " is a directory");
      }
      return new Response.AttrReply(n.toAttr(l.dent.id));
    }
    requireWrite(c, l.parentNode, m.path());
    return new Response.AttrReply(newEntry(t, ts, c, l, FileType.FILE, m.mode() & 07777, 0));
  }

  private Response symlink(Txn t, long ts, Request.Symlink m) throws Fail, IOException {
    Caller c = m.caller();
    String target = Objects.requireNonNull(m.target(), "target");
    byte[] tb = target.getBytes(StandardCharsets.UTF_8);
    if (tb.length == 0 || target.indexOf('\0') >= 0) {
      throw new Fail(Errno.EINVAL, "invalid symbolic link target for " + m.path());
    }
    if (tb.length > Limits.PATH_MAX) {
      throw new Fail(Errno.ENAMETOOLONG, "symbolic link target longer than " + Limits.PATH_MAX);
    }
    Loc l = locateNew(t, c, m.path());
    Attr a = newEntry(t, ts, c, l, FileType.SYMLINK, 0777, tb.length);
    t.put(Keys.id(Keys.SYMLINK, a.inode()), tb);
    return new Response.AttrReply(a);
  }

  /**
   * POSIX {@code mknod(2)}, as Linux decides it: type bits {@code S_IFREG} or none make an
   * empty regular file; {@code S_IFIFO} and {@code S_IFSOCK} anyone who may write the parent may
   * create; {@code S_IFCHR} and {@code S_IFBLK} only root (Linux needs {@code CAP_MKNOD}),
   * keeping {@code rdev}; the other types give EPERM ({@code S_IFDIR}) or EINVAL. The mode is
   * used as given (the client applied its umask); a set-group-ID parent lends its group.
   */
  private Response mknod(Txn t, long ts, Request.Mknod m) throws Fail, IOException {
    Caller c = m.caller();
    int mode = m.mode();
    if ((mode & ~(FileType.S_IFMT | 07777)) != 0) {
      throw new Fail(Errno.EINVAL, String.format("mode 0%o of %s has unknown bits", mode, m.path()));
    }
    int format = mode & FileType.S_IFMT;
    FileType type;
    if (format == 0) {
      type = FileType.FILE;
    } else {
      try {
        type = FileType.fromFormatBits(format);
      } catch (IllegalArgumentException e) {
        throw new Fail(Errno.EINVAL, String.format("unknown file type bits 0%o for %s", format, m.path()));
      }
    }
    if (type == FileType.DIRECTORY) {
      throw new Fail(Errno.EPERM, "mknod cannot make a directory: " + m.path());
    }
    if (type == FileType.SYMLINK) {
      throw new Fail(Errno.EINVAL, "mknod cannot make a symbolic link: " + m.path());
    }
    Loc l = locateNew(t, c, m.path());
    if (type.isDevice() && c.uid() != 0) {
      throw new Fail(Errno.EPERM, "only root may make the device node " + m.path());
    }
    Attr a = newEntry(t, ts, c, l, type, mode & 07777, 0, type.isDevice() ? m.rdev() : 0);
    return new Response.AttrReply(a);
  }

  /** Creates a file or symlink entry named by {@code l}; the caller checked permissions. */
  private Attr newEntry(Txn t, long ts, Caller c, Loc l, FileType type, int mode, long size)
      throws IOException {
    return newEntry(t, ts, c, l, type, mode, size, 0);
  }

  /** Creates a non-directory entry named by {@code l}; the caller checked permissions. */
  private Attr newEntry(Txn t, long ts, Caller c, Loc l, FileType type, int mode, long size, long rdev)
      throws IOException {
    Node parent = l.parentNode;
    int gid = (parent.mode & 02000) != 0 ? parent.gid : c.gid();
    long id = allocate(t);
    Node n = new Node(type, mode, 1, c.uid(), gid, ts);
    n.size = size;
    n.rdev = rdev;
    putNode(t, id, n);
    t.put(Keys.dent(l.parent, l.name), dentValue(id, type));
    touch(parent, ts);
    putNode(t, l.parent, parent);
    return n.toAttr(id);
  }

  private Response link(Txn t, long ts, Request.Link m) throws Fail, IOException {
    Caller c = m.caller();
    List<String> src = split(m.existing());
    List<String> dst = split(m.path());
    if (src.isEmpty()) {
      throw new Fail(Errno.EPERM, "cannot link a directory: /");
    }
    Loc s = locate(t, c, src, m.existing());
    if (s.dent == null) {
      throw new Fail(Errno.ENOENT, m.existing() + " does not exist");
    }
    if (dst.isEmpty()) {
      throw new Fail(Errno.EEXIST, "/ exists");
    }
    Loc d = locate(t, c, dst, m.path());
    if (d.dent != null) {
      throw new Fail(Errno.EEXIST, m.path() + " exists");
    }
    Node n = mustNode(t, s.dent.id);
    if (n.isDir()) {
      throw new Fail(Errno.EPERM, "cannot link a directory: " + m.existing());
    }
    requireWrite(c, d.parentNode, m.path());
    if (n.nlink >= MAX_LINKS) {
      throw new Fail(Errno.EMLINK, m.existing() + " has " + n.nlink + " links");
    }
    t.put(Keys.dent(d.parent, d.name), dentValue(s.dent.id, n.type));
    Node parent = mustNode(t, d.parent);
    touch(parent, ts);
    putNode(t, d.parent, parent);
    n = mustNode(t, s.dent.id);
    n.nlink++;
    n.ctimeNanos = ts;
    putNode(t, s.dent.id, n);
    return new Response.AttrReply(n.toAttr(s.dent.id));
  }

  private Response unlink(Txn t, long ts, Request.Unlink m) throws Fail, IOException {
    Caller c = m.caller();
    Removal r = locateRemoval(t, c, m.path(), Errno.EISDIR, "/ is a directory");
    Loc l = r.loc();
    long id = r.id();
    Node n = r.node();
    if (n.isDir()) {
      throw new Fail(Errno.EISDIR, m.path() + " is a directory");
    }
    t.delete(Keys.dent(l.parent, l.name));
    Node parent = l.parentNode;
    touch(parent, ts);
    putNode(t, l.parent, parent);
    n.nlink--;
    n.ctimeNanos = ts;
    if (n.nlink > 0) {
      putNode(t, id, n);
    } else if (m.keepOrphan()) {
      putNode(t, id, n);
      t.put(Keys.id(Keys.ORPHAN, id), EMPTY);
    } else {
      deleteInode(t, id, n);
    }
    return new Response.AttrReply(n.toAttr(id));
  }

  private Response rmdir(Txn t, long ts, Request.Rmdir m) throws Fail, IOException {
    Caller c = m.caller();
    Removal r = locateRemoval(t, c, m.path(), Errno.EBUSY, "cannot remove /");
    Loc l = r.loc();
    long id = r.id();
    Node n = r.node();
    if (!n.isDir()) {
      throw new Fail(Errno.ENOTDIR, m.path() + " is not a directory");
    }
    if (!isEmptyDir(id)) {
      throw new Fail(Errno.ENOTEMPTY, m.path() + " is not empty");
    }
    t.delete(Keys.dent(l.parent, l.name));
    Node parent = l.parentNode;
    parent.nlink--;
    touch(parent, ts);
    putNode(t, l.parent, parent);
    deleteInode(t, id, n);
    return new Response.Ok();
  }

  private Response rename(Txn t, long ts, Request.Rename m) throws Fail, IOException {
    Caller c = m.caller();
    if ((m.flags() & ~Request.Rename.NOREPLACE) != 0) {
      throw new Fail(Errno.EINVAL, "unknown rename flags " + m.flags());
    }
    List<String> from = split(m.from());
    List<String> to = split(m.to());
    if (from.isEmpty() || to.isEmpty()) {
      throw new Fail(Errno.EBUSY, "cannot rename / or rename onto /");
    }
    Loc s = locate(t, c, from, m.from());
    if (s.dent == null) {
      throw new Fail(Errno.ENOENT, m.from() + " does not exist");
    }
    Loc d = locate(t, c, to, m.to());
    if (d.dent != null && (m.flags() & Request.Rename.NOREPLACE) != 0) {
      throw new Fail(Errno.EEXIST, m.to() + " exists");
    }
    long sid = s.dent.id;
    Node sn = mustNode(t, sid);
    if (sn.isDir() && to.size() > from.size() && to.subList(0, from.size()).equals(from)) {
      throw new Fail(Errno.EINVAL, "cannot move " + m.from() + " into itself");
    }
    if (d.dent != null && d.dent.id == sid) {
      return new Response.Ok(); // same inode: rename(2) does nothing
    }
    requireWrite(c, s.parentNode, m.from());
    requireWrite(c, d.parentNode, m.to());
    requireSticky(c, s.parentNode, sn, m.from());
    Node dn = null;
    if (d.dent != null) {
      dn = mustNode(t, d.dent.id);
      requireSticky(c, d.parentNode, dn, m.to());
      if (sn.isDir() && !dn.isDir()) {
        throw new Fail(Errno.ENOTDIR, m.to() + " is not a directory");
      }
      if (!sn.isDir() && dn.isDir()) {
        throw new Fail(Errno.EISDIR, m.to() + " is a directory");
      }
      if (dn.isDir() && !isEmptyDir(d.dent.id)) {
        throw new Fail(Errno.ENOTEMPTY, m.to() + " is not empty");
      }
    }
    boolean moveDir = sn.isDir() && s.parent != d.parent;
    if (moveDir && !may(c, sn, 2)) {
      throw new Fail(Errno.EACCES, "no write permission on " + m.from() + " to move it");
    }
    if (moveDir && dn == null && d.parentNode.nlink >= MAX_LINKS) {
      throw new Fail(Errno.EMLINK, "too many subdirectories in parent of " + m.to());
    }
    t.delete(Keys.dent(s.parent, s.name));
    t.put(Keys.dent(d.parent, d.name), dentValue(sid, sn.type));
    if (dn != null) {
      long did = d.dent.id;
      if (dn.isDir()) {
        deleteInode(t, did, dn);
        Node p = mustNode(t, d.parent);
        p.nlink--;
        putNode(t, d.parent, p);
      } else {
        dn.nlink--;
        dn.ctimeNanos = ts;
        if (dn.nlink == 0) {
          deleteInode(t, did, dn);
        } else {
          putNode(t, did, dn);
        }
      }
    }
    if (sn.isDir()) {
      Node p = mustNode(t, s.parent);
      p.nlink--;
      putNode(t, s.parent, p);
      p = mustNode(t, d.parent);
      p.nlink++;
      putNode(t, d.parent, p);
    }
    for (long pid : new long[] {s.parent, d.parent}) {
      Node p = mustNode(t, pid);
      touch(p, ts);
      putNode(t, pid, p);
    }
    sn = mustNode(t, sid);
    sn.ctimeNanos = ts;
    putNode(t, sid, sn);
    return new Response.Ok();
  }

  private Response setAttr(Txn t, long ts, Request.SetAttr m) throws Fail, IOException {
    Caller c = m.caller();
    int mask = m.mask();
    int known = Request.SetAttr.MODE | Request.SetAttr.UID | Request.SetAttr.GID
        | Request.SetAttr.ATIME | Request.SetAttr.MTIME | Request.SetAttr.ATIME_NOW
        | Request.SetAttr.MTIME_NOW;
    if ((mask & ~known) != 0) {
      throw new Fail(Errno.EINVAL, "unknown setattr mask bits " + (mask & ~known));
    }
    long id = resolve(t, c, m.path());
    Node n = mustNode(t, id);
    boolean root = c.uid() == 0;
    boolean owner = root || c.uid() == n.uid;
    if ((mask & Request.SetAttr.MODE) != 0 && !owner) {
      throw new Fail(Errno.EPERM, "only the owner may chmod " + m.path());
    }
    if ((mask & Request.SetAttr.UID) != 0 && !root && !(m.uid() == n.uid && c.uid() == n.uid)) {
      throw new Fail(Errno.EPERM, "only root may change the owner of " + m.path());
    }
    if ((mask & Request.SetAttr.GID) != 0 && !root && !(c.uid() == n.uid && c.inGroup(m.gid()))) {
      throw new Fail(Errno.EPERM, "may not change the group of " + m.path() + " to " + m.gid());
    }
    boolean atimeNow = (mask & Request.SetAttr.ATIME_NOW) != 0;
    boolean mtimeNow = (mask & Request.SetAttr.MTIME_NOW) != 0;
    boolean atimeSet = (mask & Request.SetAttr.ATIME) != 0 && !atimeNow;
    boolean mtimeSet = (mask & Request.SetAttr.MTIME) != 0 && !mtimeNow;
    if ((atimeSet || mtimeSet) && !owner) {
      throw new Fail(Errno.EPERM, "only the owner may set explicit times of " + m.path());
    }
    if ((atimeNow || mtimeNow) && !owner && !may(c, n, 2)) {
      throw new Fail(Errno.EACCES, "no write permission to touch " + m.path());
    }
    if ((mask & Request.SetAttr.UID) != 0) {
      n.uid = m.uid();
    }
    if ((mask & Request.SetAttr.GID) != 0) {
      n.gid = m.gid();
    }
    if ((mask & (Request.SetAttr.UID | Request.SetAttr.GID)) != 0 && n.type == FileType.FILE) {
      killSetId(n);
    }
    if ((mask & Request.SetAttr.MODE) != 0) {
      int mode = m.mode() & 07777;
      if (!root && !c.inGroup(n.gid)) {
        mode &= ~02000;
      }
      n.mode = mode;
    }
    if (atimeNow) {
      n.atimeNanos = ts;
    } else if (atimeSet) {
      n.atimeNanos = m.atimeNanos();
    }
    if (mtimeNow) {
      n.mtimeNanos = ts;
    } else if (mtimeSet) {
      n.mtimeNanos = m.mtimeNanos();
    }
    if (mask != 0) {
      n.ctimeNanos = ts;
    }
    putNode(t, id, n);
    return new Response.AttrReply(n.toAttr(id));
  }

  private Response setXattr(Txn t, long ts, Request.SetXattr m) throws Fail, IOException {
    Caller c = m.caller();
    byte[] name = xattrName(m.name());
    byte[] value = Objects.requireNonNull(m.value(), "value");
    if (value.length > Limits.MAX_XATTR_VALUE_BYTES) {
      throw new Fail(Errno.ERANGE, "xattr value of " + value.length + " bytes is too large");
    }
    int flags = m.flags();
    if ((flags & ~(Request.SetXattr.CREATE | Request.SetXattr.REPLACE)) != 0
        || flags == (Request.SetXattr.CREATE | Request.SetXattr.REPLACE)) {
      throw new Fail(Errno.EINVAL, "invalid setxattr flags " + flags);
    }
    long id = resolve(t, c, m.path());
    Node n = writableNode(t, c, id, m.path());
    byte[] key = Keys.xattr(id, name);
    boolean exists = t.get(key) != null;
    if (exists && (flags & Request.SetXattr.CREATE) != 0) {
      throw new Fail(Errno.EEXIST, "xattr " + m.name() + " exists on " + m.path());
    }
    if (!exists && (flags & Request.SetXattr.REPLACE) != 0) {
      throw new Fail(Errno.ENODATA, "no xattr " + m.name() + " on " + m.path());
    }
    if (!exists && countXattrs(id) >= Limits.MAX_XATTR_NAMES) {
      throw new Fail(Errno.ENOSPC, "too many xattrs on " + m.path());
    }
    t.put(key, value.clone());
    n.ctimeNanos = ts;
    putNode(t, id, n);
    return new Response.Ok();
  }

  private Response removeXattr(Txn t, long ts, Request.RemoveXattr m) throws Fail, IOException {
    Caller c = m.caller();
    byte[] name = xattrName(m.name());
    long id = resolve(t, c, m.path());
    Node n = writableNode(t, c, id, m.path());
    byte[] key = Keys.xattr(id, name);
    if (t.get(key) == null) {
      throw new Fail(Errno.ENODATA, "no xattr " + m.name() + " on " + m.path());
    }
    t.delete(key);
    n.ctimeNanos = ts;
    putNode(t, id, n);
    return new Response.Ok();
  }

  private Response write(Txn t, long ts, Request.Write m) throws Fail, IOException {
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
    writeContent(t, id, n, m.offset(), data);
    return contentChanged(t, ts, m.caller(), id, n);
  }

  private Response truncate(Txn t, long ts, Request.Truncate m) throws Fail, IOException {
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
  private Response fallocate(Txn t, long ts, Request.Fallocate m) throws Fail, IOException {
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

  private Response dropOrphan(Txn t, Request.DropOrphan m) throws Fail, IOException {
    long id = m.inode();
    if (t.get(Keys.id(Keys.ORPHAN, id)) == null) {
      throw new Fail(Errno.ENOENT, "inode " + id + " is not an orphan");
    }
    deleteInode(t, id, mustNode(t, id));
    return new Response.Ok();
  }

  /**
   * After a write or truncate by anyone but root: clears set-user-ID, and set-group-ID when the
   * group may execute (without group execute it marks mandatory locking and stays), as Linux does
   * (POSIX write(2)).
   */
  private static void clearSetId(Caller c, Node n) {
    if (c.uid() != 0) {
      killSetId(n);
    }
  }

  /** Clears set-user-ID, and set-group-ID if group-executable (Linux's should_remove_suid). */
  private static void killSetId(Node n) {
    n.mode &= ~04000;
    if ((n.mode & 010) != 0) {
      n.mode &= ~02000;
    }
  }

  private static void touch(Node dirNode, long ts) {
    dirNode.mtimeNanos = ts;
    dirNode.ctimeNanos = ts;
  }

  /** After a write or truncate of file {@code id}: set-id bits, times, stored node and reply. */
  private static Response contentChanged(Txn t, long ts, Caller c, long id, Node n) {
    clearSetId(c, n);
    n.mtimeNanos = ts;
    n.ctimeNanos = ts;
    putNode(t, id, n);
    return new Response.AttrReply(n.toAttr(id));
  }

  /** The node of inode {@code id}, which {@code c} must be allowed to write (EACCES). */
  private static Node writableNode(Kv kv, Caller c, long id, String path) throws Fail, IOException {
    Node n = mustNode(kv, id);
    if (!may(c, n, 2)) {
      throw new Fail(Errno.EACCES, "no write permission on " + path);
    }
    return n;
  }

  /**
   * A regular file by inode: ENOENT if unknown, EISDIR for a directory, EINVAL for anything else
   * (a symbolic link, or a special file: the volume keeps no data for FIFOs, devices and sockets,
   * so {@link Request.Read}, {@link Request.Write} and {@link Request.Truncate} of one are
   * refused with EINVAL, as Linux's {@code truncate(2)} refuses a FIFO).
   */
  private Node fileNode(Kv kv, long id) throws Fail, IOException {
    Node n = node(kv, id);
    if (n == null) {
      throw new Fail(Errno.ENOENT, "no inode " + id);
    }
    if (n.isDir()) {
      throw new Fail(Errno.EISDIR, "inode " + id + " is a directory");
    }
    if (n.type.isSpecial()) {
      throw new Fail(Errno.EINVAL, "inode " + id + " is a special file (" + n.type
          + "): the volume keeps no data for it");
    }
    if (n.type != FileType.FILE) {
      throw new Fail(Errno.EINVAL, "inode " + id + " is not a regular file");
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------
  // Content

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
      t.ops.add(new PhysOp(OP_SETLEN, id, oldSize, null));
    }
    t.ops.add(new PhysOp(OP_PWRITE_ENTRY, id, off, null));
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
      t.ops.add(new PhysOp(OP_ZERO, id, p[1], null, p[2] - p[1]));
    }
    if (firstFull < endFull) {
      t.deleteRange(Keys.blockCrc(id, firstFull), Keys.blockCrc(id, endFull));
      long ps = firstFull * BLOCK_BYTES;
      t.ops.add(new PhysOp(OP_ZERO, id, ps, null, Math.min(endFull * BLOCK_BYTES, size) - ps));
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
      t.ops.add(new PhysOp(OP_SETLEN, id, oldSize, null)); // see writeContent
    }
    t.ops.add(new PhysOp(OP_SETLEN, id, newSize, null));
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
    t.ops.add(new PhysOp(OP_SETLEN, id, 0, null));
    t.ops.add(new PhysOp(OP_PWRITE, id, 0, old));
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
  private byte[] inlineContent(Kv kv, long id, Node n) throws IOException {
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
  private byte[] blockVerified(Kv kv, long id, long size, long b) throws IOException {
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
    try (FileChannel ch = FileChannel.open(dataPath(id), StandardOpenOption.READ)) {
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
    return new HoldfastException(
        Errno.EIO, "corrupt block " + block + " of inode " + id + ": " + what);
  }

  Path dataPath(long id) {
    return dataDir.resolve(String.format("%016x", id));
  }

  // ---------------------------------------------------------------------------------------
  // Physical data-file operations and redo

  /** A data-file operation; {@code length} is used by {@link #OP_ZERO} only. */
  private record PhysOp(byte kind, long inode, long arg, byte[] bytes, long length) {
    PhysOp(byte kind, long inode, long arg, byte[] bytes) {
      this(kind, inode, arg, bytes, 0);
    }
  }

  private static byte[] encodeOps(List<PhysOp> ops) {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    try (DataOutputStream d = new DataOutputStream(bos)) {
      d.writeInt(ops.size());
      for (PhysOp op : ops) {
        d.writeByte(op.kind);
        d.writeLong(op.inode);
        d.writeLong(op.arg);
        if (op.kind == OP_PWRITE) {
          d.writeInt(op.bytes.length);
          d.write(op.bytes);
        } else if (op.kind == OP_ZERO) {
          d.writeLong(op.length);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bos.toByteArray();
  }

  private static List<PhysOp> decodeOps(byte[] rec) throws IOException {
    DataInputStream d = new DataInputStream(new java.io.ByteArrayInputStream(rec));
    int count = d.readInt();
    List<PhysOp> ops = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte kind = d.readByte();
      long inode = d.readLong();
      long arg = d.readLong();
      byte[] bytes = null;
      long length = 0;
      if (kind == OP_PWRITE) {
        bytes = new byte[d.readInt()];
        d.readFully(bytes);
      } else if (kind == OP_ZERO) {
        length = d.readLong();
      }
      ops.add(new PhysOp(kind, inode, arg, bytes, length));
    }
    return ops;
  }

  private void runOps(List<PhysOp> ops, byte[] entryData) throws IOException {
    for (PhysOp op : ops) {
      Path p = dataPath(op.inode);
      switch (op.kind) {
        case OP_PWRITE_ENTRY -> pwrite(op.inode, op.arg, entryData);
        case OP_PWRITE -> pwrite(op.inode, op.arg, op.bytes);
        case OP_SETLEN -> {
          try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            long size = ch.size();
            if (size > op.arg) {
              ch.truncate(op.arg);
            } else if (size < op.arg) {
              ch.write(ByteBuffer.wrap(new byte[1]), op.arg - 1); // sparse extension with zeros
            }
          }
          dirty.add(op.inode);
        }
        case OP_DELETE -> {
          Files.deleteIfExists(p);
          dirty.remove(op.inode);
        }
        case OP_ZERO -> {
          HolePunch.zero(p, op.arg, op.length);
          dirty.add(op.inode);
        }
        default -> throw new IllegalStateException("unknown data-file operation " + op.kind);
      }
    }
  }

  private void pwrite(long id, long pos, byte[] bytes) throws IOException {
    try (FileChannel ch = FileChannel.open(dataPath(id), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf, pos + buf.position());
      }
    }
    dirty.add(id);
  }

  private void redo(long index, LogEntry entry) throws IOException {
    if (index <= checkpointIndex) {
      return;
    }
    byte[] rec;
    try {
      rec = db.get(Keys.id(Keys.REDO, index));
    } catch (RocksDBException e) {
      throw rocks("read redo record " + index, e);
    }
    if (rec == null) {
      return;
    }
    List<PhysOp> ops = decodeOps(rec);
    byte[] data = null;
    for (PhysOp op : ops) {
      if (op.kind == OP_PWRITE_ENTRY) {
        if (!(entry.mutation() instanceof Request.Write w)
            || w.inode() != op.inode
            || w.offset() != op.arg
            || Checksums.crc32c(w.data()) != w.crc32c()) {
          throw new HoldfastException(
              Errno.EIO, "replayed entry " + index + " is not the write recorded for it");
        }
        data = w.data();
      }
    }
    runOps(ops, data);
  }

  // ---------------------------------------------------------------------------------------
  // Checkpoint

  /**
   * Makes everything applied so far durable: fsyncs every data file written since the last
   * checkpoint and the data directory, then durably records {@code checkpointIndex =
   * appliedIndex} (a synced RocksDB write, which also syncs the RocksDB WAL) and drops the
   * redo records up to it. Not thread-safe: the caller serializes it with apply.
   *
   * @throws IOException if an fsync or the RocksDB write fails; the checkpoint index is then
   *     unchanged
   * @throws IllegalStateException if the brick is closed
   */
  public void checkpoint() throws IOException {
    lock.writeLock().lock();
    try {
      ensureOpen();
      for (long id : dirty) {
        try (FileChannel ch = FileChannel.open(dataPath(id), StandardOpenOption.WRITE)) {
          ch.force(true);
        } catch (NoSuchFileException e) {
          // deleted since; the directory fsync below makes that durable
        }
      }
      fsyncDir(dataDir);
      long applied = appliedIndex;
      try (WriteBatch b = new WriteBatch()) {
        b.put(Keys.CHECKPOINT, Keys.long8(applied));
        b.deleteRange(Keys.id(Keys.REDO, 0), Keys.id(Keys.REDO, applied + 1));
        db.write(syncOptions, b);
      } catch (RocksDBException e) {
        throw rocks("checkpoint", e);
      }
      dirty.clear();
      checkpointIndex = applied;
    } finally {
      lock.writeLock().unlock();
    }
  }

  private static void fsyncDir(Path d) throws IOException {
    try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  /**
   * Whether the brick is open: false after {@link #close} or a failed {@link #rebuild} or
   * {@link #restoreSnapshot}. Thread-safe.
   */
  public boolean isOpen() {
    return !closed;
  }

  /** The index of the last applied entry; 0 for a new brick. Thread-safe. */
  public long appliedIndex() {
    return appliedIndex;
  }

  /** The index up to which data files are known durable (fsynced). Thread-safe. */
  public long checkpointIndex() {
    return checkpointIndex;
  }

  // ---------------------------------------------------------------------------------------
  // Queries

  /**
   * Answers a query from applied state. Thread-safe; may run concurrently with apply (it sees
   * the state between two entries). Never returns corrupt bytes: content failing its CRC32C
   * gives {@code Error(EIO, "corrupt block N of inode X: ...")}; other local I/O failures
   * also give {@code EIO}. Queries carry no caller, so no permission checks are made.
   *
   * @throws IllegalStateException if the brick is closed
   */
  public Response query(Request.Query q) {
    Objects.requireNonNull(q, "query");
    lock.readLock().lock();
    try {
      ensureOpen();
      return switch (q) {
        case Request.GetAttr x -> getAttr(x);
        case Request.GetAttrByInode x -> {
          Node n = node(dbKv, x.inode());
          if (n == null) {
            throw new Fail(Errno.ENOENT, "no inode " + x.inode());
          }
          yield new Response.AttrReply(n.toAttr(x.inode()));
        }
        case Request.ReadDir x -> readDir(x);
        case Request.Read x -> read(x);
        case Request.SeekData x -> seekData(x);
        case Request.ReadLink x -> {
          long id = resolve(dbKv, null, x.path());
          byte[] target = dbKv.get(Keys.id(Keys.SYMLINK, id));
          if (target == null) {
            throw new Fail(Errno.EINVAL, x.path() + " is not a symbolic link");
          }
          yield new Response.Text(new String(target, StandardCharsets.UTF_8));
        }
        case Request.GetXattr x -> {
          byte[] name = xattrName(x.name());
          long id = resolve(dbKv, null, x.path());
          byte[] v = dbKv.get(Keys.xattr(id, name));
          if (v == null) {
            throw new Fail(Errno.ENODATA, "no xattr " + x.name() + " on " + x.path());
          }
          yield new Response.Data(v, Checksums.crc32c(v));
        }
        case Request.ListXattr x -> {
          long id = resolve(dbKv, null, x.path());
          List<String> names = new ArrayList<>();
          byte[] prefix = Keys.id(Keys.XATTR, id);
          try (RocksIterator it = db.newIterator()) {
            for (it.seek(prefix); it.isValid() && Keys.startsWith(it.key(), prefix); it.next()) {
              byte[] k = it.key();
              names.add(new String(k, 9, k.length - 9, StandardCharsets.UTF_8));
            }
          }
          yield new Response.Names(names);
        }
        case Request.StatFs x -> {
          FileStore fs = Files.getFileStore(dir);
          yield new Response.FsStats(fs.getTotalSpace(), fs.getUsableSpace(), metaLong(dbKv, Keys.INODE_COUNT));
        }
        case Request.GetDigest x -> digestLocked();
        case Request.ScrubRead x -> {
          Checked c = checkLocked(x.inode(), x.block());
          if (c.check.status() != BlockCheck.Status.GOOD) {
            throw new Fail(c.check.status() == BlockCheck.Status.BAD ? Errno.EIO : Errno.ENOENT,
                c.check.status() == BlockCheck.Status.BAD ? c.check.problem()
                    : "no " + (x.block() == INLINE ? "inline content" : "block " + x.block()) + " of inode " + x.inode());
          }
          yield new Response.Data(c.bytes, Checksums.crc32c(c.bytes));
        }
        case Request.MarkDigest x -> throw new Fail(Errno.ENOTSUP, "mark digests are kept by a node's scrubber, not by a brick");
        case Request.MarkDirectories x -> throw new Fail(Errno.ENOTSUP, "mark digests are kept by a node's scrubber, not by a brick");
        case Request.ScrubControl x -> throw new Fail(Errno.ENOTSUP, "scrub control is answered by a node's scrubber, not by a brick");
        case Request.SnapshotRead x -> throw new Fail(Errno.ENOTSUP, "snapshot files are kept by a node, not by a brick");
      };
    } catch (Fail f) {
      return new Response.Error(f.errno, f.getMessage());
    } catch (HoldfastException e) {
      return new Response.Error(e.errno(), detail(e));
    } catch (IOException e) {
      return new Response.Error(Errno.EIO, "brick I/O error: " + e.getMessage());
    } finally {
      lock.readLock().unlock();
    }
  }

  private Response getAttr(Request.GetAttr q) throws Fail, IOException {
    List<String> parts = split(q.path());
    long id = ROOT;
    if (!parts.isEmpty()) {
      Loc l = locate(dbKv, null, parts, q.path());
      if (l.dent == null) {
        throw new Fail(Errno.ENOENT, q.path() + " does not exist");
      }
      id = l.dent.id;
      if (q.followSymlinks() && l.dent.type == FileType.SYMLINK) {
        id = resolveFollowing(dbKv, parts, q.path());
      }
    }
    return new Response.AttrReply(mustNode(dbKv, id).toAttr(id));
  }

  /** Resolves a path following every symbolic link, intermediate and final. */
  private long resolveFollowing(Kv kv, List<String> parts, String path) throws Fail, IOException {
    ArrayDeque<String> todo = new ArrayDeque<>(parts);
    ArrayList<Long> stack = new ArrayList<>(List.of(ROOT));
    int hops = 0;
    while (!todo.isEmpty()) {
      String name = todo.pollFirst();
      if (name.isEmpty() || name.equals(".")) {
        continue;
      }
      Node cur = mustNode(kv, stack.getLast());
      if (!cur.isDir()) {
        throw new Fail(Errno.ENOTDIR, "a component of " + path + " is not a directory");
      }
      if (name.equals("..")) {
        if (stack.size() > 1) {
          stack.removeLast();
        }
        continue;
      }
      byte[] nb = name.getBytes(StandardCharsets.UTF_8);
      if (nb.length > Limits.NAME_MAX) {
        throw new Fail(Errno.ENAMETOOLONG, "name in symbolic link target too long: " + path);
      }
      Dent d = lookup(kv, stack.getLast(), nb);
      if (d == null) {
        throw new Fail(Errno.ENOENT, "a component of " + path + " does not exist");
      }
      if (d.type == FileType.SYMLINK) {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw new Fail(Errno.ELOOP, "too many symbolic links resolving " + path);
        }
        byte[] tb = kv.get(Keys.id(Keys.SYMLINK, d.id));
        if (tb == null || tb.length == 0) {
          throw new Fail(Errno.ENOENT, "empty symbolic link in " + path);
        }
        String target = new String(tb, StandardCharsets.UTF_8);
        String[] comps = target.split("/", -1);
        for (int i = comps.length - 1; i >= 0; i--) {
          todo.addFirst(comps[i]);
        }
        if (target.startsWith("/")) {
          stack.clear();
          stack.add(ROOT);
        }
        continue;
      }
      stack.add(d.id);
    }
    return stack.getLast();
  }

  private Response readDir(Request.ReadDir q) throws Fail, IOException {
    if (q.maxEntries() <= 0) {
      throw new Fail(Errno.EINVAL, "maxEntries must be positive: " + q.maxEntries());
    }
    long id = resolve(dbKv, null, q.path());
    if (!mustNode(dbKv, id).isDir()) {
      throw new Fail(Errno.ENOTDIR, q.path() + " is not a directory");
    }
    int limit = Math.min(q.maxEntries(), Limits.MAX_DIR_PAGE_ENTRIES);
    byte[] prefix = Keys.id(Keys.DENT, id);
    byte[] after = q.after() == null ? EMPTY : q.after().getBytes(StandardCharsets.UTF_8);
    List<DirEntry> entries = new ArrayList<>();
    boolean more = false;
    try (RocksIterator it = db.newIterator()) {
      byte[] start = Keys.dent(id, after);
      it.seek(start);
      if (after.length > 0 && it.isValid() && Arrays.equals(it.key(), start)) {
        it.next();
      }
      for (; it.isValid() && Keys.startsWith(it.key(), prefix); it.next()) {
        if (entries.size() == limit) {
          more = true;
          break;
        }
        byte[] k = it.key();
        Dent d = decodeDent(it.value());
        entries.add(new DirEntry(new String(k, 9, k.length - 9, StandardCharsets.UTF_8), d.id, d.type));
      }
    }
    return new Response.DirPage(entries, more);
  }

  private Response read(Request.Read q) throws Fail, IOException {
    if (q.offset() < 0 || q.length() < 0 || q.length() > Limits.MAX_DATA_BYTES) {
      throw new Fail(Errno.EINVAL, "bad read offset " + q.offset() + " or length " + q.length());
    }
    Node n = fileNode(dbKv, q.inode());
    if (q.offset() >= n.size || q.length() == 0) {
      return new Response.Data(EMPTY, Checksums.crc32c(EMPTY));
    }
    int len = (int) Math.min(q.length(), n.size - q.offset());
    byte[] out = readRange(dbKv, q.inode(), n, q.offset(), len);
    return new Response.Data(out, Checksums.crc32c(out));
  }

  /**
   * lseek(2) SEEK_DATA / SEEK_HOLE, see {@link Request.SeekData}: a block of a data file without
   * a stored CRC is a hole, inline content is all data, the end of the file is a hole.
   */
  private Response seekData(Request.SeekData q) throws Fail, IOException {
    Node n = fileNode(dbKv, q.inode());
    long off = q.offset();
    if (off < 0 || off >= n.size) {
      throw new Fail(Errno.ENXIO, "offset " + off + " is not inside inode " + q.inode() + " of " + n.size + " bytes");
    }
    if (!n.inFile) {
      return new Response.Offset(q.hole() ? n.size : off);
    }
    long id = q.inode();
    long first = off / BLOCK_BYTES;
    long blocks = (n.size + BLOCK_BYTES - 1) / BLOCK_BYTES;
    byte[] prefix = Keys.id(Keys.BLOCK_CRC, id);
    long expect = first; // next block number if data continues without a hole
    try (RocksIterator it = db.newIterator()) {
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

  private static String detail(HoldfastException e) {
    String m = e.getMessage();
    String p = e.errno() + ": ";
    return m != null && m.startsWith(p) ? m.substring(p.length()) : String.valueOf(m);
  }

  // ---------------------------------------------------------------------------------------
  // Digest

  /**
   * SHA-256 over the logical state: every inode with its attributes (type, mode and device
   * number of special files included), directory entries,
   * xattrs, symlink targets, orphans, the inode counter and count, file contents (as read and
   * CRC-verified), and the applied index. Checksums, the checkpoint index and redo records
   * are not included, so members that applied the same entries agree whatever their
   * checkpoints. Thread-safe.
   *
   * @throws HoldfastException {@link Errno#EIO} if stored content fails its CRC32C
   * @throws IOException if reading fails
   * @throws IllegalStateException if the brick is closed
   */
  public Response.Digest digest() throws IOException {
    lock.readLock().lock();
    try {
      ensureOpen();
      return digestLocked();
    } finally {
      lock.readLock().unlock();
    }
  }

  private Response.Digest digestLocked() throws IOException {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    long applied = appliedIndex;
    sha.update("HFDIGEST1".getBytes(StandardCharsets.US_ASCII));
    sha.update(Keys.long8(applied));
    try (RocksIterator it = db.newIterator()) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        byte[] k = it.key();
        byte p = k[0];
        if (p == Keys.INLINE || p == Keys.BLOCK_CRC || p == Keys.REDO
            || Arrays.equals(k, Keys.APPLIED) || Arrays.equals(k, Keys.CHECKPOINT)) {
          continue;
        }
        byte[] v = it.value();
        sha.update(Keys.int4(k.length));
        sha.update(k);
        sha.update(Keys.int4(v.length));
        sha.update(v);
        if (p == Keys.INODE) {
          Node n = Node.decode(v);
          if (n.type == FileType.FILE) {
            long id = Keys.idOf(k);
            sha.update(Keys.long8(n.size));
            if (!n.inFile) {
              sha.update(inlineContent(dbKv, id, n));
            } else {
              for (long b = 0; b * BLOCK_BYTES < n.size; b++) {
                sha.update(blockVerified(dbKv, id, n.size, b));
                sha.update((byte) (dbKv.get(Keys.blockCrc(id, b)) == null ? 0 : 1)); // holes: what SEEK_HOLE reports
              }
            }
          }
        }
      }
    }
    return new Response.Digest(applied, sha.digest());
  }

  // ---------------------------------------------------------------------------------------
  // Snapshots

  /**
   * Writes a complete, self-describing snapshot of the state to {@code out}, which is flushed
   * but not closed. Format (big-endian):
   *
   * <pre>
   *  "HFSNAP" version:i32 appliedIndex:i64
   *  { 1 keyLen:i32 key valueLen:i32 value }*      every RocksDB entry except the applied and
   *                                              checkpoint indexes and redo records
   *  { 2 inode:i64 length:i64 bytes }*             every data file, as stored
   *  0
   *  crc32c:i32                                    of every byte before it
   * </pre>
   *
   * Not thread-safe with apply: the caller serializes. Holes in data files are written out as
   * zeros.
   *
   * @throws IOException if reading the brick or writing {@code out} fails
   * @throws IllegalStateException if the brick is closed
   */
  public void writeSnapshot(OutputStream out) throws IOException {
    Objects.requireNonNull(out, "out");
    lock.readLock().lock();
    try {
      ensureOpen();
      OutputStream shield = new FilterOutputStream(out) {
        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
          flush();
        }
      };
      CheckedOutputStream cos = new CheckedOutputStream(shield, new CRC32C());
      DataOutputStream d = new DataOutputStream(new BufferedOutputStream(cos, 1 << 16));
      d.write(SNAPSHOT_MAGIC);
      d.writeInt(SNAPSHOT_VERSION);
      d.writeLong(appliedIndex);
      List<Long> files = new ArrayList<>();
      try (RocksIterator it = db.newIterator()) {
        for (it.seekToFirst(); it.isValid(); it.next()) {
          byte[] k = it.key();
          if (k[0] == Keys.REDO || Arrays.equals(k, Keys.APPLIED) || Arrays.equals(k, Keys.CHECKPOINT)) {
            continue;
          }
          byte[] v = it.value();
          d.writeByte(SNAP_KV);
          d.writeInt(k.length);
          d.write(k);
          d.writeInt(v.length);
          d.write(v);
          if (k[0] == Keys.INODE && Node.decode(v).inFile) {
            files.add(Keys.idOf(k));
          }
        }
      }
      byte[] buf = new byte[1 << 16];
      for (long id : files) {
        Path p = dataPath(id);
        if (!Files.exists(p)) {
          continue;
        }
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
          long len = ch.size();
          d.writeByte(SNAP_FILE);
          d.writeLong(id);
          d.writeLong(len);
          long pos = 0;
          while (pos < len) {
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, (int) Math.min(buf.length, len - pos));
            int r = ch.read(bb, pos);
            if (r < 0) {
              throw new IOException("data file " + p + " shrank while writing a snapshot");
            }
            d.write(buf, 0, r);
            pos += r;
          }
        }
      }
      d.writeByte(SNAP_END);
      d.flush();
      int crc = (int) cos.getChecksum().getValue();
      out.write(Keys.int4(crc));
      out.flush();
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * Replaces this brick's whole state with the snapshot read from {@code in} (not closed).
   * The new state is built and verified (every length against a limit, record types, the
   * CRC32C footer, the brick format) in {@code dir/restore.tmp} and then swapped in; a bad or
   * truncated snapshot changes nothing. Afterwards {@code appliedIndex() == checkpointIndex()
   * ==} the snapshot's index and the new state is durable. Not thread-safe with apply: the
   * caller serializes.
   *
   * @throws HoldfastException {@link Errno#EBADMSG} for a corrupt or truncated snapshot
   *     (message starts "corrupt snapshot"), {@link Errno#EPROTO} for a version this brick
   *     cannot read ("too old" / "too new"); nothing was changed
   * @throws IOException if reading or writing fails; if it fails during the final swap the
   *     brick may be left closed
   * @throws IllegalStateException if the brick is closed
   */
  public void restoreSnapshot(InputStream in) throws IOException {
    Objects.requireNonNull(in, "in");
    lock.writeLock().lock();
    try {
      ensureOpen();
      Path tmp = dir.resolve("restore.tmp");
      deleteTree(tmp);
      Files.createDirectories(tmp.resolve("data"));
      long index;
      try {
        index = buildFromSnapshot(in, tmp);
      } catch (IOException | RuntimeException e) {
        deleteTree(tmp);
        throw e;
      }
      swapIn(tmp);
      appliedIndex = index;
      checkpointIndex = index;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** This member's own log, as {@link #rebuild} replays it. */
  public interface LogSource {
    /** The first index the log still holds. */
    long firstIndex();

    /**
     * The entry at {@code index}, or null if that index holds nothing this brick applies
     * (a Raft configuration entry, a leader's no-op, an undecodable entry).
     *
     * @throws IOException if the log cannot give it
     */
    LogEntry entry(long index) throws IOException;
  }

  /**
   * Replaces this brick's state with another member's snapshot (null: an empty brick, index 0)
   * and then re-applies this member's own log entries after the snapshot up to the index it had
   * applied before, all under the write lock, so no entry is applied in between. Afterwards the
   * brick holds what it would hold had it applied every entry itself from the other member's
   * state: entries up to {@code max(snapshot index, old applied index)} are in it, and entries
   * at or below that which are applied later are replays (see {@link #apply}).
   *
   * <p>Used by the scrubber to rebuild a quarantined member. The snapshot is built and verified
   * as in {@link #restoreSnapshot} beside the brick, without the lock (entries are applied
   * meanwhile), before anything changes; and nothing changes either if the log no longer holds
   * the first entry to replay. Thread-safe; one rebuild at a time.
   *
   * @param snapshot a stream in the {@link #writeSnapshot} format (not closed), or null
   * @param log this member's log
   * @return the snapshot's index
   * @throws HoldfastException {@link Errno#EBADMSG} or {@link Errno#EPROTO} for a bad snapshot,
   *     {@link Errno#ERANGE} if the log starts after the snapshot; nothing was changed
   * @throws IOException if building fails (nothing changed), or if replaying the log fails: the
   *     brick is then closed, since it is behind the entries the member has applied
   * @throws IllegalStateException if the brick is closed
   */
  public synchronized long rebuild(InputStream snapshot, LogSource log) throws IOException {
    Objects.requireNonNull(log, "log");
    ensureOpen();
    // built beside the brick without the lock (applies go on meanwhile); only swapping in and
    // replaying hold it
    Path tmp = dir.resolve("rebuild.tmp");
    deleteTree(tmp);
    long index;
    try {
      if (snapshot == null) {
        Brick.open(tmp).close(); // a new, empty brick: the state before entry 1
        index = 0;
      } else {
        Files.createDirectories(tmp.resolve("data"));
        index = buildFromSnapshot(snapshot, tmp);
      }
    } catch (IOException | RuntimeException e) {
      deleteTree(tmp);
      throw e;
    }
    lock.writeLock().lock();
    try {
      long before = appliedIndex;
      try {
        ensureOpen();
        if (before > index && log.firstIndex() > index + 1) {
          throw new HoldfastException(Errno.ERANGE, "this member's log starts at " + log.firstIndex()
              + ", after the snapshot's index " + index + ": entries in between cannot be replayed");
        }
      } catch (IOException | RuntimeException e) {
        deleteTree(tmp);
        throw e;
      }
      swapIn(tmp);
      appliedIndex = index;
      checkpointIndex = index;
      try {
        for (long i = index + 1; i <= before; i++) {
          LogEntry e = log.entry(i);
          if (e != null) {
            apply(i, e);
          }
        }
      } catch (IOException | RuntimeException e) {
        closeDb(); // behind what the member applied: it must not go on applying
        throw new IOException("brick " + dir + " rebuilt from a snapshot at " + index + " but replaying its log up to "
            + before + " failed; the brick is closed: " + e.getMessage(), e);
      }
      return index;
    } finally {
      lock.writeLock().unlock();
    }
  }

  private long buildFromSnapshot(InputStream raw, Path tmp) throws IOException {
    BufferedInputStream bin = new BufferedInputStream(raw, 1 << 16);
    CheckedInputStream cin = new CheckedInputStream(bin, new CRC32C());
    DataInputStream d = new DataInputStream(cin);
    try (Options o = new Options().setCreateIfMissing(true);
        WriteOptions sync = new WriteOptions().setSync(true)) {
      byte[] magic = new byte[SNAPSHOT_MAGIC.length];
      d.readFully(magic);
      if (!Arrays.equals(magic, SNAPSHOT_MAGIC)) {
        throw badSnapshot("bad magic");
      }
      int version = d.readInt();
      if (version > SNAPSHOT_VERSION) {
        throw new HoldfastException(Errno.EPROTO, "snapshot version " + version
            + " is too new (this brick reads " + SNAPSHOT_MIN_VERSION + ".." + SNAPSHOT_VERSION + ")");
      }
      if (version < SNAPSHOT_MIN_VERSION) {
        throw new HoldfastException(Errno.EPROTO, "snapshot version " + version
            + " is too old (this brick reads " + SNAPSHOT_MIN_VERSION + ".." + SNAPSHOT_VERSION + ")");
      }
      long index = d.readLong();
      if (index < 0) {
        throw badSnapshot("negative applied index " + index);
      }
      Set<Long> seenFiles = new HashSet<>();
      try (RocksDB ndb = RocksDB.open(o, tmp.resolve("meta").toString())) {
        WriteBatch batch = new WriteBatch();
        try {
          long batchBytes = 0;
          byte[] buf = new byte[1 << 16];
          while (true) {
            int type = d.readUnsignedByte();
            if (type == SNAP_END) {
              break;
            } else if (type == SNAP_KV) {
              byte[] k = new byte[checkLength(d.readInt(), 1, SNAPSHOT_MAX_KEY_BYTES, "key")];
              d.readFully(k);
              byte[] v = new byte[checkLength(d.readInt(), 0, SNAPSHOT_MAX_VALUE_BYTES, "value")];
              d.readFully(v);
              if (k[0] == Keys.REDO || Arrays.equals(k, Keys.APPLIED) || Arrays.equals(k, Keys.CHECKPOINT)
                  || "MIDXSCBO".indexOf(k[0]) < 0) {
                throw badSnapshot("unexpected key with prefix " + (k[0] & 0xff));
              }
              batch.put(k, v);
              batchBytes += k.length + v.length;
              if (batchBytes > RESTORE_BATCH_BYTES) {
                ndb.write(sync, batch);
                batch.close();
                batch = new WriteBatch();
                batchBytes = 0;
              }
            } else if (type == SNAP_FILE) {
              long id = d.readLong();
              long len = d.readLong();
              if (id <= 0 || len < 0 || len > Limits.MAX_FILE_SIZE || !seenFiles.add(id)) {
                throw badSnapshot("bad data file record for inode " + id + " of " + len + " bytes");
              }
              Path p = tmp.resolve("data").resolve(String.format("%016x", id));
              try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                long pos = 0;
                while (pos < len) {
                  int n = (int) Math.min(buf.length, len - pos);
                  d.readFully(buf, 0, n);
                  ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                  while (bb.hasRemaining()) {
                    ch.write(bb, pos + bb.position());
                  }
                  pos += n;
                }
                ch.force(true);
              }
            } else {
              throw badSnapshot("unknown record type " + type);
            }
          }
          int expected = (int) cin.getChecksum().getValue();
          byte[] footer = new byte[4];
          new DataInputStream(bin).readFully(footer);
          if (Keys.int4(footer) != expected) {
            throw badSnapshot("CRC32C footer mismatch");
          }
          batch.put(Keys.APPLIED, Keys.long8(index));
          batch.put(Keys.CHECKPOINT, Keys.long8(index));
          ndb.write(sync, batch);
        } finally {
          batch.close();
        }
        byte[] f = ndb.get(Keys.FORMAT);
        if (f == null || f.length != 8 || Keys.long8(f) != FORMAT_VERSION || ndb.get(Keys.inode(ROOT)) == null) {
          throw badSnapshot("missing brick format or root inode");
        }
      }
      fsyncDir(tmp.resolve("data"));
      return index;
    } catch (EOFException e) {
      throw new HoldfastException(Errno.EBADMSG, "corrupt snapshot: truncated", e);
    } catch (RocksDBException e) {
      throw rocks("restore snapshot", e);
    }
  }

  private static int checkLength(int len, int min, int max, String what) throws HoldfastException {
    if (len < min || len > max) {
      throw badSnapshot(what + " length " + len + " outside [" + min + ", " + max + "]");
    }
    return len;
  }

  private static HoldfastException badSnapshot(String what) {
    return new HoldfastException(Errno.EBADMSG, "corrupt snapshot: " + what);
  }

  /** Replaces meta/ and data/ by those in {@code tmp}; the old ones go to *.old then away. */
  private void swapIn(Path tmp) throws IOException {
    closeDb();
    Path oldMeta = dir.resolve("meta.old");
    Path oldData = dir.resolve("data.old");
    deleteTree(oldMeta);
    deleteTree(oldData);
    Files.move(metaDir, oldMeta, StandardCopyOption.ATOMIC_MOVE);
    Files.move(dataDir, oldData, StandardCopyOption.ATOMIC_MOVE);
    Files.move(tmp.resolve("meta"), metaDir, StandardCopyOption.ATOMIC_MOVE);
    Files.move(tmp.resolve("data"), dataDir, StandardCopyOption.ATOMIC_MOVE);
    fsyncDir(dir);
    deleteTree(oldMeta);
    deleteTree(oldData);
    deleteTree(tmp);
    dirty.clear();
    openDb();
  }

  /** After a crash during {@link #swapIn}: put back the old state if the new is incomplete. */
  private void recoverInterruptedSwap() throws IOException {
    Path oldMeta = dir.resolve("meta.old");
    Path oldData = dir.resolve("data.old");
    if (Files.exists(oldMeta) && (!Files.exists(metaDir) || !Files.exists(dataDir))) {
      // the swap did not complete: the new state is incomplete, restore the old one
      Path tmp = dir.resolve("restore.tmp");
      if (Files.exists(metaDir)) {
        deleteTree(metaDir);
      }
      Files.move(oldMeta, metaDir, StandardCopyOption.ATOMIC_MOVE);
      if (Files.exists(oldData)) {
        deleteTree(dataDir);
        Files.move(oldData, dataDir, StandardCopyOption.ATOMIC_MOVE);
      }
      deleteTree(tmp);
    }
    deleteTree(oldMeta);
    deleteTree(oldData);
    deleteTree(dir.resolve("restore.tmp"));
    deleteTree(dir.resolve("rebuild.tmp"));
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(x);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Lifecycle

  private void openDb() throws IOException {
    options = new Options().setCreateIfMissing(true);
    writeOptions = new WriteOptions();
    syncOptions = new WriteOptions().setSync(true);
    try {
      db = RocksDB.open(options, metaDir.toString());
      byte[] f = db.get(Keys.FORMAT);
      if (f == null) {
        try (WriteBatch b = new WriteBatch()) {
          b.put(Keys.FORMAT, Keys.long8(FORMAT_VERSION));
          b.put(Keys.APPLIED, Keys.long8(0));
          b.put(Keys.CHECKPOINT, Keys.long8(0));
          b.put(Keys.NEXT_INODE, Keys.long8(ROOT + 1));
          b.put(Keys.INODE_COUNT, Keys.long8(1));
          b.put(Keys.inode(ROOT), new Node(FileType.DIRECTORY, 0755, 2, 0, 0, 0).encode());
          db.write(syncOptions, b);
        }
      } else if (Keys.long8(f) != FORMAT_VERSION) {
        long v = Keys.long8(f);
        closeDb();
        throw new HoldfastException(Errno.EPROTO, "brick " + dir + " has format " + v + ", too "
            + (v > FORMAT_VERSION ? "new" : "old") + " for this version (" + FORMAT_VERSION + ")");
      }
      String problem = f == null ? null : integrityProblem();
      if (problem != null) {
        closeDb();
        throw corrupt(problem);
      }
      appliedIndex = Keys.long8(db.get(Keys.APPLIED));
      checkpointIndex = Keys.long8(db.get(Keys.CHECKPOINT));
      closed = false;
    } catch (RocksDBException e) {
      closeDb();
      throw corrupt("its metadata (RocksDB in " + metaDir + ") cannot be opened: " + e.getMessage());
    }
  }

  /**
   * The start-up check of an existing brick: every RocksDB block checksum (metadata only; data
   * file blocks are the scrubber's job, and every read checks them), the counters, the root
   * directory, and the data directory. Returns what is wrong, or null.
   */
  private String integrityProblem() throws RocksDBException {
    try {
      db.verifyChecksum();
    } catch (RocksDBException e) {
      return "its metadata fails RocksDB's checksums: " + e.getMessage();
    }
    for (byte[] key : List.of(Keys.APPLIED, Keys.CHECKPOINT, Keys.NEXT_INODE, Keys.INODE_COUNT)) {
      byte[] v = db.get(key);
      if (v == null || v.length != 8) {
        return "its metadata lacks the counter " + new String(key, 1, key.length - 1, java.nio.charset.StandardCharsets.US_ASCII)
            + (v == null ? "" : " (" + v.length + " bytes instead of 8)");
      }
    }
    Node root = decodeOrNull(db.get(Keys.inode(ROOT)));
    if (root == null || root.type != FileType.DIRECTORY) {
      return "its root directory (inode " + ROOT + ") is " + (root == null ? "missing or undecodable" : "a " + root.type);
    }
    if (!Files.isDirectory(dataDir)) {
      return "its data directory " + dataDir + " is missing";
    }
    return null;
  }

  private IOException corrupt(String problem) {
    return new IOException("refusing brick " + dir + ": " + problem + ". Move the brick directory away (the member then"
        + " rebuilds from the other members) or restore it from a backup");
  }

  private void closeDb() {
    dbLifetime.writeLock().lock();
    try {
      synchronized (marks) {
        for (MarkView m : marks.values()) {
          if (db != null) {
            db.releaseSnapshot(m.snapshot);
          }
        }
        marks.clear();
      }
      if (db != null) {
        db.close();
        db = null;
      }
    } finally {
      dbLifetime.writeLock().unlock();
    }
    if (options != null) {
      options.close();
      writeOptions.close();
      syncOptions.close();
      options = null;
    }
    closed = true;
  }

  /**
   * Closes the database. Does not checkpoint: data written since the last checkpoint is
   * recovered by replaying the log. Idempotent. Not thread-safe with apply.
   */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      closeDb();
    } finally {
      lock.writeLock().unlock();
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("brick " + dir + " is closed");
    }
  }

  private static IOException rocks(String what, RocksDBException e) {
    return new IOException("RocksDB failed to " + what + ": " + e.getMessage(), e);
  }

  // ---------------------------------------------------------------------------------------
  // Metadata helpers

  /** An operation outcome (POSIX error) decided at apply or query time. */
  static final class Fail extends Exception {
    private static final long serialVersionUID = 1L;
    final transient Errno errno;

    Fail(Errno errno, String message) {
      super(message, null, false, false);
      this.errno = errno;
    }
  }

  /** Key-value reads: the database, or a transaction's view of it. */
  interface Kv {
    byte[] get(byte[] key) throws IOException;
  }

  private final Kv dbKv = key -> {
    try {
      return db.get(key);
    } catch (RocksDBException e) {
      throw rocks("read", e);
    }
  };

  /** One entry's batch, with a read-your-writes overlay for point reads. */
  private final class Txn implements Kv, AutoCloseable {
    private static final Object DELETED = new Object();
    final WriteBatch batch = new WriteBatch();
    final Map<ByteBuffer, Object> overlay = new HashMap<>();
    final List<PhysOp> ops = new ArrayList<>();

    @Override
    public byte[] get(byte[] key) throws IOException {
      Object o = overlay.get(ByteBuffer.wrap(key));
      if (o == DELETED) {
        return null;
      }
      if (o != null) {
        return (byte[]) o;
      }
      return dbKv.get(key);
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

    /** Deletes a key range. Point reads of keys in the range are not answered from this batch afterwards, so callers must not read them back in the same entry (none does). */
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

    @Override
    public void close() {
      batch.close();
    }
  }

  private record Dent(long id, FileType type) {}

  private record Loc(long parent, Node parentNode, byte[] name, Dent dent) {}

  private static byte[] dentValue(long id, FileType type) {
    return ByteBuffer.allocate(9).putLong(id).put((byte) type.code()).array();
  }

  private static Dent decodeDent(byte[] v) {
    ByteBuffer b = ByteBuffer.wrap(v);
    return new Dent(b.getLong(), FileType.fromCode(b.get()));
  }

  private static Node node(Kv kv, long id) throws IOException {
    byte[] v = kv.get(Keys.inode(id));
    return v == null ? null : Node.decode(v);
  }

  private static Node mustNode(Kv kv, long id) throws Fail, IOException {
    Node n = node(kv, id);
    if (n == null) {
      throw new Fail(Errno.ENOENT, "no inode " + id);
    }
    return n;
  }

  private static void putNode(Txn t, long id, Node n) {
    t.put(Keys.inode(id), n.encode());
  }

  private static Dent lookup(Kv kv, long dirId, byte[] name) throws IOException {
    byte[] v = kv.get(Keys.dent(dirId, name));
    return v == null ? null : decodeDent(v);
  }

  private static List<String> split(String path) throws Fail {
    try {
      return PathNames.split(path);
    } catch (HoldfastException e) {
      throw new Fail(e.errno(), detail(e));
    }
  }

  /**
   * Walks to the parent of the last component of {@code parts} (non-empty) checking that
   * each directory is one and, if {@code c} is non-null, searchable by {@code c}; returns
   * the parent and the last component's entry (null if absent). Symlinks are not followed.
   */
  private static Loc locate(Kv kv, Caller c, List<String> parts, String path) throws Fail, IOException {
    long dirId = ROOT;
    for (int i = 0; ; i++) {
      Node dn = mustNode(kv, dirId);
      if (!dn.isDir()) {
        throw new Fail(Errno.ENOTDIR, "a component of " + path + " is not a directory");
      }
      if (c != null && !may(c, dn, 1)) {
        throw new Fail(Errno.EACCES, "no search permission on a component of " + path);
      }
      byte[] name = parts.get(i).getBytes(StandardCharsets.UTF_8);
      Dent d = lookup(kv, dirId, name);
      if (i == parts.size() - 1) {
        return new Loc(dirId, dn, name, d);
      }
      if (d == null) {
        throw new Fail(Errno.ENOENT, "a component of " + path + " does not exist");
      }
      dirId = d.id;
    }
  }

  /**
   * Where a new entry {@code path} goes: EEXIST if it (or /) exists; {@code c} must be allowed
   * to write its parent.
   */
  private static Loc locateNew(Kv kv, Caller c, String path) throws Fail, IOException {
    List<String> parts = split(path);
    if (parts.isEmpty()) {
      throw new Fail(Errno.EEXIST, "/ exists");
    }
    Loc l = locate(kv, c, parts, path);
    if (l.dent != null) {
      throw new Fail(Errno.EEXIST, path + " exists");
    }
    requireWrite(c, l.parentNode, path);
    return l;
  }

  /** An existing entry to remove: where it is, its inode and node. */
  private record Removal(Loc loc, long id, Node node) {}

  /**
   * The existing entry {@code path} names, which {@code c} may remove from its parent (write
   * permission, sticky bit); {@code rootErrno} and {@code rootMessage} for {@code /}, ENOENT if
   * it does not exist.
   */
  private static Removal locateRemoval(Kv kv, Caller c, String path, Errno rootErrno,
      String rootMessage) throws Fail, IOException {
    List<String> parts = split(path);
    if (parts.isEmpty()) {
      throw new Fail(rootErrno, rootMessage);
    }
    Loc l = locate(kv, c, parts, path);
    if (l.dent == null) {
      throw new Fail(Errno.ENOENT, path + " does not exist");
    }
    requireWrite(c, l.parentNode, path);
    long id = l.dent.id;
    Node n = mustNode(kv, id);
    requireSticky(c, l.parentNode, n, path);
    return new Removal(l, id, n);
  }

  /** The inode a path names (no symlink following); ENOENT if it does not exist. */
  private static long resolve(Kv kv, Caller c, String path) throws Fail, IOException {
    List<String> parts = split(path);
    if (parts.isEmpty()) {
      return ROOT;
    }
    Loc l = locate(kv, c, parts, path);
    if (l.dent == null) {
      throw new Fail(Errno.ENOENT, path + " does not exist");
    }
    return l.dent.id;
  }

  /** Whether {@code c} has all of {@code want} (r=4, w=2, x=1) on {@code n}; root always does. */
  static boolean may(Caller c, Node n, int want) {
    if (c.uid() == 0) {
      return true;
    }
    int bits;
    if (c.uid() == n.uid) {
      bits = (n.mode >> 6) & 7;
    } else if (c.inGroup(n.gid)) {
      bits = (n.mode >> 3) & 7;
    } else {
      bits = n.mode & 7;
    }
    return (bits & want) == want;
  }

  private static void requireWrite(Caller c, Node parent, String path) throws Fail {
    if (!may(c, parent, 3)) {
      throw new Fail(Errno.EACCES, "no write permission on the parent of " + path);
    }
  }

  private static void requireSticky(Caller c, Node parent, Node victim, String path) throws Fail {
    if ((parent.mode & 01000) != 0 && c.uid() != 0 && c.uid() != victim.uid && c.uid() != parent.uid) {
      throw new Fail(Errno.EPERM, "sticky directory: not the owner of " + path);
    }
  }

  private static byte[] xattrName(String name) throws Fail {
    byte[] b = Objects.requireNonNull(name, "name").getBytes(StandardCharsets.UTF_8);
    if (b.length == 0 || name.indexOf('\0') >= 0) {
      throw new Fail(Errno.EINVAL, "invalid xattr name");
    }
    if (b.length > Limits.MAX_XATTR_NAME_BYTES) {
      throw new Fail(Errno.ERANGE, "xattr name longer than " + Limits.MAX_XATTR_NAME_BYTES + " bytes");
    }
    return b;
  }

  private boolean isEmptyDir(long id) {
    byte[] prefix = Keys.id(Keys.DENT, id);
    try (RocksIterator it = db.newIterator()) {
      it.seek(prefix);
      return !(it.isValid() && Keys.startsWith(it.key(), prefix));
    }
  }

  private int countXattrs(long id) {
    byte[] prefix = Keys.id(Keys.XATTR, id);
    int n = 0;
    try (RocksIterator it = db.newIterator()) {
      for (it.seek(prefix); it.isValid() && Keys.startsWith(it.key(), prefix) && n <= Limits.MAX_XATTR_NAMES; it.next()) {
        n++;
      }
    }
    return n;
  }

  private static long metaLong(Kv kv, byte[] key) throws IOException {
    byte[] v = kv.get(key);
    if (v == null) {
      throw new HoldfastException(Errno.EIO, "brick metadata key missing");
    }
    return Keys.long8(v);
  }

  private static long allocate(Txn t) throws IOException {
    long id = metaLong(t, Keys.NEXT_INODE);
    t.put(Keys.NEXT_INODE, Keys.long8(id + 1));
    t.put(Keys.INODE_COUNT, Keys.long8(metaLong(t, Keys.INODE_COUNT) + 1));
    return id;
  }

  private static void deleteInode(Txn t, long id, Node n) throws IOException {
    t.delete(Keys.inode(id));
    t.put(Keys.INODE_COUNT, Keys.long8(metaLong(t, Keys.INODE_COUNT) - 1));
    if (n.type == FileType.FILE) {
      if (n.inFile) {
        t.deleteRange(Keys.blockCrc(id, 0), Keys.id(Keys.BLOCK_CRC, id + 1));
        t.ops.add(new PhysOp(OP_DELETE, id, 0, null));
      } else {
        t.delete(Keys.id(Keys.INLINE, id));
      }
    } else if (n.type == FileType.SYMLINK) {
      t.delete(Keys.id(Keys.SYMLINK, id));
    }
    t.deleteRange(Keys.id(Keys.XATTR, id), Keys.id(Keys.XATTR, id + 1));
    t.delete(Keys.id(Keys.ORPHAN, id));
  }

  // ---------------------------------------------------------------------------------------
  // Scrub: verification and repair

  /**
   * A regular file with content, as the scrubber lists it.
   *
   * @param inode the file's inode
   * @param size its size in bytes, positive
   * @param inline whether its content is inline in RocksDB (one check) rather than in a data
   *     file (one check per 64 KiB block)
   */
  public record Content(long inode, long size, boolean inline) {
    /** The blocks to check: 1 for inline content, else one per started 64 KiB. */
    public long blocks() {
      return inline ? 1 : (size + BLOCK_BYTES - 1) / BLOCK_BYTES;
    }

    /** The logical length of block {@code b} ({@link #INLINE} for inline content), in bytes. */
    public int length(long b) {
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
  public record ContentPage(List<Content> files, long next, boolean done) {
    public ContentPage {
      files = List.copyOf(files);
    }
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
  public ContentPage contentAfter(long after) throws IOException {
    lock.readLock().lock();
    try {
      ensureOpen();
      List<Content> out = new ArrayList<>();
      long last = after;
      try (RocksIterator it = db.newIterator()) {
        int seen = 0;
        for (it.seek(Keys.inode(after + 1)); it.isValid() && it.key()[0] == Keys.INODE; it.next()) {
          if (seen++ == CONTENT_SCAN_MAX) {
            return new ContentPage(out, last, false);
          }
          last = Keys.idOf(it.key());
          Node n = decodeOrNull(it.value());
          if (n != null && n.type == FileType.FILE && n.size > 0) {
            out.add(new Content(last, n.size, !n.inFile));
          }
        }
        it.status();
      } catch (RocksDBException e) {
        throw rocks("list files", e);
      }
      return new ContentPage(out, last, true);
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * The outcome of checking one block.
   *
   * @param status what was found
   * @param bytes bytes read
   * @param problem what is wrong, for {@link Status#BAD}; empty otherwise
   */
  public record BlockCheck(Status status, int bytes, String problem) {
    /** What a check found. */
    public enum Status {
      /** The bytes match the stored CRC32C (or a hole reads as zeros). */
      GOOD,
      /** The bytes do not match, or cannot be read. */
      BAD,
      /** The block no longer exists: the file was removed, shrunk, or moved out of (or into) inline storage. */
      GONE
    }
  }

  private record Checked(BlockCheck check, byte[] bytes) {}

  /**
   * Reads block {@code block} of file {@code inode} (or its inline content, {@link #INLINE})
   * and checks it against the stored CRC32C, as of the applied state now. Holds the read lock
   * for one block (at most 64 KiB of I/O). Thread-safe. A read error of the data file counts
   * as {@link BlockCheck.Status#BAD}.
   *
   * @throws IOException if RocksDB fails
   * @throws IllegalStateException if the brick is closed
   * @throws IllegalArgumentException if {@code block} is negative and not {@link #INLINE}
   */
  public BlockCheck verifyBlock(long inode, long block) throws IOException {
    if (block < 0 && block != INLINE) {
      throw new IllegalArgumentException("bad block number " + block);
    }
    lock.readLock().lock();
    try {
      ensureOpen();
      return checkLocked(inode, block).check;
    } finally {
      lock.readLock().unlock();
    }
  }

  private Checked checkLocked(long inode, long block) throws IOException {
    Node n = node(dbKv, inode);
    if (n == null || n.type != FileType.FILE || n.size == 0 || n.inFile == (block == INLINE)
        || (block != INLINE && (block < 0 || block * BLOCK_BYTES >= n.size))) {
      return new Checked(new BlockCheck(BlockCheck.Status.GONE, 0, ""), null);
    }
    if (block == INLINE) {
      byte[] v = dbKv.get(Keys.id(Keys.INLINE, inode));
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
      byte[] bytes = blockVerified(dbKv, inode, n.size, block);
      return new Checked(new BlockCheck(BlockCheck.Status.GOOD, bytes.length, ""), bytes);
    } catch (HoldfastException e) {
      return bad(len, detail(e));
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

  /** What a repair did. */
  public enum RepairOutcome {
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
  public RepairOutcome repairBlock(long inode, long block, byte[] bytes) throws IOException {
    Objects.requireNonNull(bytes, "bytes");
    if (block < 0) {
      throw new IllegalArgumentException("bad block number " + block + " (inline content: use repairInline)");
    }
    lock.writeLock().lock();
    try {
      ensureOpen();
      Node n = node(dbKv, inode);
      if (n == null || n.type != FileType.FILE || !n.inFile || block * BLOCK_BYTES >= n.size) {
        return RepairOutcome.GONE;
      }
      long start = block * BLOCK_BYTES;
      int len = (int) Math.min(BLOCK_BYTES, n.size - start);
      byte[] crc = dbKv.get(Keys.blockCrc(inode, block));
      boolean matches = bytes.length == len
          && (crc == null ? isZeros(bytes) : Checksums.crc32c(bytes) == Keys.int4(crc));
      if (!matches) {
        return RepairOutcome.MISMATCH;
      }
      if (checkLocked(inode, block).check.status() == BlockCheck.Status.GOOD) {
        return RepairOutcome.ALREADY_GOOD;
      }
      Path p = dataPath(inode);
      boolean created = !Files.exists(p);
      try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          ch.write(buf, start + buf.position());
        }
        ch.force(true);
      }
      if (created) {
        fsyncDir(dataDir);
      }
      return RepairOutcome.REPAIRED;
    } finally {
      lock.writeLock().unlock();
    }
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
  public RepairOutcome repairInline(long inode, byte[] bytes) throws IOException {
    Objects.requireNonNull(bytes, "bytes");
    lock.writeLock().lock();
    try {
      ensureOpen();
      Node n = node(dbKv, inode);
      if (n == null || n.type != FileType.FILE || n.inFile || n.size == 0) {
        return RepairOutcome.GONE;
      }
      byte[] key = Keys.id(Keys.INLINE, inode);
      byte[] stored = dbKv.get(key);
      if (bytes.length != n.size || stored == null || stored.length < 4
          || Checksums.crc32c(bytes) != ByteBuffer.wrap(stored).getInt()) {
        return RepairOutcome.MISMATCH;
      }
      if (checkLocked(inode, INLINE).check.status() == BlockCheck.Status.GOOD) {
        return RepairOutcome.ALREADY_GOOD;
      }
      byte[] v = new byte[4 + bytes.length];
      System.arraycopy(stored, 0, v, 0, 4);
      System.arraycopy(bytes, 0, v, 4, bytes.length);
      try {
        db.put(syncOptions, key, v);
      } catch (RocksDBException e) {
        throw rocks("repair inline content of inode " + inode, e);
      }
      return RepairOutcome.REPAIRED;
    } finally {
      lock.writeLock().unlock();
    }
  }

  private static boolean isZeros(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Scrub: marks and their digests

  /** A held mark: the RocksDB snapshot of the state right after the mark's entry. */
  private static final class MarkView {
    final Snapshot snapshot;
    boolean inUse;

    MarkView(Snapshot snapshot) {
      this.snapshot = snapshot;
    }
  }

  /** Called by apply (write lock held, database open) right after a mark's batch is written. */
  private void holdMark(long index) {
    synchronized (marks) {
      marks.put(index, new MarkView(db.getSnapshot()));
      while (marks.size() > MAX_MARKS) {
        Map.Entry<Long, MarkView> oldest = null;
        for (Map.Entry<Long, MarkView> e : marks.entrySet()) {
          if (!e.getValue().inUse) {
            oldest = e;
            break;
          }
        }
        if (oldest == null) {
          break;
        }
        marks.remove(oldest.getKey());
        db.releaseSnapshot(oldest.getValue().snapshot);
      }
    }
  }

  /**
   * The indexes of the marks whose state this brick still holds (applied here since it was
   * opened, at most {@value #MAX_MARKS}, not yet digested), oldest first. Thread-safe.
   */
  public List<Long> heldMarks() {
    synchronized (marks) {
      return List.copyOf(marks.keySet());
    }
  }

  /** Receives per-directory digests from {@link #digestMark}, in directory order. */
  @FunctionalInterface
  public interface DirectorySink {
    /**
     * One directory's digest.
     *
     * @param directory its inode; 0 for the volume-wide state (counters and orphans)
     * @param digest the first 64 bits of its SHA-256
     * @throws IOException if the sink cannot keep it
     */
    void accept(long directory, long digest) throws IOException;
  }

  /**
   * Digests the state this brick held right after applying mark {@code mark}, per directory,
   * and then releases that state. For each directory (by inode): its attributes and extended
   * attributes, then each entry in name order (name, inode, type) and, for an entry that is not
   * a directory, the child's attributes, extended attributes, symbolic link target and content
   * checksums (the CRC32C and length of inline content, the block CRC32Cs of a data file: the
   * content itself is checked against them by {@link #verifyBlock}, and a RocksDB snapshot does
   * not cover data files). Directory 0 stands for
   * the inode counters and the orphans. The result is SHA-256 over every (directory, digest) in
   * order; members that applied the same entries get the same digests.
   *
   * <p>Reads from the mark's RocksDB snapshot in steps of about {@value #MARK_STEP_BYTES}
   * bytes, calling {@link Pacer#acquire} after each, without the apply lock: applies go on
   * meanwhile. Blocking; call it from a background thread. Not to be called twice at once for
   * the same mark.
   *
   * @return the SHA-256 (32 bytes)
   * @throws HoldfastException {@link Errno#ENOENT} if the brick does not hold that mark (never
   *     applied here, already digested, or released when the brick was restored or closed)
   * @throws IOException if RocksDB or the sink fails
   * @throws InterruptedException if interrupted while pacing; the mark is released all the same
   */
  public byte[] digestMark(long mark, Pacer pacer, DirectorySink sink) throws IOException, InterruptedException {
    Objects.requireNonNull(pacer, "pacer");
    Objects.requireNonNull(sink, "sink");
    synchronized (marks) {
      MarkView v = marks.get(mark);
      if (v == null || v.inUse) {
        throw new HoldfastException(Errno.ENOENT, "no state held for scrub mark " + mark + " (held: " + marks.keySet() + ")");
      }
      v.inUse = true;
    }
    try {
      MarkWalk walk = new MarkWalk(sink);
      while (!walk.done) {
        long read;
        dbLifetime.readLock().lock();
        try {
          MarkView v;
          synchronized (marks) {
            v = marks.get(mark);
          }
          if (v == null || db == null) {
            throw new HoldfastException(Errno.ENOENT, "state of scrub mark " + mark + " was released (brick restored or closed)");
          }
          try (ReadOptions ro = new ReadOptions().setSnapshot(v.snapshot)) {
            read = walk.step(ro, MARK_STEP_BYTES);
          }
        } finally {
          dbLifetime.readLock().unlock();
        }
        pacer.acquire(read);
      }
      return walk.total.digest();
    } finally {
      releaseMark(mark);
    }
  }

  /** Releases the state held for a mark, if any. Thread-safe. */
  public void releaseMark(long mark) {
    dbLifetime.readLock().lock();
    try {
      synchronized (marks) {
        MarkView v = marks.remove(mark);
        if (v != null && db != null) {
          db.releaseSnapshot(v.snapshot);
        }
      }
    } finally {
      dbLifetime.readLock().unlock();
    }
  }

  /** An inode record, or null if it cannot be decoded (damaged); for the scrubber's scans. */
  private static Node decodeOrNull(byte[] v) {
    try {
      return Node.decode(v);
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The walk of one mark digest, resumable between steps: the next inode record to look at, or
   * the directory being hashed and its next entry.
   */
  private final class MarkWalk {
    final DirectorySink sink;
    final MessageDigest total = sha256();
    final MessageDigest dirSha = sha256();
    boolean volumeDone;
    boolean done;
    byte[] nextInode = Keys.inode(0);
    long dir = -1;
    byte[] nextDent;
    long read;

    MarkWalk(DirectorySink sink) {
      this.sink = sink;
      total.update("HFMARK1".getBytes(StandardCharsets.US_ASCII));
    }

    /** Walks on until about {@code budget} bytes were read or the end; returns the bytes read. */
    long step(ReadOptions ro, long budget) throws IOException {
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
        throw rocks("digest a scrub mark", e);
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
          Node n = decodeOrNull(v);
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
      Node n = decodeOrNull(v);
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
          hashKv(ck, cv == null ? null : ByteBuffer.allocate(8).putInt(cv.length).put(cv, 0, Math.min(4, cv.length)).array());
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
  }
}
