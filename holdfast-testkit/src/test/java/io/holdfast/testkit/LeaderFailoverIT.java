package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testing.TestSeed;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader of a volume's group is stopped while a client streams exclusive creates and
 * writes with many requests in flight. Exclusive creates witness "applied at most once": a
 * create the Ratis client resent after the failover and that was applied twice would answer
 * EEXIST. Every acknowledged operation must survive; those with an unknown outcome must be
 * all there or not there.
 */
class LeaderFailoverIT {
    private static final int OPERATIONS = 400;
    private static final int IN_FLIGHT_MAX = 16;

    @TempDir
    Path root;

    /** What became of one create+write. */
    private sealed interface Outcome {}

    /** Both acknowledged: the file must exist with this content and inode. */
    private record Acked(long inode) implements Outcome {}

    /** The volume answered the create or the write with an error (never expected). */
    private record Refused(String step, Response.Error error) implements Outcome {}

    /** The create's outcome is unknown: the file is absent, or present and empty. */
    private record CreateUnknown(Throwable error) implements Outcome {}

    /** The create was acknowledged, the write's outcome unknown: empty or exact content. */
    private record WriteUnknown(long inode, Throwable error) implements Outcome {}

    @Test
    void stoppingTheLeaderLosesNothingAcknowledgedAndAppliesNothingTwice() throws Exception {
        long seed = TestSeed.seed();
        System.out.println("LeaderFailoverIT seed=" + seed);
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            UUID group = Volumes.groupId(c, "vol");
            byte[][] contents = new byte[OPERATIONS][];
            Random random = new Random(seed);
            for (int i = 0; i < OPERATIONS; i++) {
                contents[i] = new byte[1 + random.nextInt(random.nextInt(8) == 0 ? 100_000 : 2_000)];
                random.nextBytes(contents[i]);
            }

            Map<Integer, Outcome> outcomes = new ConcurrentHashMap<>();
            AtomicInteger acked = new AtomicInteger();
            AtomicLong lastAckNanos = new AtomicLong();
            List<Long> ackNanos = Collections.synchronizedList(new ArrayList<>());
            Semaphore window = new Semaphore(IN_FLIGHT_MAX);
            Thread writer = Thread.ofPlatform().name("failover-writer").start(() -> {
                for (int i = 0; i < OPERATIONS; i++) {
                    window.acquireUninterruptibly();
                    int n = i;
                    run(v, n, contents[n]).whenComplete((o, e) -> {
                        Outcome out = e != null ? new CreateUnknown(e) : o;
                        outcomes.put(n, out);
                        if (out instanceof Acked) {
                            acked.incrementAndGet();
                            long now = System.nanoTime();
                            lastAckNanos.set(now);
                            ackNanos.add(now);
                        }
                        window.release();
                    });
                }
                window.acquireUninterruptibly(IN_FLIGHT_MAX);
            });

            MiniCluster.await(
                    Duration.ofSeconds(60),
                    () -> acked.get() >= OPERATIONS / 3,
                    "a third of the operations are acknowledged");
            int leader = Volumes.awaitLeader(c, 3, group);
            var before = Volumes.status(c, leader, group);
            long stoppedNanos = System.nanoTime();
            int ackedAtStop = acked.get();
            c.stop(leader);
            System.out.printf("stopped leader node%d (%s) with %d acknowledged%n", leader, before, ackedAtStop);
            int newLeader = Volumes.awaitLeader(c, 3, group);
            long electedNanos = System.nanoTime();
            writer.join(Duration.ofSeconds(120));
            assertThat(writer.isAlive()).as("writer finished within 120 s").isFalse();
            long firstAckAfter = ackNanos.stream()
                    .filter(t -> t > stoppedNanos)
                    .min(Long::compare)
                    .orElse(-1L);
            System.out.printf(
                    "new leader node%d elected %d ms after the stop; first acknowledgement after the stop at %d ms; "
                            + "writer done %d ms after the stop%n",
                    newLeader,
                    (electedNanos - stoppedNanos) / 1_000_000,
                    firstAckAfter < 0 ? -1 : (firstAckAfter - stoppedNanos) / 1_000_000,
                    (lastAckNanos.get() - stoppedNanos) / 1_000_000);

            assertThat(outcomes).as("every operation has an outcome").hasSize(OPERATIONS);
            TreeMap<Integer, Outcome> unknown = new TreeMap<>();
            TreeMap<Integer, Outcome> refused = new TreeMap<>();
            outcomes.forEach((i, o) -> {
                if (o instanceof Refused) {
                    refused.put(i, o);
                } else if (!(o instanceof Acked)) {
                    unknown.put(i, o);
                }
            });
            System.out.printf(
                    "acknowledged %d, refused %d, unknown %d: %s%n",
                    acked.get(), refused.size(), unknown.size(), unknown);
            // (a) A resent exclusive create applied twice answers EEXIST; no request may be refused.
            assertThat(refused)
                    .as("operations the volume refused (EEXIST = a resent create applied twice)")
                    .isEmpty();

            // Read from the survivors' own applied state (stale reads pinned to a member, once it has
            // applied everything it knows committed). Linearizable reads through the volume service are
            // not used here: one in three is routed to the stopped member and hangs until the deadline
            // (see QueriesWithAMemberDownIT).
            int survivor = 3 - leader - newLeader;
            for (int m : new int[] {newLeader, survivor}) {
                MiniCluster.await(
                        Duration.ofSeconds(30),
                        () -> {
                            var s = Volumes.status(c, m, group);
                            return s.appliedIndex()
                                    >= Volumes.status(c, newLeader, group).commitIndex();
                        },
                        "node" + m + " applied all committed entries");
            }
            try (Volumes.Pinned atLeader =
                            new Volumes.Pinned(c, "vol", c.addresses().get(newLeader));
                    Volumes.Pinned atSurvivor =
                            new Volumes.Pinned(c, "vol", c.addresses().get(survivor))) {
                Set<String> listed =
                        check(atLeader, "new leader node" + newLeader, outcomes, contents, acked.get(), unknown.size());
                assertThat(check(
                                atSurvivor,
                                "follower node" + survivor,
                                outcomes,
                                contents,
                                acked.get(),
                                unknown.size()))
                        .as("survivors list the same files")
                        .isEqualTo(listed);

                // (d) the old leader comes back and converges
                c.restart(leader);
                Response.Digest d = c.awaitConvergence("vol", Duration.ofSeconds(60));
                System.out.printf("converged at applied index %d digest %s%n", d.appliedIndex(), d.hex());
                try (Volumes.Pinned p =
                        new Volumes.Pinned(c, "vol", c.addresses().get(leader))) {
                    assertThat(Volumes.list(p, "/").keySet())
                            .as("listing on the restarted old leader")
                            .isEqualTo(listed);
                }
                assertThat(Volumes.list(Volumes.reader(v), "/").keySet())
                        .as("linearizable listing after restart")
                        .isEqualTo(listed);
            }
        }
    }

    /** Checks (b), (c) and the listing on one member; returns the names listed in /. */
    private static Set<String> check(
            Volumes.Reader r,
            String who,
            Map<Integer, Outcome> outcomes,
            byte[][] contents,
            int acked,
            int unknownCount) {
        Set<String> mayExist = new TreeSet<>();
        Set<String> mustExist = new TreeSet<>();
        for (int i = 0; i < contents.length; i++) {
            int n = i;
            String path = "/f-" + i;
            Outcome o = outcomes.get(i);
            Optional<byte[]> got = Volumes.readFile(r, path);
            switch (o) {
                case Acked a -> {
                    // (b) acknowledged: present, same inode, exact content
                    assertThat(got).as("acknowledged " + path + " on " + who).isPresent();
                    assertThat(got.get())
                            .as("content of acknowledged " + path + " on " + who)
                            .isEqualTo(contents[i]);
                    Attr attr = ((Response.AttrReply) r.apply(new Request.GetAttr(path, false))).attr();
                    assertThat(attr.inode()).as("inode of " + path).isEqualTo(a.inode());
                    mustExist.add("f-" + i);
                }
                case CreateUnknown u ->
                    got.ifPresent(b -> assertThat(b)
                            .as("unknown create of " + path + " (never written)")
                            .isEmpty());
                case WriteUnknown u ->
                    got.ifPresent(b -> assertThat(b.length == 0 || Arrays.equals(b, contents[n]))
                            .as(path + " after an unknown write: empty or exactly the content, got " + b.length
                                    + " bytes")
                            .isTrue());
                case Refused x -> throw new AssertionError(x);
            }
            if (got.isPresent()) {
                mayExist.add("f-" + i);
            }
        }
        // (c') the listing holds exactly the files found, all acknowledged ones, and nothing else
        Set<String> listed = Volumes.list(r, "/").keySet();
        assertThat(listed).as("listing on " + who + " vs files found by name").isEqualTo(mayExist);
        assertThat(listed).as("listing contains every acknowledged create").containsAll(mustExist);
        assertThat(listed.size())
                .as("entries in / ≤ acknowledged + unknown creates")
                .isLessThanOrEqualTo(acked + unknownCount);
        return listed;
    }

    /** Create exclusively, then write the whole content at offset 0. */
    private static CompletableFuture<Outcome> run(VolumeService v, int i, byte[] content) {
        return v.submit(new Request.Create(Caller.ROOT, "/f-" + i, 0644, true)).thenCompose(cr -> {
            if (!(cr instanceof Response.AttrReply a)) {
                return CompletableFuture.completedFuture((Outcome) new Refused("create", asError(cr)));
            }
            long inode = a.attr().inode();
            return v.submit(new Request.Write(Caller.ROOT, inode, 0, content, Checksums.crc32c(content)))
                    .handle((wr, e) -> {
                        if (e != null) {
                            return new WriteUnknown(
                                    inode,
                                    e instanceof CompletionException ce && ce.getCause() != null ? ce.getCause() : e);
                        }
                        if (wr instanceof Response.AttrReply w
                                && w.attr().size() == content.length
                                && w.attr().inode() == inode) {
                            return new Acked(inode);
                        }
                        return new Refused("write", asError(wr));
                    });
        });
    }

    private static Response.Error asError(Response r) {
        return r instanceof Response.Error e ? e : new Response.Error(Errno.EIO, "unexpected reply " + r);
    }
}
