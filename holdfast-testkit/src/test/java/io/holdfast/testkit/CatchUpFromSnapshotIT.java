package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.HoldfastNode.GroupStatus;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower that was down while the leader snapshotted and purged its log past the
 * follower's applied index must install a snapshot (data files included), no faster than its
 * catch-up rate, and end identical.
 */
class CatchUpFromSnapshotIT {
    private static final long SNAPSHOT_THRESHOLD = 64;
    private static final int MUTATIONS = 600;
    /** Catch-up rate of the restarted follower: 8 MiB/s. */
    private static final long CATCH_UP_RATE = 8L << 20;

    @TempDir
    Path root;

    /** Size of the newest snapshot file of {@code group} on node {@code i}. */
    private static long latestSnapshotBytes(MiniCluster c, int i, UUID group) throws IOException {
        Path sm = c.dataDir(i).resolve("raft").resolve(group.toString()).resolve("sm");
        try (Stream<Path> s = Files.list(sm)) {
            return s.filter(p -> p.getFileName().toString().startsWith("snapshot.")
                            && !p.toString().endsWith(".md5"))
                    .max(Comparator.comparing(p -> p.toFile().lastModified()))
                    .map(p -> p.toFile().length())
                    .orElseThrow();
        }
    }

    @Test
    void followerInstallsASnapshotWhenTheLogIsPurged() throws Exception {
        long seed = TestSeed.seed();
        System.out.println("CatchUpFromSnapshotIT seed=" + seed);
        try (MiniCluster c = MiniCluster.start(root, 3, SNAPSHOT_THRESHOLD)) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            UUID group = Volumes.groupId(c, "vol");
            Workload w = new Workload(v, seed);
            for (int i = 0; i < 20; i++) {
                w.step();
            }
            w.createFile(100 * 1024);
            int leader = Volumes.awaitLeader(c, 3, group);
            int follower = (leader + 2) % 3;
            c.awaitConvergence("vol", Duration.ofSeconds(30));
            long appliedBeforeStop = Volumes.status(c, follower, group).appliedIndex();
            System.out.printf(
                    "leader node%d, stopping follower node%d at applied index %d%n",
                    leader, follower, appliedBeforeStop);
            c.stop(follower);

            long started = System.nanoTime();
            long target = w.mutations + MUTATIONS;
            int big = 0;
            while (w.mutations < target) {
                if (w.mutations % 100 == 0 && big < 5) {
                    // files beyond the inline limit (64 KiB), one over the 1 MiB entry limit
                    w.createFile(big == 4 ? (1 << 20) + 12_345 : 65 * 1024 + 1000 * big);
                    big++;
                }
                w.step();
            }
            // Ratis purges only closed log segments (32 MB here), so push > 32 MB through the log
            for (int i = 0; i < 6; i++) {
                w.createFile(6 << 20);
            }
            System.out.printf(
                    "%d mutations with one member down in %d ms%n",
                    MUTATIONS, (System.nanoTime() - started) / 1_000_000);
            int leaderNow = Volumes.awaitLeader(c, 3, group);
            // a purge needs a snapshot ≥ 64 entries after the last purge, after the segment rolled:
            // keep mutating (bounded) until the leader's log starts past the follower's applied index
            for (int extra = 0; Volumes.status(c, leaderNow, group).logStartIndex() <= appliedBeforeStop + 1; extra++) {
                assertThat(extra)
                        .as("mutations after the big files without the leader purging its log past " + appliedBeforeStop
                                + ": " + Volumes.status(c, leaderNow, group))
                        .isLessThan(400);
                w.step();
            }
            GroupStatus ls = Volumes.status(c, leaderNow, group);
            System.out.println("leader before restart: " + ls);

            // the follower takes the snapshot in at a bounded rate
            long snapshotBytes = latestSnapshotBytes(c, leaderNow, group);
            c.tweakOptions(o -> o.catchUpRate(CATCH_UP_RATE));
            started = System.nanoTime();
            c.restart(follower);
            Response.Digest d = c.awaitConvergence("vol", Duration.ofSeconds(120));
            long tookNanos = System.nanoTime() - started;
            System.out.printf(
                    "follower converged in %d ms at applied index %d digest %s: snapshot of %d bytes at %.1f MiB/s"
                            + " (catch-up rate %d MiB/s)%n",
                    tookNanos / 1_000_000,
                    d.appliedIndex(),
                    d.hex(),
                    snapshotBytes,
                    snapshotBytes / (tookNanos / 1e9) / (1 << 20),
                    CATCH_UP_RATE >> 20);
            // less one burst (a tenth of a second's worth) the bucket may hold at the start
            assertThat(tookNanos / 1e9)
                    .as("catch-up of a %d-byte snapshot at %d bytes/s", snapshotBytes, CATCH_UP_RATE)
                    .isGreaterThanOrEqualTo((snapshotBytes - CATCH_UP_RATE / 10.0) / CATCH_UP_RATE);
            GroupStatus fs = Volumes.status(c, follower, group);
            System.out.println("follower after catch-up: " + fs);
            assertThat(fs.appliedIndex()).as("follower applied index").isGreaterThanOrEqualTo(ls.commitIndex());
            assertThat(fs.logStartIndex())
                    .as("the follower's log starts after what it missed, so it installed a snapshot: " + fs)
                    .isGreaterThan(appliedBeforeStop + 1);

            try (Volumes.Pinned p = new Volumes.Pinned(c, "vol", c.addresses().get(follower))) {
                w.verify(p, "the follower node" + follower + " after installing a snapshot");
            }
            w.verify(Volumes.reader(v), "the group");
        }
    }
}
