package io.holdfast.server.scrub;

import io.holdfast.server.DurableFiles;
import io.holdfast.server.ScrubSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether one member is out of service, and why: the reason is kept in {@code scrub/quarantine}
 * inside the brick directory (replaced durably, so it survives restarts and goes away with the
 * brick). A member quarantines itself only while the other members in service are still a
 * majority of the group, so a scrub never takes a volume down; a quarantined member hands
 * leadership away whenever it finds itself leading.
 *
 * <p>Thread-safety: {@link #quarantined}, {@link #reason} and {@link #refusal} are cheap reads of
 * a volatile field, called from Ratis's threads for every query; the rest runs on the scrubber's
 * thread.
 */
final class Quarantine {
    private static final Logger LOG = LoggerFactory.getLogger(Quarantine.class);
    /** Least time between two attempts to hand leadership away. */
    private static final long TRANSFER_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Path brickDir;
    private final Path file;
    private final String member;
    private final ScrubSettings settings;
    private final ScrubGroup group;
    private final Findings findings;
    private volatile String reason;
    /** Counts the quarantines entered since the node started; a rebuild is tried once per quarantine. */
    private volatile long entered;

    private long lastTransferNanos;

    /**
     * Reads the recorded quarantine of the brick in {@code brickDir}, if any.
     *
     * @throws IOException if the file exists but cannot be read
     */
    Quarantine(Path brickDir, String member, ScrubSettings settings, ScrubGroup group, Findings findings)
            throws IOException {
        this.brickDir = brickDir;
        this.file = brickDir.resolve("scrub").resolve("quarantine");
        this.member = member;
        this.settings = settings;
        this.group = group;
        this.findings = findings;
        String recorded;
        try {
            recorded = Files.readString(file).strip();
        } catch (NoSuchFileException e) {
            recorded = "";
        }
        this.reason = recorded;
    }

    /** Whether this member is out of service. */
    boolean quarantined() {
        return !reason.isEmpty();
    }

    /** Why this member is out of service; empty if it serves. */
    String reason() {
        return reason;
    }

    /** How many quarantines were entered since the node started (not counting one read at start). */
    long entered() {
        return entered;
    }

    /**
     * The message a refused file-system query carries while this member is quarantined, or null
     * if it serves.
     */
    String refusal() {
        String q = reason;
        return q.isEmpty()
                ? null
                : "member " + member + " quarantined by scrub: " + q + ". Other members serve the volume. "
                        + (settings.rebuild()
                                ? "It rebuilds itself from a member in service ('holdfast scrub status' shows how far "
                                        + "it got)"
                                : "It stays out of service (started with --no-scrub-rebuild)")
                        + "; to rebuild it by hand, stop its node, remove " + brickDir
                        + " and start the node (it restores its latest"
                        + " local snapshot, which is right only if that predates the damage, and replays the log)";
    }

    /**
     * Takes this member out of service for {@code why}, unless the members in service without it
     * would not be a majority of the group.
     */
    void enter(String why) {
        int inService;
        int groupSize;
        try {
            groupSize = group.others().size() + 1;
            inService = group.inServiceOthers().size();
        } catch (IOException e) {
            findings.problem("would take this member out of service (" + why + ") but cannot reach the group: "
                    + e.getMessage());
            return;
        }
        if (inService < groupSize / 2 + 1) {
            findings.problem("this member should be rebuilt (" + why + "), but it keeps serving: only " + inService
                    + " of the other " + (groupSize - 1) + " members are in service, not a majority of " + groupSize);
            LOG.error("{}: {}", brickDir.getFileName(), findings.lastProblem());
            return;
        }
        try {
            Files.createDirectories(file.getParent());
            DurableFiles.replace(file, why);
        } catch (IOException e) {
            LOG.error("{}: could not record the quarantine (it holds until the node stops)", brickDir.getFileName(), e);
        }
        reason = why;
        entered++;
        findings.problem(why);
        LOG.error("{}: member {} quarantined by scrub: {}", brickDir.getFileName(), member, why);
        stayOutOfLead();
    }

    /**
     * Puts this member back in service (after a rebuild).
     *
     * @throws IOException if the recorded quarantine cannot be removed; the member stays out
     */
    void lift() throws IOException {
        Files.deleteIfExists(file);
        reason = "";
    }

    /** A quarantined member must not lead: its brick decides the outcomes the leader returns. */
    void stayOutOfLead() {
        if (!quarantined() || System.nanoTime() - lastTransferNanos < TRANSFER_INTERVAL_NANOS) {
            return;
        }
        try {
            RaftServer.Division d = group.division();
            if (!d.getInfo().isLeader()) {
                return;
            }
            lastTransferNanos = System.nanoTime();
            for (RaftPeer p : group.inServiceOthers()) {
                LOG.warn(
                        "{}: quarantined member leads; handing leadership to {}",
                        brickDir.getFileName(),
                        p.getAddress());
                group.peers.transferLeadership(p.getId());
                return;
            }
        } catch (IOException e) {
            LOG.warn("{}: could not hand leadership away: {}", brickDir.getFileName(), e.getMessage());
        }
    }
}
