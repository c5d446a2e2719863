package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.LogFormat;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.volume.VolumeStateMachine.CatchUpTotals;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A member that missed the purged log catches up from a snapshot manifest: it receives the
 * manifest from the leader and fetches only the data files it does not hold with the same
 * length and CRC32C, and ends identical to the others (digests, and every file read back from
 * it). A member killed while it fetches finishes the catch-up when it starts again.
 */
class IncrementalCatchUpIT {
    private static final long SNAPSHOT_THRESHOLD = 64;
    /** Data files the brick holds before the member goes down: 24 of 1 MiB. */
    private static final int BASE_FILES = 24;

    private static final int MIB = 1 << 20;

    @TempDir
    Path root;

    /** Size of the newest snapshot stream of {@code group} on node {@code i}: what a full install ships. */
    private static long latestSnapshotBytes(MiniCluster c, int i, UUID group) throws IOException {
        Path sm = c.dataDir(i).resolve("raft").resolve(group.toString()).resolve("sm");
        try (Stream<Path> s = Files.list(sm)) {
            return s.filter(p -> p.getFileName().toString().matches("snapshot\\.\\d+_\\d+"))
                    .max(Comparator.comparing(p -> p.toFile().lastModified()))
                    .map(p -> p.toFile().length())
                    .orElseThrow();
        }
    }

    /** The volume loaded with {@link #BASE_FILES} files of 1 MiB and some small ones; returns their paths. */
    private static List<String> load(Workload w) {
        for (int i = 0; i < 20; i++) {
            w.step();
        }
        List<String> big = new ArrayList<>();
        for (int i = 0; i < BASE_FILES; i++) {
            big.add(w.createFile(MIB + 1000 * i));
        }
        return big;
    }

    /**
     * While the member is down: two files rewritten in part, two new ones, and a churn file
     * overwritten until the leader's log was purged past the member's applied index.
     */
    private static void changeWhileDown(MiniCluster c, Workload w, List<String> big, UUID group, long appliedBefore) {
        w.rewrite(big.get(3), 200 * 1024);
        w.rewrite(big.get(17), 200 * 1024);
        w.createFile(MIB + 7);
        w.createFile(MIB + 9);
        String churn = w.createFile(MIB);
        // Ratis purges closed 8 MiB segments only: push > 8 MiB through the log, then keep going
        // (bounded) until the leader's log starts past the member's applied index
        for (int i = 0; i < 12; i++) {
            w.rewrite(churn, MIB);
        }
        int leader = Volumes.awaitLeader(c, 2, group);
        for (int extra = 0; Volumes.status(c, leader, group).logStartIndex() <= appliedBefore + 1; extra++) {
            assertThat(extra)
                    .as("rewrites without the leader purging its log past " + appliedBefore + ": "
                            + Volumes.status(c, leader, group))
                    .isLessThan(600);
            w.rewrite(churn, 64 * 1024);
            leader = Volumes.awaitLeader(c, 2, group);
        }
    }

    /** What one catch-up of {@link #catchUp} showed. */
    private record CatchUp(
            long appliedBefore, long fullStream, long tookMs, Response.Digest digest, CatchUpTotals totals) {}

    /**
     * The scenario both catch-up tests measure: the base files loaded, {@code member} stopped while
     * {@link #changeWhileDown} runs, then restarted and awaited until the group converges.
     */
    private static CatchUp catchUp(MiniCluster c, Workload w, UUID group, int member) throws Exception {
        List<String> big = load(w);
        c.awaitConvergence("vol", Duration.ofSeconds(60));
        long appliedBefore = Volumes.status(c, member, group).appliedIndex();
        c.stop(member);
        changeWhileDown(c, w, big, group, appliedBefore);
        int leader = Volumes.awaitLeader(c, 2, group);
        long fullStream = latestSnapshotBytes(c, leader, group);
        long started = System.nanoTime();
        c.restart(member);
        Response.Digest d = c.awaitConvergence("vol", Duration.ofSeconds(180));
        long tookMs = (System.nanoTime() - started) / 1_000_000;
        return new CatchUp(
                appliedBefore,
                fullStream,
                tookMs,
                d,
                c.node(member).catchUpTotals(group).orElseThrow());
    }

    @Test
    void aMemberFetchesOnlyTheFilesItLacks() throws Exception {
        long seed = TestSeed.seed();
        System.out.println("IncrementalCatchUpIT seed=" + seed);
        try (MiniCluster c = MiniCluster.start(root, 3, SNAPSHOT_THRESHOLD)) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            UUID group = Volumes.groupId(c, "vol");
            int member = 2;
            Workload w = new Workload(v, seed);
            CatchUp r = catchUp(c, w, group, member);
            System.out.printf(
                    "caught up in %d ms at index %d (digest %s): full stream %d bytes; fetched %d bytes in %d files,"
                            + " reused %d bytes in %d files, %d assemblies%n",
                    r.tookMs(),
                    r.digest().appliedIndex(),
                    r.digest().hex(),
                    r.fullStream(),
                    r.totals().fetchedBytes(),
                    r.totals().fetchedFiles(),
                    r.totals().reusedBytes(),
                    r.totals().reusedFiles(),
                    r.totals().assemblies());
            assertThat(r.totals().assemblies()).as("catch-ups from a manifest").isGreaterThanOrEqualTo(1);
            assertThat(r.totals().reusedFiles())
                    .as("data files the member already held (%d unchanged of %d)", BASE_FILES - 2, BASE_FILES)
                    .isGreaterThanOrEqualTo(BASE_FILES - 2);
            // changed: 2 rewritten, 2 new, the churn file (~5 MiB) and the metadata, of a ~30 MiB stream
            assertThat(r.totals().fetchedBytes())
                    .as("bytes fetched, against a full stream of %d", r.fullStream())
                    .isLessThan(r.fullStream() / 3)
                    .isLessThan(8L * MIB);
            assertThat(Volumes.status(c, member, group).logStartIndex())
                    .as("the member's log starts after what it missed, so it installed a snapshot")
                    .isGreaterThan(r.appliedBefore() + 1);
            try (Volumes.Pinned p = new Volumes.Pinned(c, "vol", c.addresses().get(member))) {
                w.verify(p, "the member node" + member + " after catching up from a manifest");
            }
            w.verify(Volumes.reader(v), "the group");
        }
    }

    /**
     * The same scenario in a cluster with a node that does not read log format 6 (older code):
     * the leader ships the whole stream, as before, and the member converges. This is the
     * baseline the manifest catch-up is measured against.
     */
    @Test
    void withANodeOfAnOlderFormatTheWholeStreamIsShipped() throws Exception {
        long seed = TestSeed.seed();
        System.out.println("IncrementalCatchUpIT (older node) seed=" + seed);
        try (MiniCluster c = MiniCluster.start(root, 3, SNAPSHOT_THRESHOLD)) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            UUID group = Volumes.groupId(c, "vol");
            String older = c.addresses().get(1);
            c.maxLogFormat(1, LogFormat.SNAPSHOT_MANIFESTS - 1);
            c.restart(1);
            MiniCluster.await(
                    Duration.ofSeconds(60),
                    () -> {
                        try {
                            ClusterMap m = c.map();
                            return m.nodeInfo().containsKey(older)
                                    && m.infoOf(older).maxLogFormat() == LogFormat.SNAPSHOT_MANIFESTS - 1;
                        } catch (Exception e) {
                            return false;
                        }
                    },
                    older + " advertises log formats up to " + (LogFormat.SNAPSHOT_MANIFESTS - 1));
            int member = 2;
            Workload w = new Workload(v, seed);
            CatchUp r = catchUp(c, w, group, member);
            long installed = latestSnapshotBytes(c, member, group);
            System.out.printf(
                    "baseline: caught up in %d ms at index %d (digest %s): the whole stream shipped, %d bytes "
                            + "(member's snapshot %d bytes); %d assemblies%n",
                    r.tookMs(),
                    r.digest().appliedIndex(),
                    r.digest().hex(),
                    r.fullStream(),
                    installed,
                    r.totals().assemblies());
            assertThat(r.totals().assemblies())
                    .as("catch-ups from a manifest with an older node")
                    .isZero();
            assertThat(Volumes.status(c, member, group).logStartIndex())
                    .as("the member's log starts after what it missed, so it installed a snapshot")
                    .isGreaterThan(r.appliedBefore() + 1);
            try (Volumes.Pinned p = new Volumes.Pinned(c, "vol", c.addresses().get(member))) {
                w.verify(p, "the member node" + member + " after a full-stream install");
            }
        }
    }

    @Test
    void aMemberKilledWhileFetchingFinishesWhenItStartsAgain() throws Exception {
        long seed = TestSeed.seed();
        System.out.println("IncrementalCatchUpIT (kill) seed=" + seed);
        int member = 2;
        try (MiniCluster c = MiniCluster.builder(root)
                .nodes(3)
                .snapshotThreshold(SNAPSHOT_THRESHOLD)
                .separateProcesses(member)
                .start()) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            UUID group = Volumes.groupId(c, "vol");
            Workload w = new Workload(v, seed);
            List<String> big = load(w);
            c.awaitConvergence("vol", Duration.ofSeconds(60));
            c.stop(member);
            // the member's applied index as the others know it: below the leader's commit index
            int leader = Volumes.awaitLeader(c, 2, group);
            long appliedBefore = Volumes.status(c, leader, group).commitIndex();
            changeWhileDown(c, w, big, group, appliedBefore);

            // slow enough (about 5 MiB to fetch) to kill the member in the middle
            c.processCatchUpRate(512 * 1024);
            Path log = root.resolve("node" + member + ".log");
            long logFrom = Files.exists(log) ? Files.size(log) : 0;
            c.restart(member);
            MiniCluster.await(
                    Duration.ofSeconds(120),
                    () -> countSince(log, logFrom, "catching up from the manifest of snapshot") >= 1,
                    "node" + member + " starts fetching what it lacks (log " + log + ")");
            assertThat(countSince(log, logFrom, "assembled in"))
                    .as("the member is still fetching when it is killed")
                    .isZero();
            c.kill(member);
            System.out.println("killed node" + member + " while it fetched");

            c.processCatchUpRate(8L * MIB);
            long restartFrom = Files.size(log);
            c.restart(member);
            Response.Digest d = c.awaitConvergence("vol", Duration.ofSeconds(180));
            System.out.printf("converged after the kill at index %d (digest %s)%n", d.appliedIndex(), d.hex());
            new String(Files.readAllBytes(log), StandardCharsets.UTF_8)
                    .lines()
                    .filter(l -> l.contains("catching up from the manifest") || l.contains("assembled in"))
                    .forEach(l -> System.out.println("node" + member + ": " + l));
            assertThat(countSince(log, restartFrom, "assembled in"))
                    .as("the restarted member assembled the snapshot (log " + log + ")")
                    .isGreaterThanOrEqualTo(1);
            try (Volumes.Pinned p = new Volumes.Pinned(c, "vol", c.addresses().get(member))) {
                w.verify(p, "the member node" + member + " after a kill mid-fetch");
            }
            w.verify(Volumes.reader(v), "the group");
        }
    }

    /** Lines of {@code log} after byte {@code from} that contain {@code text}. */
    private static long countSince(Path log, long from, String text) {
        try {
            byte[] all = Files.readAllBytes(log);
            int start = (int) Math.min(from, all.length);
            String tail = new String(all, start, all.length - start, StandardCharsets.UTF_8);
            return tail.lines().filter(l -> l.contains(text)).count();
        } catch (IOException e) {
            return 0;
        }
    }
}
