package io.holdfast.server;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.ScrubStats;
import io.holdfast.storage.Brick;
import io.holdfast.storage.ScrubPass;
import io.holdfast.transport.Peer;
import io.holdfast.transport.TransportSecurity;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.raftlog.RaftLog;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scrubber of one volume member: a background thread that re-reads the member's brick at a
 * bounded rate, repairs bad blocks from the other members, compares per-directory digests with
 * them at a common log index, and takes the member out of service when it cannot be repaired.
 *
 * <h2>A pass</h2>
 *
 * <ol>
 *   <li><b>Blocks.</b> A {@link ScrubPass} checks every content block against its stored
 *       CRC32C at the {@link Pacer}'s rate. A bad block is asked of every other member
 *       ({@link Request.ScrubRead}: a member answers only from a copy that passes its own
 *       CRC32C) and rewritten with the first copy this brick's stored CRC32C accepts.
 *   <li><b>Digests.</b> Members rarely sit at the same applied index, so the comparison point
 *       is a log entry: the scrubber proposes a {@link Request.ScrubMark} (or uses one applied
 *       since its pass began, e.g. proposed by another member's scrubber). Every member holds a
 *       RocksDB snapshot at exactly that index and digests it per directory in the background
 *       ({@link MarkDigests}). The scrubber asks every member for its total; a member whose
 *       total differs from the majority's (more than half the group) counts its divergent
 *       directories against a majority member, page by page ({@link Request.MarkDirectories}).
 * </ol>
 *
 * <h2>Quarantine</h2>
 *
 * <p>A member that finds itself divergent, or holding a block no member can repair, takes
 * itself out of service — but only if the other members that are in service are still a
 * majority of the group, so a scrub never takes a volume down. It records why in
 * {@code scrub/quarantine} inside the brick directory (so it survives restarts and goes away
 * with the brick), refuses file-system queries (clients then read from other members), hands
 * leadership to another member whenever it finds itself leading, takes no snapshots (they would
 * carry the damage), and starts no more passes. It keeps applying the log, so it stays a voting
 * member.
 *
 * <h2>Rebuild</h2>
 *
 * <p>A quarantined member then rebuilds itself: it downloads the latest snapshot file of a member
 * in service ({@link Request.SnapshotRead}, paced), and {@link Brick#rebuild} swaps it in and
 * re-applies this member's own log entries after it up to where the member had applied, under
 * the brick's write lock. The log entries are the committed ones every member applies, so the
 * result is the healthy member's state carried forward by the same entries. That needs this
 * member's log to reach back to the snapshot's index: if the source's latest snapshot is older,
 * the scrubber asks the source to take one (the quarantined member takes none, so its log is
 * not purged meanwhile); a source without snapshots will do when this member's log starts at
 * the beginning (then the brick is rebuilt from empty and the whole log). The
 * quarantine is then lifted and a pass starts at once to check the result at a new mark. A
 * member never rebuilds while it leads (its replies would be wrong), and at most
 * {@value #MAX_REBUILDS} times per node start (not at all with {@link ScrubSettings#rebuild()}
 * off); after that, or if it fails, the operator can
 * stop the node, remove the brick directory and start it (it restores its latest local snapshot
 * and replays the log: right only if that snapshot predates the damage).
 *
 * <h2>Schedule and control</h2>
 *
 * <p>A pass starts on request ({@link Request.ScrubControl}) or, with a positive
 * {@link ScrubSettings#interval()}, one interval after the previous pass ended (the first one
 * interval after the brick was first served; the times are kept in {@code scrub/state}).
 * Pausing stops all scrub I/O until started again (also across restarts: it is kept in
 * {@code scrub/state}), including digests other members wait for. Counters restart at zero with
 * the node.
 *
 * <p>Thread safety: the scrubber's own thread does all the scrub work; {@link #answer},
 * {@link #stats} and {@link #refusal} are called from Ratis's threads and only read state or
 * flip flags.
 */
final class Scrubber implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Scrubber.class);
  /** Longest text the scrubber reports, in characters (at most 3 UTF-8 bytes each, within {@link Limits#MAX_SCRUB_TEXT_BYTES}). */
  static final int MAX_TEXT_CHARS = 320;
  /** How long a pass waits for the other members' digests of a mark. */
  static final long DIGEST_WAIT_MILLIS = TimeUnit.MINUTES.toMillis(30);
  /** How long a pass waits for its own mark to be applied here. */
  static final long MARK_WAIT_MILLIS = TimeUnit.MINUTES.toMillis(1);
  /** Directories named in a divergence report, at most. */
  static final int NAMED_DIRECTORIES = 8;
  /** Rebuilds from another member per node start, at most. */
  static final int MAX_REBUILDS = 3;
  /** Time between attempts to rebuild, when one failed. */
  static final long REBUILD_RETRY_NANOS = TimeUnit.MINUTES.toNanos(5);

  /** The Raft division of this member, looked up when needed (it is created after the state machine). */
  @FunctionalInterface
  interface DivisionLookup {
    RaftServer.Division get() throws IOException;
  }

  private final Brick brick;
  private final Path brickDir;
  private final Path scrubDir;
  private final String member;
  private final DivisionLookup division;
  private final Supplier<SingleFileSnapshotInfo> latestSnapshot;
  private final ScrubSettings settings;
  private final InstantSource clock;
  private final Pacer pacer;
  private final MarkDigests marks;
  private final ScrubPeers peers;
  private final Thread thread;

  private ScrubStats.State state = ScrubStats.State.IDLE; // guarded by this
  private boolean startRequested; // guarded by this
  private boolean passActive; // guarded by this
  private long firstSeenMillis; // guarded by this
  private long lastPassStartMillis; // guarded by this
  private long lastPassEndMillis; // guarded by this
  private volatile ScrubPass pass;
  private volatile String quarantine;
  private volatile String lastProblem = "";
  private volatile long divergentDirectories;
  private volatile long lastMark;
  private volatile boolean closed;
  private long passStartIndex;
  private long lastTransferNanos;
  private long lastRebuildNanos;
  private boolean rebuildTried;
  private int rebuilds;
  private final AtomicLong passes = new AtomicLong();
  private final AtomicLong bytesVerified = new AtomicLong();
  private final AtomicLong blocksVerified = new AtomicLong();
  private final AtomicLong badBlocks = new AtomicLong();
  private final AtomicLong repairedBlocks = new AtomicLong();
  private final AtomicLong unrepairableBlocks = new AtomicLong();

  /**
   * A scrubber for {@code brick}, not yet started.
   *
   * @param brickDir the brick's directory; the scrubber keeps {@code scrub/} in it
   * @param member this node's address
   * @param latestSnapshot this member's latest Ratis snapshot (null if none), which other members
   *     may rebuild from
   * @param transport this node's TLS material, for its requests to the other members
   * @throws IOException if {@code scrub/} cannot be created or read
   */
  Scrubber(Brick brick, Path brickDir, String member, DivisionLookup division, Supplier<SingleFileSnapshotInfo> latestSnapshot,
      ScrubSettings settings, TransportSecurity transport, InstantSource clock) throws IOException {
    this.brick = brick;
    this.brickDir = brickDir;
    this.scrubDir = brickDir.resolve("scrub");
    this.member = member;
    this.division = division;
    this.latestSnapshot = latestSnapshot;
    this.settings = settings;
    this.clock = clock;
    this.pacer = new Pacer(settings.rateBytesPerSecond());
    this.marks = new MarkDigests(scrubDir);
    this.peers = new ScrubPeers(transport);
    this.quarantine = readQuarantine();
    loadState();
    this.thread = new Thread(this::run, "holdfast-scrub-" + brickDir.getFileName());
    thread.setDaemon(true);
  }

  /** Starts the scrubber's thread. */
  void start() {
    thread.start();
  }

  // ------------------------------------------------------------------------ answers

  /**
   * Answers a scrub request from another member or a tool, or returns null if {@code q} is not
   * one.
   */
  Response answer(Request.Query q, Peer peer) {
    if (!(q instanceof Request.ScrubRead || q instanceof Request.MarkDigest || q instanceof Request.MarkDirectories
        || q instanceof Request.ScrubControl || q instanceof Request.SnapshotRead)) {
      return null;
    }
    if (!peer.role().privileged()) {
      return new Response.Error(Errno.EACCES, "scrub requests need the admin certificate or a node's; " + peer + " has neither");
    }
    try {
      return switch (q) {
        case Request.ScrubRead r -> quarantined()
            ? new Response.Error(Errno.EIO, "member quarantined by scrub: " + quarantine)
            : brick.query(r);
        case Request.MarkDigest m -> marks.answerTotal(m.mark(), brick);
        case Request.MarkDirectories m -> marks.page(m.mark(), m.after(), m.maxEntries());
        case Request.ScrubControl c -> control(c);
        case Request.SnapshotRead r -> snapshotChunk(r);
        default -> throw new IllegalStateException("not a scrub request: " + q);
      };
    } catch (HoldfastException e) {
      return new Response.Error(e.errno(), e.getMessage());
    } catch (IOException e) {
      return new Response.Error(Errno.EIO, "scrubber failed: " + e.getMessage());
    }
  }

  private Response control(Request.ScrubControl c) throws HoldfastException {
    if (c.rateBytesPerSecond() < 0) {
      throw new HoldfastException(Errno.EINVAL, "scrub rate must not be negative, got " + c.rateBytesPerSecond());
    }
    synchronized (this) {
      switch (c.action()) {
        case START -> {
          if (c.rateBytesPerSecond() > 0) {
            pacer.setRate(c.rateBytesPerSecond());
          }
          pacer.resume();
          if (passActive) {
            state = ScrubStats.State.RUNNING;
          } else {
            state = ScrubStats.State.IDLE;
            startRequested = !quarantined();
          }
          notifyAll();
        }
        case PAUSE -> {
          state = ScrubStats.State.PAUSED;
          pacer.pause();
        }
        case STATUS -> { }
      }
      if (c.action() != Request.ScrubControl.Action.STATUS) {
        saveStateLocked(); // a pause holds across restarts, until started again
      }
    }
    return new Response.ScrubStatus(stats());
  }

  /** A chunk of this member's latest snapshot file, for a quarantined member that rebuilds. */
  private Response snapshotChunk(Request.SnapshotRead r) throws IOException {
    if (quarantined()) {
      return new Response.Error(Errno.EIO, "member quarantined by scrub: its snapshots may carry the damage: " + quarantine);
    }
    if (r.offset() < 0 || r.length() <= 0 || r.length() > Limits.MAX_DATA_BYTES) {
      return new Response.Error(Errno.EINVAL, "bad snapshot read at " + r.offset() + " of " + r.length() + " bytes");
    }
    SingleFileSnapshotInfo s = latestSnapshot.get();
    if (s == null) {
      return new Response.Error(Errno.ENOENT, "no snapshot on this member");
    }
    if (r.index() != 0 && r.index() != s.getIndex()) {
      return new Response.Error(Errno.ENOENT, "snapshot " + r.index() + " is no longer this member's latest (" + s.getIndex() + ")");
    }
    try (FileChannel ch = FileChannel.open(s.getFile().getPath(), StandardOpenOption.READ)) {
      long size = ch.size();
      ByteBuffer buf = ByteBuffer.allocate((int) Math.max(0, Math.min(r.length(), size - r.offset())));
      while (buf.hasRemaining() && ch.read(buf, r.offset() + buf.position()) >= 0) {
        // read on
      }
      byte[] bytes = buf.array();
      return new Response.SnapshotChunk(s.getIndex(), size, bytes, Checksums.crc32c(bytes));
    } catch (NoSuchFileException e) {
      return new Response.Error(Errno.ENOENT, "snapshot " + s.getIndex() + " was just replaced on this member");
    }
  }

  /** Whether the scrubber took this member out of service. */
  boolean quarantined() {
    return !quarantine.isEmpty();
  }

  /**
   * The message a refused file-system query carries while this member is quarantined, or null
   * if it serves.
   */
  String refusal() {
    String q = quarantine;
    return q.isEmpty() ? null
        : "member " + member + " quarantined by scrub: " + q + ". Other members serve the volume. "
            + (settings.rebuild()
                ? "It rebuilds itself from a member in service ('holdfast scrub status' shows how far it got)"
                : "It stays out of service (started with --no-scrub-rebuild)")
            + "; to rebuild it by hand, stop its node, remove " + brickDir + " and start the node (it restores its latest"
            + " local snapshot, which is right only if that predates the damage, and replays the log)";
  }

  /** This member's scrub state and counters. Thread-safe. */
  ScrubStats stats() {
    ScrubPass p = pass;
    synchronized (this) {
      return new ScrubStats(state, cut(quarantine), passes.get(), p == null ? 0 : p.bytesDone(), p == null ? 0 : p.bytesTotal(),
          bytesVerified.get(), blocksVerified.get(), badBlocks.get(), repairedBlocks.get(), unrepairableBlocks.get(),
          divergentDirectories, lastMark, lastPassStartMillis, lastPassEndMillis, nextPassMillis(),
          pacer.bytesPerSecond(), cut(lastProblem));
    }
  }

  private long nextPassMillis() {
    if (!settings.automatic() || quarantined() || state == ScrubStats.State.PAUSED) {
      return 0;
    }
    return Math.max(firstSeenMillis, lastPassEndMillis) + settings.interval().toMillis();
  }

  private static String cut(String s) {
    if (s.length() <= MAX_TEXT_CHARS) {
      return s;
    }
    int end = Character.isHighSurrogate(s.charAt(MAX_TEXT_CHARS - 1)) ? MAX_TEXT_CHARS - 1 : MAX_TEXT_CHARS;
    return s.substring(0, end);
  }

  // ------------------------------------------------------------------------ the thread

  private void run() {
    while (!closed) {
      try {
        serveMarks();
        stayOutOfLead();
        rebuildIfQuarantined();
        ScrubPass p = beginPassIfDue();
        if (p == null) {
          idle(1000);
        } else {
          runPass(p);
        }
      } catch (InterruptedException e) {
        return; // closing
      } catch (IOException | RuntimeException e) {
        if (closed) {
          return;
        }
        problem("scrubber error: " + e);
        LOG.error("{}: scrubber error; trying again in 10 s", brickDir.getFileName(), e);
        endPass();
        try {
          idle(10_000);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  private synchronized void idle(long millis) throws InterruptedException {
    if (!closed && !startRequested) {
      wait(millis);
    }
  }

  private ScrubPass beginPassIfDue() {
    synchronized (this) {
      if (closed || quarantined() || state == ScrubStats.State.PAUSED) {
        return null;
      }
      long now = clock.millis();
      boolean due = startRequested || (settings.automatic() && now >= nextPassMillis());
      if (!due) {
        return null;
      }
      startRequested = false;
      passActive = true;
      state = ScrubStats.State.RUNNING;
      lastPassStartMillis = now;
      passStartIndex = brick.appliedIndex();
    }
    ScrubPass p = new ScrubPass(brick, pacer, this::offers, new Counting(), Pacer.Sleeper.SYSTEM);
    pass = p;
    LOG.info("{}: scrub pass started at applied index {}, {} bytes/s", brickDir.getFileName(), passStartIndex, pacer.bytesPerSecond());
    return p;
  }

  private void runPass(ScrubPass p) throws IOException, InterruptedException {
    long total = p.estimate();
    long started = System.nanoTime();
    long lastChores = started;
    while (!closed && !quarantined()) {
      pacer.acquire(0); // blocks while paused
      if (!p.step()) {
        break;
      }
      if (System.nanoTime() - lastChores > 500_000_000L) {
        serveMarks(); // other members may wait for this member's digest
        stayOutOfLead();
        lastChores = System.nanoTime();
      }
    }
    if (!closed && !quarantined()) {
      compareDigests();
    }
    LOG.info("{}: scrub pass ended after {} s: {} of {} bytes checked, {} bad blocks, {} repaired, {} unrepairable{}",
        brickDir.getFileName(), (System.nanoTime() - started) / 1_000_000_000L, p.bytesDone(), total, badBlocks.get(),
        repairedBlocks.get(), unrepairableBlocks.get(), quarantined() ? "; member quarantined: " + quarantine : "");
    endPass();
  }

  private void endPass() {
    synchronized (this) {
      if (!passActive) {
        return;
      }
      passActive = false;
      passes.incrementAndGet();
      lastPassEndMillis = clock.millis();
      if (state == ScrubStats.State.RUNNING) {
        state = ScrubStats.State.IDLE;
      }
    }
    saveState();
  }

  /** Digests the marks the brick holds, for this pass and for the other members' passes. */
  private void serveMarks() throws IOException, InterruptedException {
    marks.computeHeld(brick, pacer);
  }

  /** A quarantined member must not lead: its brick decides the outcomes the leader returns. */
  private void stayOutOfLead() {
    if (!quarantined() || System.nanoTime() - lastTransferNanos < TimeUnit.SECONDS.toNanos(10)) {
      return;
    }
    try {
      RaftServer.Division d = division.get();
      if (!d.getInfo().isLeader()) {
        return;
      }
      lastTransferNanos = System.nanoTime();
      for (RaftPeer p : inServiceOthers()) {
        LOG.warn("{}: quarantined member leads; handing leadership to {}", brickDir.getFileName(), p.getAddress());
        peers.transferLeadership(p.getId());
        return;
      }
    } catch (IOException e) {
      LOG.warn("{}: could not hand leadership away: {}", brickDir.getFileName(), e.getMessage());
    }
  }

  // ------------------------------------------------------------------------ blocks

  /** The other members' copies of a block (the {@link ScrubPass.RepairSource}). */
  private ScrubPass.Offers offers(long inode, long block) {
    List<byte[]> copies = new ArrayList<>();
    List<String> unreachable = new ArrayList<>();
    List<RaftPeer> others;
    try {
      others = others();
    } catch (IOException e) {
      return new ScrubPass.Offers(List.of(), List.of("the group (" + e.getMessage() + ")"));
    }
    for (RaftPeer p : others) {
      try {
        Response r = peers.ask(p, new Request.ScrubRead(inode, block));
        if (r instanceof Response.Data d && Checksums.crc32c(d.bytes()) == d.crc32c()) {
          copies.add(d.bytes());
        } else if (r instanceof Response.Error e && e.errno() == Errno.EACCES) {
          unreachable.add(p.getAddress() + " (" + e.message() + ")");
        }
      } catch (IOException e) {
        unreachable.add(p.getAddress());
      }
    }
    return new ScrubPass.Offers(copies, unreachable);
  }

  private List<RaftPeer> others() throws IOException {
    RaftServer.Division d = division.get();
    peers.use(d.getGroup());
    List<RaftPeer> out = new ArrayList<>();
    for (RaftPeer p : d.getGroup().getPeers()) {
      if (!p.getId().equals(d.getId())) {
        out.add(p);
      }
    }
    return out;
  }

  /** Counts what the pass finds and acts on blocks that cannot be repaired. */
  private final class Counting implements ScrubPass.Listener {
    @Override
    public void checked(long inode, long block, int bytes) {
      blocksVerified.incrementAndGet();
      bytesVerified.addAndGet(bytes);
    }

    @Override
    public void bad(long inode, long block, String problem, ScrubPass.Outcome outcome, String detail) {
      badBlocks.incrementAndGet();
      String what = (block == Brick.INLINE ? "inline content" : "block " + block) + " of inode " + inode;
      switch (outcome) {
        case REPAIRED -> {
          repairedBlocks.incrementAndGet();
          problem("repaired " + what + " from another member (" + problem + ")");
          LOG.warn("{}: repaired {} from another member ({})", brickDir.getFileName(), what, problem);
        }
        case OVERWRITTEN -> LOG.info("{}: bad {} was overwritten by the volume's own writes meanwhile", brickDir.getFileName(), what);
        case DEFERRED -> {
          problem("bad " + what + " not repaired yet: " + detail);
          LOG.warn("{}: bad {} not repaired yet: {}", brickDir.getFileName(), what, detail);
        }
        case UNREPAIRABLE -> {
          unrepairableBlocks.incrementAndGet();
          quarantine(what + " is corrupt (" + problem + ") and cannot be repaired: " + detail);
        }
      }
    }
  }

  // ------------------------------------------------------------------------ digests

  private void compareDigests() throws IOException, InterruptedException {
    List<RaftPeer> others = others();
    if (others.isEmpty()) {
      return; // nothing to compare with
    }
    serveMarks();
    long mark = marks.newestAbove(passStartIndex); // e.g. proposed by another member's pass
    if (mark < 0) {
      mark = peers.proposeMark();
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MARK_WAIT_MILLIS);
      while (marks.total(mark) == null) {
        serveMarks();
        if (marks.total(mark) != null) {
          break;
        }
        if (System.nanoTime() - deadline > 0) {
          problem("scrub mark " + mark + " was not digested here within " + MARK_WAIT_MILLIS / 1000 + " s");
          return;
        }
        pacer.acquire(0);
        Thread.sleep(50); // the mark is applied by Ratis's thread; nothing to be told
      }
    }
    Map<String, byte[]> totals = new LinkedHashMap<>();
    totals.put(member, marks.total(mark));
    Map<String, RaftPeer> waiting = new LinkedHashMap<>();
    others.forEach(p -> waiting.put(p.getAddress(), p));
    List<String> missing = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DIGEST_WAIT_MILLIS);
    while (!waiting.isEmpty()) {
      for (var it = waiting.entrySet().iterator(); it.hasNext(); ) {
        var e = it.next();
        try {
          Response r = peers.ask(e.getValue(), new Request.MarkDigest(mark));
          if (r instanceof Response.Digest d) {
            totals.put(e.getKey(), d.sha256());
            it.remove();
          } else if (!(r instanceof Response.Error err && err.errno() == Errno.EAGAIN)) {
            missing.add(e.getKey() + " (" + ScrubPeers.describe(r) + ")");
            it.remove();
          }
        } catch (IOException ex) {
          missing.add(e.getKey() + " (" + ex.getMessage() + ")");
          it.remove();
        }
      }
      if (waiting.isEmpty()) {
        break;
      }
      if (System.nanoTime() - deadline > 0) {
        waiting.keySet().forEach(a -> missing.add(a + " (still computing after " + DIGEST_WAIT_MILLIS / 60_000 + " min)"));
        break;
      }
      serveMarks();
      pacer.acquire(0);
      Thread.sleep(200); // other members digest at their own pace; polling is how we learn they are done
    }
    decide(mark, totals, others.size() + 1, missing);
  }

  private void decide(long mark, Map<String, byte[]> totals, int groupSize, List<String> missing)
      throws IOException, InterruptedException {
    Map<ByteBuffer, List<String>> byDigest = new LinkedHashMap<>();
    totals.forEach((m, d) -> byDigest.computeIfAbsent(ByteBuffer.wrap(d), k -> new ArrayList<>()).add(m));
    int majority = groupSize / 2 + 1;
    List<String> agreeing = null;
    for (List<String> members : byDigest.values()) {
      if (members.size() >= majority) {
        agreeing = members;
      }
    }
    lastMark = mark;
    String absent = missing.isEmpty() ? "" : "; no digest from " + String.join(", ", missing);
    if (agreeing == null) {
      problem("scrub mark " + mark + ": no majority among the digests of " + totals.size() + " of " + groupSize + " members "
          + byDigest.values() + absent);
      return;
    }
    if (agreeing.contains(member)) {
      divergentDirectories = 0;
      List<String> differing = new ArrayList<>(totals.keySet());
      differing.removeAll(agreeing);
      if (!differing.isEmpty()) {
        problem("scrub mark " + mark + ": " + String.join(", ", differing) + " differ from the majority "
            + agreeing + " (each takes itself out of service when its own scrubber compares)" + absent);
      } else if (!absent.isEmpty()) {
        problem("scrub mark " + mark + ": the digests that came agree" + absent);
      }
      return;
    }
    List<Long> dirs = divergentDirectories(mark, agreeing.getFirst());
    divergentDirectories = dirs.size();
    List<Long> named = dirs.subList(0, Math.min(NAMED_DIRECTORIES, dirs.size()));
    quarantine("its state at scrub mark " + mark + " differs from the majority " + agreeing + " in " + dirs.size()
        + " director" + (dirs.size() == 1 ? "y" : "ies") + " (inodes " + named + (dirs.size() > named.size() ? ", …" : "")
        + "; 0 is the volume-wide counters and orphans)");
  }

  /** The directories whose digests at {@code mark} differ between this member and {@code other}. */
  private List<Long> divergentDirectories(long mark, String other) throws IOException {
    RaftPeer peer = others().stream().filter(p -> p.getAddress().equals(other)).findFirst()
        .orElseThrow(() -> new IOException(other + " left the group"));
    PageCursor mine = new PageCursor(after -> marks.page(mark, after, Limits.MAX_DIGEST_PAGE_ENTRIES));
    PageCursor theirs = new PageCursor(after -> {
      Response r = peers.ask(peer, new Request.MarkDirectories(mark, after, Limits.MAX_DIGEST_PAGE_ENTRIES));
      if (r instanceof Response.DirDigests d) {
        return d;
      }
      throw new IOException(other + " did not list its directory digests: " + ScrubPeers.describe(r));
    });
    List<Long> out = new ArrayList<>();
    Response.DirDigest a = mine.next();
    Response.DirDigest b = theirs.next();
    while (a != null || b != null) {
      if (b == null || (a != null && a.directory() < b.directory())) {
        out.add(a.directory());
        a = mine.next();
      } else if (a == null || b.directory() < a.directory()) {
        out.add(b.directory());
        b = theirs.next();
      } else {
        if (a.digest() != b.digest()) {
          out.add(a.directory());
        }
        a = mine.next();
        b = theirs.next();
      }
    }
    return out;
  }

  /** Reads directory digests page by page. */
  private static final class PageCursor {
    interface Fetch {
      Response.DirDigests after(long directory) throws IOException;
    }

    private final Fetch fetch;
    private List<Response.DirDigest> page = List.of();
    private int i;
    private boolean more = true;
    private long last = -1;

    PageCursor(Fetch fetch) {
      this.fetch = fetch;
    }

    Response.DirDigest next() throws IOException {
      while (i == page.size()) {
        if (!more) {
          return null;
        }
        Response.DirDigests d = fetch.after(last);
        page = d.entries();
        more = d.more() && !page.isEmpty();
        i = 0;
      }
      Response.DirDigest e = page.get(i++);
      last = e.directory();
      return e;
    }
  }

  // ------------------------------------------------------------------------ quarantine

  /**
   * Takes this member out of service for {@code why}, unless the members in service without it
   * would not be a majority of the group.
   */
  private void quarantine(String why) {
    int inService;
    int groupSize;
    try {
      groupSize = others().size() + 1;
      inService = inServiceOthers().size();
    } catch (IOException e) {
      problem("would take this member out of service (" + why + ") but cannot reach the group: " + e.getMessage());
      return;
    }
    if (inService < groupSize / 2 + 1) {
      problem("this member should be rebuilt (" + why + "), but it keeps serving: only " + inService + " of the other "
          + (groupSize - 1) + " members are in service, not a majority of " + groupSize);
      LOG.error("{}: {}", brickDir.getFileName(), lastProblem);
      return;
    }
    try {
      Files.createDirectories(scrubDir);
      DurableFiles.replace(scrubDir.resolve("quarantine"), why);
    } catch (IOException e) {
      LOG.error("{}: could not record the quarantine (it holds until the node stops)", brickDir.getFileName(), e);
    }
    quarantine = why;
    rebuildTried = false;
    problem(why);
    LOG.error("{}: member {} quarantined by scrub: {}", brickDir.getFileName(), member, why);
    stayOutOfLead();
  }

  /** The other members that answer and are not quarantined. */
  private List<RaftPeer> inServiceOthers() throws IOException {
    List<RaftPeer> out = new ArrayList<>();
    for (RaftPeer p : others()) {
      try {
        if (peers.ask(p, new Request.ScrubControl(Request.ScrubControl.Action.STATUS, 0)) instanceof Response.ScrubStatus s
            && !s.stats().quarantined()) {
          out.add(p);
        }
      } catch (IOException e) {
        // down: not in service
      }
    }
    return out;
  }

  // ------------------------------------------------------------------------ rebuild

  /** Rebuilds a quarantined member from another member's snapshot and its own log; see the class comment. */
  private void rebuildIfQuarantined() throws InterruptedException {
    if (!quarantined() || !settings.rebuild() || rebuilds >= MAX_REBUILDS || (rebuildTried && System.nanoTime() - lastRebuildNanos < REBUILD_RETRY_NANOS)) {
      return;
    }
    RaftServer.Division d;
    try {
      d = division.get();
    } catch (IOException e) {
      return; // not (yet) part of the group: nothing to rebuild from, and no attempt made
    }
    rebuildTried = true;
    lastRebuildNanos = System.nanoTime();
    String why = quarantine;
    List<String> failures = new ArrayList<>();
    try {
      if (d.getInfo().isLeader()) {
        problem("quarantined (" + why + "); not rebuilding while this member leads");
        rebuildTried = false; // again once leadership has moved
        return;
      }
      for (RaftPeer source : inServiceOthers()) {
        Path file = scrubDir.resolve("rebuild.snap");
        try {
          long before = brick.appliedIndex();
          long start = d.getRaftLog().getStartIndex();
          long downloaded = download(source, file);
          if (downloaded < 0 ? start > 1 : downloaded + 1 < start) {
            // the source's latest snapshot is older than this member's log reaches: ask for a new one
            peers.createSnapshot(source);
            downloaded = download(source, file);
          }
          long index;
          try (InputStream in = downloaded < 0 ? null : new BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
            index = brick.rebuild(in, logOf(d.getRaftLog()));
          }
          rebuilds++;
          Files.deleteIfExists(scrubDir.resolve("quarantine"));
          quarantine = "";
          String done = "rebuilt from " + (downloaded < 0 ? "an empty brick" : source.getAddress() + "'s snapshot at index " + index)
              + " and this member's log up to " + before + " (quarantined because " + why + "); a new pass checks it";
          problem(done);
          LOG.warn("{}: {}", brickDir.getFileName(), done);
          synchronized (this) {
            startRequested = true;
          }
          return;
        } catch (HoldfastException e) {
          failures.add(source.getAddress() + ": " + e.getMessage());
        } catch (IOException e) {
          failures.add(source.getAddress() + ": " + e.getMessage());
          if (!brick.isOpen()) {
            break; // replaying the log failed: this member cannot go on; nothing more to try
          }
        } finally {
          try {
            Files.deleteIfExists(file);
          } catch (IOException e) {
            LOG.warn("{}: could not remove {}: {}", brickDir.getFileName(), file, e.getMessage());
          }
        }
      }
    } catch (IOException e) {
      failures.add(e.getMessage());
    }
    problem("quarantined (" + why + "); could not rebuild from another member yet"
        + (failures.isEmpty() ? ": no member in service" : ": " + String.join("; ", failures)));
    LOG.warn("{}: {}", brickDir.getFileName(), lastProblem);
  }

  /**
   * Downloads {@code source}'s latest snapshot file into {@code file}, paced.
   *
   * @return its index, or -1 if the source has no snapshot (then nothing is written)
   * @throws IOException if the source fails, sends a bad chunk, or replaces the snapshot meanwhile
   */
  private long download(RaftPeer source, Path file) throws IOException, InterruptedException {
    long index = 0;
    long total = -1;
    long offset = 0;
    try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      while (total < 0 || offset < total) {
        Response r = peers.ask(source, new Request.SnapshotRead(index, offset, Limits.MAX_DATA_BYTES));
        if (index == 0 && r instanceof Response.Error e && e.errno() == Errno.ENOENT) {
          return -1;
        }
        if (!(r instanceof Response.SnapshotChunk c)) {
          throw new IOException("did not send its snapshot: " + ScrubPeers.describe(r));
        }
        if (Checksums.crc32c(c.bytes()) != c.crc32c()) {
          throw new IOException("sent a snapshot chunk failing its CRC32C at offset " + offset);
        }
        if (index == 0) {
          index = c.index();
          total = c.totalBytes();
        } else if (c.index() != index || c.totalBytes() != total) {
          throw new IOException("replaced its snapshot during the download");
        }
        if (c.bytes().length == 0 && offset < total) {
          throw new IOException("sent an empty chunk at offset " + offset + " of " + total);
        }
        ByteBuffer b = ByteBuffer.wrap(c.bytes());
        while (b.hasRemaining()) {
          out.write(b, offset + b.position());
        }
        offset += c.bytes().length;
        pacer.acquire(c.bytes().length);
      }
      out.force(true);
    }
    return index;
  }

  /** This member's Raft log as a brick replays it: the entries Ratis hands to the state machine. */
  private static Brick.LogSource logOf(RaftLog log) {
    return new Brick.LogSource() {
      @Override
      public long firstIndex() {
        return log.getStartIndex();
      }

      @Override
      public LogEntry entry(long index) throws IOException {
        LogEntryProto p = log.get(index);
        if (p == null) {
          throw new IOException("entry " + index + " is not in this member's log");
        }
        if (!p.hasStateMachineLogEntry()) {
          return null;
        }
        try {
          return Codec.decodeLogEntry(p.getStateMachineLogEntry().getLogData().toByteArray());
        } catch (ProtocolException e) {
          return null; // the state machine applied it as an error, without the brick
        }
      }
    };
  }

  private String readQuarantine() throws IOException {
    try {
      return Files.readString(scrubDir.resolve("quarantine")).strip();
    } catch (NoSuchFileException e) {
      return "";
    }
  }

  private void problem(String what) {
    lastProblem = what;
  }

  // ------------------------------------------------------------------------ persisted times

  private synchronized void loadState() throws IOException {
    Properties p = new Properties();
    Path f = scrubDir.resolve("state");
    try (InputStream in = Files.newInputStream(f)) {
      p.load(in);
      firstSeenMillis = Long.parseLong(p.getProperty("first-seen-millis", "0"));
      lastPassEndMillis = Long.parseLong(p.getProperty("last-pass-end-millis", "0"));
      lastPassStartMillis = Long.parseLong(p.getProperty("last-pass-start-millis", "0"));
      if (Boolean.parseBoolean(p.getProperty("paused", "false"))) {
        state = ScrubStats.State.PAUSED;
        pacer.pause();
      }
    } catch (NoSuchFileException | NumberFormatException e) {
      firstSeenMillis = clock.millis();
      saveStateLocked();
    }
  }

  private synchronized void saveState() {
    saveStateLocked();
  }

  private void saveStateLocked() {
    Properties p = new Properties();
    p.setProperty("first-seen-millis", Long.toString(firstSeenMillis));
    p.setProperty("last-pass-start-millis", Long.toString(lastPassStartMillis));
    p.setProperty("last-pass-end-millis", Long.toString(lastPassEndMillis));
    p.setProperty("paused", Boolean.toString(state == ScrubStats.State.PAUSED));
    Path tmp = scrubDir.resolve("state.tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      p.store(out, "holdfast scrub schedule of this brick");
      out.flush();
    } catch (IOException e) {
      LOG.warn("{}: could not save the scrub schedule: {}", brickDir.getFileName(), e.getMessage());
      return;
    }
    try {
      Files.move(tmp, scrubDir.resolve("state"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      LOG.warn("{}: could not save the scrub schedule: {}", brickDir.getFileName(), e.getMessage());
    }
  }

  // ------------------------------------------------------------------------ lifecycle

  /** Stops the thread (waits up to 10 s for it) and closes the clients. Idempotent. */
  @Override
  public void close() {
    closed = true;
    synchronized (this) {
      notifyAll();
    }
    thread.interrupt();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    peers.close();
  }
}
