package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testing.TestSeed;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every node of the group stops and starts again: the state comes back from each brick
 * (RocksDB and data files), the latest snapshot and the log after it, identical on all.
 * The threshold makes the last snapshot fall mid-way, so the restart replays a log tail.
 */
class RestartAllIT {
    @TempDir
    Path root;

    @Test
    void stateSurvivesAFullRestart() throws Exception {
        long seed = TestSeed.seed();
        System.out.println("RestartAllIT seed=" + seed);
        try (MiniCluster c = MiniCluster.start(root, 3, 50)) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            Workload w = new Workload(v, seed);
            w.createFile(300 * 1024);
            while (w.mutations < 130) {
                w.step();
            }
            w.createFile(70 * 1024);
            w.step();
            Response.Digest before = c.awaitConvergence("vol", Duration.ofSeconds(30));
            System.out.printf(
                    "before restart: applied index %d digest %s after %d mutations%n",
                    before.appliedIndex(), before.hex(), w.mutations);
            for (int i = 0; i < 3; i++) {
                c.stop(i);
            }
            for (int i = 0; i < 3; i++) {
                c.restart(i);
            }
            Response.Digest after = c.awaitConvergence("vol", Duration.ofSeconds(60));
            System.out.printf("after restart: applied index %d digest %s%n", after.appliedIndex(), after.hex());
            assertThat(after.hex())
                    .as("state digest after restarting every node")
                    .isEqualTo(before.hex());
            assertThat(after.appliedIndex()).isGreaterThanOrEqualTo(before.appliedIndex());
            for (int i = 0; i < 3; i++) {
                try (Volumes.Pinned p =
                        new Volumes.Pinned(c, "vol", c.addresses().get(i))) {
                    w.verify(p, "node" + i + " after the full restart");
                }
            }
            w.verify(Volumes.reader(v), "the group");
            // and the group still takes writes
            w.step();
            c.awaitConvergence("vol", Duration.ofSeconds(30));
        }
    }
}
