package io.holdfast.server.volume;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.ScrubStats;
import io.holdfast.server.DurableFiles;
import io.holdfast.server.ScrubSettings;
import io.holdfast.server.scrub.Scrubber;
import io.holdfast.storage.Brick;
import io.holdfast.storage.ChangeFeedRetention;
import io.holdfast.transport.Peer;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;

/**
 * This node's member of one volume group, apart from Raft: the brick, its scrubber, the disk
 * reserve and what decides whether a snapshot may be taken. {@link VolumeStateMachine} adapts it
 * to Ratis.
 *
 * <p>Queries are routed by type: scrub queries ({@link Scrubber#handles}) to the scrubber,
 * file-system queries straight to the brick after one volatile read of the quarantine flag.
 *
 * <p>Thread-safety: {@link #open} and {@link #startScrubber} run once, on Ratis's initializing
 * thread, before queries arrive; the rest may be called from any thread (the brick and the
 * scrubber are thread-safe).
 */
final class VolumeMember implements AutoCloseable {
    private final Path brickDir;
    private final DiskReserve disk;
    private final ChangeFeedRetention changeFeedRetention;
    private volatile Brick brick;
    private volatile Scrubber scrubber;

    /**
     * @param brickDir the brick's directory (its parent is where the disk reserve is checked)
     * @param member this node's address
     * @param diskReserveBytes free bytes to keep on the brick's file system (writes get ENOSPC past it)
     * @param changeFeedRetention how much change feed history the brick keeps
     */
    VolumeMember(Path brickDir, String member, long diskReserveBytes, ChangeFeedRetention changeFeedRetention) {
        this.brickDir = brickDir;
        this.changeFeedRetention = changeFeedRetention;
        this.disk = new DiskReserve(brickDir.getParent(), diskReserveBytes, member);
    }

    /**
     * Claims the brick directory for {@code identity} and opens the brick.
     *
     * @throws IOException if the directory belongs to another member or the brick cannot open
     */
    void open(BrickIdentity identity) throws IOException {
        BrickIdentity.claim(brickDir, identity);
        brick = Brick.open(brickDir);
        brick.changeFeedRetention(changeFeedRetention);
    }

    /** The open brick. */
    Brick brick() {
        return brick;
    }

    Path brickDir() {
        return brickDir;
    }

    /**
     * Starts the scrubber beside the open brick.
     *
     * @throws IOException if the scrubber's directory cannot be created or read
     */
    void startScrubber(
            String member,
            Scrubber.DivisionLookup division,
            Supplier<SingleFileSnapshotInfo> latestSnapshot,
            ScrubSettings settings,
            TransportSecurity transport,
            InstantSource clock)
            throws IOException {
        Scrubber s = new Scrubber(brick, brickDir, member, division, latestSnapshot, settings, transport, clock);
        s.start();
        scrubber = s;
    }

    /**
     * Refuses a mutation that adds data while the disk is below its reserve.
     *
     * @throws HoldfastException ENOSPC
     */
    void checkDisk(Request.Mutation m) throws HoldfastException {
        disk.check(m);
    }

    /** Answers a scrub query ({@link Scrubber#handles}); EAGAIN before the scrubber started. */
    Response answerScrub(Request.Query q, Peer peer) {
        Scrubber s = scrubber;
        return s == null
                ? new Response.Error(Errno.EAGAIN, "this member's scrubber has not started yet")
                : s.answer(q, peer);
    }

    /**
     * Why this member refuses the file-system query {@code q} (quarantined by scrub), or null if it
     * answers it. The member digest is answered even then (what cluster status shows).
     */
    String refusal(Request.Query q) {
        Scrubber s = scrubber;
        return s == null || q instanceof Request.GetDigest ? null : s.refusal();
    }

    /** Answers a file-system query from the brick, as {@code granted} allows. */
    Response read(Request.Query q, Access granted) throws HoldfastException {
        Response r = brick.query(q);
        if (r instanceof Response.FsStats s && granted == Access.READ_ONLY) {
            r = s.asReadOnly(); // statvfs ST_RDONLY: lets a mount or an application know up front
        }
        return r;
    }

    /**
     * Whether the member's state may go into a snapshot: not while quarantined, since a snapshot
     * is what a rebuilt brick restores and must not carry the damage the scrubber found.
     */
    boolean snapshotsAllowed() {
        Scrubber s = scrubber;
        return s == null || !s.quarantined();
    }

    /** The scrub state and counters; empty before the scrubber started. */
    Optional<ScrubStats> scrubStats() {
        Scrubber s = scrubber;
        return s == null ? Optional.empty() : Optional.of(s.stats());
    }

    /**
     * The Raft index up to which the brick's last checkpoint is complete, or -1 if unknown. It can
     * be above the brick's own checkpoint index because Raft also logs entries that never reach the
     * state machine (configuration, leader no-ops); without this, a restart after a snapshot taken
     * at such an entry would restore the whole snapshot for nothing.
     */
    long coveredIndex() {
        try {
            return Long.parseLong(Files.readString(coveredFile()).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /**
     * Records durably that the brick's checkpoint covers {@code index}.
     *
     * @throws IOException if the file cannot be replaced
     */
    void recordCovered(long index) throws IOException {
        DurableFiles.replace(coveredFile(), Long.toString(index));
    }

    /**
     * Inside the brick directory, so it goes away with the brick: a brick that was removed (and
     * is recreated empty) must restore the latest snapshot, not trust a marker that outlived it.
     */
    private Path coveredFile() {
        return brickDir.resolve("checkpoint-covers");
    }

    /** Stops the scrubber, then closes the brick. Idempotent. */
    @Override
    public void close() throws IOException {
        Scrubber s = scrubber;
        if (s != null) {
            s.close();
        }
        Brick b = brick;
        if (b != null) {
            b.close();
        }
    }
}
