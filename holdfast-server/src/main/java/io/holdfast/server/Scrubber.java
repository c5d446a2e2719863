package io.holdfast.server;

import io.holdfast.client.security.Peer;
import io.holdfast.client.security.TransportSecurity;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Errno;
import io.holdfast.protocol.HoldfastException;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.ScrubStats;
import io.holdfast.storage.Brick;
import io.holdfast.storage.Pacer;
import io.holdfast.storage.ScrubPass;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
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
 * leadership to another member whenever it finds itself leading, and starts no more passes. It
 * keeps applying the log, so it stays a voting member. To rebuild it, the operator stops the
 * node, removes the brick directory and starts the node: the member restores its latest
 * snapshot and replays the log; the next pass checks it again.
 *
 * <h2>Schedule and control</h2>
 *
 * <p>A pass starts on request ({@link Request.ScrubControl}) or, with a positive
 * {@link ScrubSettings#interval()}, one interval after the previous pass ended (the first one
 * interval after the brick was first served; the times are kept in {@code scrub/state}).
 * Pausing stops all scrub I/O until started again, including digests other members wait for.
 * Counters restart at zero with the node.
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
   * @param transport this node's TLS material, for its requests to the other members
   * @throws IOException if {@code scrub/} cannot be created or read
   */
  Scrubber(Brick brick, Path brickDir, String member, DivisionLookup division, ScrubSettings settings,
      TransportSecurity transport, InstantSource clock) throws IOException {
    this.brick = brick;
    this.brickDir = brickDir;
    this.scrubDir = brickDir.resolve("scrub");
    this.member = member;
    this.division = division;
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
        || q instanceof Request.ScrubControl)) {
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
    }
    return new Response.ScrubStatus(stats());
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
        : "member " + member + " quarantined by scrub: " + q + ". Other members serve the volume. To rebuild this"
            + " member: stop its node, remove " + brickDir + " and start the node; it restores its latest snapshot,"
            + " replays the log, and the next scrub pass checks it again";
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
      peers.use(d.getGroup());
      for (RaftPeer p : d.getGroup().getPeers()) {
        if (!p.getId().equals(d.getId())) {
          LOG.warn("{}: quarantined member leads; handing leadership to {}", brickDir.getFileName(), p.getAddress());
          peers.transferLeadership(p.getId());
          return;
        }
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
    int inService = 0;
    int groupSize = 1;
    try {
      for (RaftPeer p : others()) {
        groupSize++;
        try {
          if (peers.ask(p, new Request.ScrubControl(Request.ScrubControl.Action.STATUS, 0)) instanceof Response.ScrubStatus s
              && !s.stats().quarantined()) {
            inService++;
          }
        } catch (IOException e) {
          // down: not in service
        }
      }
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
      Path tmp = scrubDir.resolve("quarantine.tmp");
      Files.writeString(tmp, why);
      Files.move(tmp, scrubDir.resolve("quarantine"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      LOG.error("{}: could not record the quarantine (it holds until the node stops)", brickDir.getFileName(), e);
    }
    quarantine = why;
    problem(why);
    LOG.error("{}: member {} quarantined by scrub: {}. Rebuild it: stop the node, remove {}, start the node",
        brickDir.getFileName(), member, why, brickDir);
    stayOutOfLead();
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
