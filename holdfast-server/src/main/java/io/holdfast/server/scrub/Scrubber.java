package io.holdfast.server.scrub;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.ScrubStats;
import io.holdfast.server.ScrubSettings;
import io.holdfast.storage.Brick;
import io.holdfast.storage.ScrubPass;
import io.holdfast.transport.Peer;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.function.Supplier;
import org.apache.ratis.server.RaftServer;
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
 * three times ({@code Rebuild.MAX_REBUILDS}) per node start (not at all with {@link ScrubSettings#rebuild()}
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
 * <h2>Parts</h2>
 *
 * <p>This class is the package's surface and runs the thread and the block step of a pass;
 * {@code BlockChecks} asks the other members for copies of bad blocks and counts what the block
 * step finds, {@code ScrubSchedule} decides when passes run, {@code DigestComparison} compares digests with
 * the other members ({@code MarkDigests}, {@code ScrubPeers}), {@code Quarantine} keeps the
 * quarantine and its refusal message, and {@code Rebuild} rebuilds a quarantined member.
 *
 * <p>Only the scrub queries ({@link #handles}) come here; file-system queries go to the brick,
 * after the state machine checks {@link #refusal} (a volatile read).
 *
 * <p>Thread safety: the scrubber's own thread does all the scrub work; {@link #answer},
 * {@link #stats}, {@link #quarantined} and {@link #refusal} are called from Ratis's threads and
 * only read state or flip flags.
 */
public final class Scrubber implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Scrubber.class);
    /**
     * Longest text the scrubber reports, in characters (at most 3 UTF-8 bytes each, within {@link
     * Limits#MAX_SCRUB_TEXT_BYTES}).
     */
    static final int MAX_TEXT_CHARS = 320;

    /** The Raft division of this member, looked up when needed (it is created after the state machine). */
    @FunctionalInterface
    public interface DivisionLookup {
        /**
         * This member's division.
         *
         * @throws IOException if this member is not (yet, or any more) part of the group
         */
        RaftServer.Division get() throws IOException;
    }

    private final Brick brick;
    private final String brickName;
    private final Pacer pacer;
    private final MarkDigests marks;
    private final ScrubGroup group;
    private final Findings findings = new Findings();
    private final ScrubSchedule schedule;
    private final Quarantine quarantine;
    private final DigestComparison digests;
    private final Rebuild rebuild;
    private final BlockChecks blocks;
    private final Thread thread;
    private volatile ScrubPass pass;
    private volatile boolean closed;
    private long passStartIndex;

    /**
     * A scrubber for {@code brick}, not yet started.
     *
     * @param brickDir the brick's directory; the scrubber keeps {@code scrub/} in it
     * @param member this node's address
     * @param division this member's Raft division, looked up when needed
     * @param latestSnapshot this member's latest Ratis snapshot (null if none), which other members
     *     may rebuild from
     * @param settings pace, schedule and whether to rebuild
     * @param transport this node's TLS material, for its requests to the other members
     * @param clock the wall clock the schedule uses
     * @throws IOException if {@code scrub/} cannot be created or read
     */
    public Scrubber(
            Brick brick,
            Path brickDir,
            String member,
            DivisionLookup division,
            Supplier<SingleFileSnapshotInfo> latestSnapshot,
            ScrubSettings settings,
            TransportSecurity transport,
            InstantSource clock)
            throws IOException {
        this.brick = brick;
        this.brickName = brickDir.getFileName().toString();
        Path scrubDir = brickDir.resolve("scrub");
        this.pacer = new Pacer(settings.rateBytesPerSecond());
        this.marks = new MarkDigests(scrubDir);
        this.group = new ScrubGroup(division, new ScrubPeers(transport));
        this.quarantine = new Quarantine(brickDir, member, settings, group, findings);
        this.schedule = new ScrubSchedule(scrubDir, brickName, settings, clock, pacer);
        this.digests = new DigestComparison(member, group, marks, this::serveMarks, pacer, quarantine, findings);
        this.rebuild = new Rebuild(brick, brickDir, settings, group, quarantine, findings, pacer, latestSnapshot);
        this.blocks = new BlockChecks(brickName, group, quarantine, findings);
        this.thread = new Thread(this::run, "holdfast-scrub-" + brickName);
        thread.setDaemon(true);
    }

    /** Starts the scrubber's thread. Call once. */
    public void start() {
        thread.start();
    }

    // ------------------------------------------------------------------------ answers

    /**
     * Whether {@code q} is a scrub query, which {@link #answer} answers: a block read for a repair,
     * a mark digest or its directory pages, scrub control, or a snapshot chunk for a rebuild. Every
     * other query is the brick's.
     */
    public static boolean handles(Request.Query q) {
        return switch (q) {
            case Request.ScrubRead r -> true;
            case Request.MarkDigest m -> true;
            case Request.MarkDirectories m -> true;
            case Request.ScrubControl c -> true;
            case Request.SnapshotRead r -> true;
            default -> false;
        };
    }

    /**
     * Answers a scrub query from another member or a tool. Thread-safe; does not block on the
     * scrubber's thread (a snapshot chunk or a directory page is read from disk).
     *
     * @param peer who asks: only the admin certificate or a node's may
     * @return the answer, an {@link Response.Error} if refused or failed
     * @throws IllegalArgumentException if {@code q} is not a scrub query ({@link #handles})
     */
    public Response answer(Request.Query q, Peer peer) {
        if (!handles(q)) {
            throw new IllegalArgumentException(
                    "not a scrub query: " + q.getClass().getSimpleName());
        }
        if (!peer.role().privileged()) {
            return new Response.Error(
                    Errno.EACCES, "scrub requests need the admin certificate or a node's; " + peer + " has neither");
        }
        try {
            return switch (q) {
                case Request.ScrubRead r ->
                    quarantined()
                            ? new Response.Error(Errno.EIO, "member quarantined by scrub: " + quarantine.reason())
                            : brick.query(r);
                case Request.MarkDigest m -> marks.answerTotal(m.mark(), brick);
                case Request.MarkDirectories m -> marks.page(m.mark(), m.after(), m.maxEntries());
                case Request.ScrubControl c -> control(c);
                case Request.SnapshotRead r -> rebuild.snapshotChunk(r);
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
        switch (c.action()) {
            case START -> schedule.control(true, c.rateBytesPerSecond(), quarantined());
            case PAUSE -> schedule.control(false, 0, quarantined());
            case STATUS -> {}
        }
        return new Response.ScrubStatus(stats());
    }

    /** Whether the scrubber took this member out of service. Thread-safe, cheap (a volatile read). */
    public boolean quarantined() {
        return quarantine.quarantined();
    }

    /**
     * The message a refused file-system query carries while this member is quarantined, or null
     * if it serves. Thread-safe, cheap (a volatile read while it serves).
     */
    public String refusal() {
        return quarantine.refusal();
    }

    /** This member's scrub state and counters. Thread-safe. */
    public ScrubStats stats() {
        ScrubPass p = pass;
        boolean q = quarantined();
        ScrubSchedule.Times t = schedule.times(q);
        Findings f = findings;
        return new ScrubStats(
                t.state(),
                cut(quarantine.reason()),
                f.passes.get(),
                p == null ? 0 : p.bytesDone(),
                p == null ? 0 : p.bytesTotal(),
                f.bytesVerified.get(),
                f.blocksVerified.get(),
                f.badBlocks.get(),
                f.repairedBlocks.get(),
                f.unrepairableBlocks.get(),
                f.divergentDirectories(),
                f.lastMark(),
                t.lastPassStartMillis(),
                t.lastPassEndMillis(),
                t.nextPassMillis(),
                pacer.bytesPerSecond(),
                cut(f.lastProblem()));
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
                quarantine.stayOutOfLead();
                if (rebuild.rebuildIfQuarantined()) {
                    schedule.requestStart();
                }
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
                findings.problem("scrubber error: " + e);
                LOG.error("{}: scrubber error; trying again in 10 s", brickName, e);
                endPass();
                try {
                    idle(10_000);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    private void idle(long millis) throws InterruptedException {
        if (!closed) {
            schedule.idle(millis);
        }
    }

    private ScrubPass beginPassIfDue() {
        if (closed || !schedule.beginPassIfDue(quarantined())) {
            return null;
        }
        passStartIndex = brick.appliedIndex();
        ScrubPass p = new ScrubPass(brick, pacer, blocks::offers, blocks, Pacer.Sleeper.SYSTEM);
        pass = p;
        LOG.info(
                "{}: scrub pass started at applied index {}, {} bytes/s",
                brickName,
                passStartIndex,
                pacer.bytesPerSecond());
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
                quarantine.stayOutOfLead();
                lastChores = System.nanoTime();
            }
        }
        if (!closed && !quarantined()) {
            digests.compare(passStartIndex);
        }
        LOG.info(
                "{}: scrub pass ended after {} s: {} of {} bytes checked, {} bad blocks, {} repaired, {} "
                        + "unrepairable{}",
                brickName,
                (System.nanoTime() - started) / 1_000_000_000L,
                p.bytesDone(),
                total,
                findings.badBlocks.get(),
                findings.repairedBlocks.get(),
                findings.unrepairableBlocks.get(),
                quarantined() ? "; member quarantined: " + quarantine.reason() : "");
        endPass();
    }

    private void endPass() {
        if (schedule.endPass()) {
            findings.passes.incrementAndGet();
        }
    }

    /** Digests the marks the brick holds, for this pass and for the other members' passes. */
    private void serveMarks() throws IOException, InterruptedException {
        marks.computeHeld(brick, pacer);
    }

    // ------------------------------------------------------------------------ lifecycle

    /** Stops the thread (waits up to 10 s for it) and closes the clients. Idempotent. */
    @Override
    public void close() {
        closed = true;
        schedule.wake();
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.peers.close();
    }
}
