package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Caller;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testing.TestSeed;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader of a volume killed with SIGKILL (its JVM gone at once: no graceful Raft
 * shutdown, no flush, connections reset) while four clients stream writes: no acknowledged
 * write is lost, the survivors go on accepting writes, and once the killed node is back every
 * member holds every acknowledged write and the same digest.
 */
class LeaderKillIT {
    private static final int WRITERS = 4;

    @TempDir
    Path root;

    @Test
    void noAcknowledgedWriteIsLostWhenTheLeaderIsKilledMidStream() throws Exception {
        try (MiniCluster cluster =
                MiniCluster.builder(root).nodes(3).separateProcesses(0, 1, 2).start()) {
            VolumeService v = cluster.createVolume("vol", 0, 1, 2);
            HoldfastClient client = cluster.client();
            Map<String, byte[]> acknowledged = new ConcurrentHashMap<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> writers = new ArrayList<>();
            for (int k = 0; k < WRITERS; k++) {
                int writer = k;
                writers.add(Thread.ofPlatform().name("kill-writer-" + k).start(() -> {
                    Random random = TestSeed.random("LeaderKillIT.writer" + writer);
                    try {
                        for (int n = 0; !stop.get(); n++) {
                            String path = "/w" + writer + "-" + n;
                            // alternately inline content and a data file (over 64 KiB)
                            byte[] data = new byte[n % 2 == 0 ? 1000 : 100_000];
                            random.nextBytes(data);
                            Response r = v.submit(new Request.Create(Caller.ROOT, path, 0644, true))
                                    .get(120, TimeUnit.SECONDS);
                            long inode = Volumes.expect(Response.AttrReply.class, r, "create " + path)
                                    .attr()
                                    .inode();
                            Volumes.expect(
                                    Response.AttrReply.class,
                                    v.submit(new Request.Write(Caller.ROOT, inode, 0, data, Checksums.crc32c(data)))
                                            .get(120, TimeUnit.SECONDS),
                                    "write " + path);
                            acknowledged.put(path, data);
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                }));
            }
            try {
                awaitAcknowledged(acknowledged, failure, 40);
                String leaderAddress = MiniCluster.awaitValue(
                        Duration.ofSeconds(60), () -> Volumes.leaderAddress(client, "vol"), "the volume has a leader");
                int leader = cluster.addresses().indexOf(leaderAddress);
                int before = acknowledged.size();
                cluster.kill(leader);
                System.out.printf(
                        "killed leader %s (node %d) with %d writes acknowledged%n", leaderAddress, leader, before);
                assertThat(cluster.isRunning(leader)).isFalse();
                awaitAcknowledged(acknowledged, failure, before + 60);
                String next = MiniCluster.awaitValue(
                        Duration.ofSeconds(60),
                        () -> Volumes.leaderAddress(client, "vol").filter(a -> !a.equals(leaderAddress)),
                        "a survivor leads");
                System.out.printf(
                        "%s leads; %d writes acknowledged since the kill%n", next, acknowledged.size() - before);
                cluster.restart(leader);
                awaitAcknowledged(acknowledged, failure, acknowledged.size() + 20);
            } finally {
                stop.set(true);
                for (Thread t : writers) {
                    t.join(Duration.ofSeconds(150));
                }
            }
            if (failure.get() != null) {
                throw new AssertionError("a write failed: " + failure.get(), failure.get());
            }
            Response.Digest d = cluster.awaitConvergence("vol", Duration.ofSeconds(120));
            System.out.println("converged at applied index " + d.appliedIndex() + " with " + acknowledged.size()
                    + " acknowledged writes");
            Map<String, String> expected = new TreeMap<>();
            acknowledged.forEach((path, data) -> expected.put(path, Volumes.describe(data)));
            for (int i = 0; i < 3; i++) {
                try (Volumes.Pinned member =
                        new Volumes.Pinned(cluster, "vol", cluster.addresses().get(i))) {
                    assertThat(Volumes.dump(member))
                            .as("member " + i + " holds every acknowledged write")
                            .containsAllEntriesOf(expected);
                }
            }
        }
    }

    /** The volume's leader: the member that answers as leader, if any. */
    private static void awaitAcknowledged(Map<String, byte[]> acknowledged, AtomicReference<Throwable> failure, int n) {
        MiniCluster.await(
                Duration.ofSeconds(180),
                () -> {
                    if (failure.get() != null) {
                        throw new AssertionError("a write failed: " + failure.get(), failure.get());
                    }
                    return acknowledged.size() >= n;
                },
                n + " writes acknowledged");
    }
}
