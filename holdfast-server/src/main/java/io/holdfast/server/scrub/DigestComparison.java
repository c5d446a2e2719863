package io.holdfast.server.scrub;

import io.holdfast.common.Errno;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.protocol.RaftPeer;

/**
 * The digest step of a pass: compares this member's state with the other members' at a common
 * log index (a {@link Request.ScrubMark}), and quarantines this member when it differs from the
 * majority (more than half the group). Members rarely sit at the same applied index, so every
 * member digests its RocksDB snapshot at the mark per directory in the background
 * ({@link MarkDigests}); a divergent member counts its divergent directories against a majority
 * member, page by page ({@link Request.MarkDirectories}).
 *
 * <p>Not thread-safe: the scrubber's thread runs it.
 */
final class DigestComparison {
    /** How long a pass waits for the other members' digests of a mark. */
    static final long DIGEST_WAIT_MILLIS = TimeUnit.MINUTES.toMillis(30);
    /** How long a pass waits for its own mark to be applied here. */
    static final long MARK_WAIT_MILLIS = TimeUnit.MINUTES.toMillis(1);
    /** Directories named in a divergence report, at most. */
    static final int NAMED_DIRECTORIES = 8;

    /** Digests the marks this member's brick holds (for this pass and for the other members'). */
    @FunctionalInterface
    interface MarkServer {
        void serveMarks() throws IOException, InterruptedException;
    }

    private final String member;
    private final ScrubGroup group;
    private final MarkDigests marks;
    private final MarkServer server;
    private final Pacer pacer;
    private final Quarantine quarantine;
    private final Findings findings;

    DigestComparison(
            String member,
            ScrubGroup group,
            MarkDigests marks,
            MarkServer server,
            Pacer pacer,
            Quarantine quarantine,
            Findings findings) {
        this.member = member;
        this.group = group;
        this.marks = marks;
        this.server = server;
        this.pacer = pacer;
        this.quarantine = quarantine;
        this.findings = findings;
    }

    /** Compares digests at a mark applied since {@code passStartIndex}, proposing one if there is none. */
    void compare(long passStartIndex) throws IOException, InterruptedException {
        List<RaftPeer> others = group.others();
        if (others.isEmpty()) {
            return; // nothing to compare with
        }
        server.serveMarks();
        long mark = marks.newestAbove(passStartIndex); // e.g. proposed by another member's pass
        if (mark < 0) {
            mark = group.peers.proposeMark();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MARK_WAIT_MILLIS);
            while (marks.total(mark) == null) {
                server.serveMarks();
                if (marks.total(mark) != null) {
                    break;
                }
                if (System.nanoTime() - deadline > 0) {
                    findings.problem(
                            "scrub mark " + mark + " was not digested here within " + MARK_WAIT_MILLIS / 1000 + " s");
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
                    Response r = group.peers.ask(e.getValue(), new Request.MarkDigest(mark));
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
                waiting.keySet()
                        .forEach(a ->
                                missing.add(a + " (still computing after " + DIGEST_WAIT_MILLIS / 60_000 + " min)"));
                break;
            }
            server.serveMarks();
            pacer.acquire(0);
            Thread.sleep(200); // other members digest at their own pace; polling is how we learn they are done
        }
        decide(mark, totals, others.size() + 1, missing);
    }

    private void decide(long mark, Map<String, byte[]> totals, int groupSize, List<String> missing) throws IOException {
        Map<ByteBuffer, List<String>> byDigest = new LinkedHashMap<>();
        totals.forEach((m, d) -> byDigest.computeIfAbsent(ByteBuffer.wrap(d), k -> new ArrayList<>())
                .add(m));
        int majority = groupSize / 2 + 1;
        List<String> agreeing = null;
        for (List<String> members : byDigest.values()) {
            if (members.size() >= majority) {
                agreeing = members;
            }
        }
        findings.lastMark(mark);
        String absent = missing.isEmpty() ? "" : "; no digest from " + String.join(", ", missing);
        if (agreeing == null) {
            findings.problem("scrub mark " + mark + ": no majority among the digests of " + totals.size() + " of "
                    + groupSize + " members " + byDigest.values() + absent);
            return;
        }
        if (agreeing.contains(member)) {
            findings.divergentDirectories(0);
            List<String> differing = new ArrayList<>(totals.keySet());
            differing.removeAll(agreeing);
            if (!differing.isEmpty()) {
                findings.problem("scrub mark " + mark + ": " + String.join(", ", differing)
                        + " differ from the majority " + agreeing
                        + " (each takes itself out of service when its own scrubber compares)" + absent);
            } else if (!absent.isEmpty()) {
                findings.problem("scrub mark " + mark + ": the digests that came agree" + absent);
            }
            return;
        }
        List<Long> dirs = divergentDirectories(mark, agreeing.getFirst());
        findings.divergentDirectories(dirs.size());
        List<Long> named = dirs.subList(0, Math.min(NAMED_DIRECTORIES, dirs.size()));
        quarantine.enter(
                "its state at scrub mark " + mark + " differs from the majority " + agreeing + " in " + dirs.size()
                        + " director" + (dirs.size() == 1 ? "y" : "ies") + " (inodes " + named
                        + (dirs.size() > named.size() ? ", …" : "")
                        + "; 0 is the volume-wide counters and orphans)");
    }

    /** The directories whose digests at {@code mark} differ between this member and {@code other}. */
    private List<Long> divergentDirectories(long mark, String other) throws IOException {
        RaftPeer peer = group.others().stream()
                .filter(p -> p.getAddress().equals(other))
                .findFirst()
                .orElseThrow(() -> new IOException(other + " left the group"));
        PageCursor mine = new PageCursor(after -> marks.page(mark, after, Limits.MAX_DIGEST_PAGE_ENTRIES));
        PageCursor theirs = new PageCursor(after -> {
            Response r =
                    group.peers.ask(peer, new Request.MarkDirectories(mark, after, Limits.MAX_DIGEST_PAGE_ENTRIES));
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
}
