package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.MemberProbe;
import io.holdfast.common.Caller;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testing.TestSeed;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A member whose whole data directory (Raft log, RocksDB, data files) is on a {@link LazyDisk}
 * crashes while a client writes, three times: its process is killed and every write it had not
 * fsynced is lost, once entirely and twice torn (part of the unsynced pages, some in part,
 * reached the disk). Each time it restarts, recovers from what survived and catches up (before
 * the next crash); in
 * the end every member has the same digest and every acknowledged write, and its brick passes
 * its own start-up check (the cluster's final checks).
 */
class CrashRecoveryIT {
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    @Test
    void aMemberCrashedMidApplyRecoversToTheStateOfItsPeers() throws Exception {
        assumeTrue(LazyDiskMount.isAvailable(), "FUSE is not available");
        try (MiniCluster cluster =
                MiniCluster.builder(root).nodes(3).lazyDisk(2).start()) {
            VolumeService v = cluster.createVolume("vol", 0, 1, 2);
            Map<String, byte[]> acknowledged = new ConcurrentHashMap<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Random crashes = TestSeed.random("CrashRecoveryIT.crashes");
            // writes are handed out in batches, so that the volume stays small enough for its
            // digest to be computed within a member query's deadline
            Semaphore permits = new Semaphore(0);
            Thread writer = Thread.ofPlatform().name("crash-writer").start(() -> {
                Random random = TestSeed.random("CrashRecoveryIT.writer");
                try {
                    for (int n = 0; !stop.get(); n++) {
                        if (!permits.tryAcquire(200, TimeUnit.MILLISECONDS)) {
                            n--;
                            continue;
                        }
                        String path = "/f" + n;
                        // inline content, and data files of one and of several 64 KiB blocks
                        byte[] data = new byte
                                [switch (n % 3) {
                                    case 0 -> 2_000;
                                    case 1 -> 70_000;
                                    default -> 140_000;
                                }];
                        random.nextBytes(data);
                        Response r = v.submit(new Request.Create(Caller.ROOT, path, 0644, true))
                                .get(120, TimeUnit.SECONDS);
                        long inode = Volumes.expect(Response.AttrReply.class, r, "create " + path)
                                .attr()
                                .inode();
                        Volumes.write(v, inode, 0, data);
                        acknowledged.put(path, data);
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
            try {
                for (int round = 0; round < 3; round++) {
                    int before = acknowledged.size();
                    permits.release(60);
                    awaitAcknowledged(acknowledged, failure, before + 20); // and 40 more on their way
                    boolean torn = round > 0;
                    cluster.crash(2, torn, crashes.nextLong());
                    System.out.printf(
                            "round %d: node 2 crashed (%s) with %d writes acknowledged%n",
                            round, torn ? "torn" : "all unsynced writes lost", acknowledged.size());
                    awaitAcknowledged(acknowledged, failure, before + 60); // the others go on
                    cluster.restart(2);
                    awaitCaughtUp(cluster); // so that the next crash finds it with a brick worth losing
                }
                int last = acknowledged.size();
                permits.release(10);
                awaitAcknowledged(acknowledged, failure, last + 10);
            } finally {
                stop.set(true);
                writer.join(Duration.ofSeconds(150));
            }
            if (failure.get() != null) {
                throw new AssertionError("a write failed: " + failure.get(), failure.get());
            }
            Response.Digest d = cluster.awaitConvergence("vol", Duration.ofSeconds(300));
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

    /** Waits until node 2 has applied what the group had committed when it came back. */
    private static void awaitCaughtUp(MiniCluster cluster) throws Exception {
        HoldfastClient client = cluster.client();
        ClusterMap.Volume vol = client.refreshMap().volume("vol").orElseThrow();
        String member = cluster.addresses().get(2);
        long target = client.probe().groupInfo(Placement.onlyGroup(vol), vol.replicas()).values().stream()
                .filter(m -> m.answered() && m.role().equals("leader"))
                .mapToLong(MemberProbe.MemberInfo::commitIndex)
                .max()
                .orElse(0);
        long[] applied = {-1};
        MiniCluster.await(
                Duration.ofSeconds(300),
                () -> {
                    MemberProbe.MemberInfo m = client.probe()
                            .groupInfo(Placement.onlyGroup(vol), List.of(member))
                            .get(member);
                    applied[0] = m.answered() ? m.appliedIndex() : applied[0];
                    return applied[0] >= target;
                },
                "node 2 applies up to index " + target);
        System.out.printf("node 2 caught up to index %d%n", applied[0]);
    }

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
