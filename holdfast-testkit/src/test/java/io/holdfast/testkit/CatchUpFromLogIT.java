package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.HoldfastNode.GroupStatus;
import io.holdfast.testing.TestSeed;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower that was down while the group went on catches up by replaying the log it missed
 * (no snapshot is due: the threshold is far away), and ends with the same state as the others.
 */
class CatchUpFromLogIT {
    private static final int MUTATIONS = 200;

    @TempDir
    Path root;

    @Test
    void followerReplaysTheMissedLog() throws Exception {
        long seed = TestSeed.seed();
        System.out.println("CatchUpFromLogIT seed=" + seed);
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            UUID group = Volumes.groupId(c, "vol");
            Workload w = new Workload(v, seed);
            for (int i = 0; i < 20; i++) {
                w.step();
            }
            int leader = Volumes.awaitLeader(c, 3, group);
            int follower = (leader + 1) % 3;
            c.awaitConvergence("vol", Duration.ofSeconds(30));
            long appliedBeforeStop = Volumes.status(c, follower, group).appliedIndex();
            System.out.printf(
                    "leader node%d, stopping follower node%d at applied index %d%n",
                    leader, follower, appliedBeforeStop);
            c.stop(follower);

            long started = System.nanoTime();
            while (w.mutations < 20 + MUTATIONS) {
                w.step();
            }
            System.out.printf(
                    "%d mutations with one member down in %d ms%n",
                    w.mutations, (System.nanoTime() - started) / 1_000_000);
            int leaderNow = Volumes.awaitLeader(c, 3, group);
            GroupStatus ls = Volumes.status(c, leaderNow, group);
            assertThat(ls.logStartIndex())
                    .as("leader's log still holds the entries the follower missed (no purge), leader status " + ls)
                    .isLessThanOrEqualTo(appliedBeforeStop + 1);
            assertThat(ls.commitIndex())
                    .as("the group went on without the follower")
                    .isGreaterThan(appliedBeforeStop + MUTATIONS - 1);

            started = System.nanoTime();
            c.restart(follower);
            Response.Digest d = c.awaitConvergence("vol", Duration.ofSeconds(60));
            System.out.printf(
                    "follower converged in %d ms at applied index %d digest %s%n",
                    (System.nanoTime() - started) / 1_000_000, d.appliedIndex(), d.hex());
            MiniCluster.await(
                    Duration.ofSeconds(30),
                    () -> {
                        long a = Volumes.status(c, 0, group).appliedIndex();
                        return Volumes.status(c, 1, group).appliedIndex() == a
                                && Volumes.status(c, 2, group).appliedIndex() == a;
                    },
                    "all members report the same applied index");
            GroupStatus fs = Volumes.status(c, follower, group);
            assertThat(fs.appliedIndex())
                    .isEqualTo(Volumes.status(c, leaderNow, group).appliedIndex());
            assertThat(fs.logStartIndex())
                    .as("the follower kept its own log and appended the missed entries (no snapshot installed): " + fs)
                    .isLessThanOrEqualTo(appliedBeforeStop + 1);

            w.verify(Volumes.reader(v), "the group");
            try (Volumes.Pinned p = new Volumes.Pinned(c, "vol", c.addresses().get(follower))) {
                w.verify(p, "the caught-up follower node" + follower);
            }
        }
    }
}
