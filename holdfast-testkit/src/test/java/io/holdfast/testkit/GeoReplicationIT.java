package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.georep.GeoStatus;
import io.holdfast.georep.VolumeChangeSource;
import io.holdfast.protocol.VolumeService;
import io.holdfast.storage.ChangeFeedRetention;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Geo-replication end to end: a randomized workload through the NIO provider on a three-node
 * volume, replicated by {@link GeoReplicator} from the volume's change feed to a local directory
 * and to a volume of a second cluster; the worker stopped at random points and resumed; a feed
 * whose history was trimmed forcing a full synchronisation. The target must equal the source.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class GeoReplicationIT {
    private static final Set<String> STATE = Set.of(".holdfast-georep");
    private static final Duration FEED_TIMEOUT = Duration.ofSeconds(30);
    private static final long SEED = Long.getLong("holdfast.seed", System.nanoTime());

    @TempDir
    static Path root;

    private static MiniCluster source;
    private static MiniCluster dr;

    @BeforeAll
    static void startClusters() throws Exception {
        System.out.println("GeoReplicationIT seed " + SEED + " (replay with -Dholdfast.seed=" + SEED + ")");
        source = MiniCluster.start(root.resolve("primary"), 3, 100_000);
        source.createVolume("mail", 0, 1, 2);
        source.createVolume("small", 0, 1, 2);
        dr = MiniCluster.start(root.resolve("dr"), 3, 100_000);
        dr.createVolume("copy", 0, 1, 2);
    }

    @AfterAll
    static void stopClusters() throws Exception {
        if (source != null) {
            source.close();
        }
        if (dr != null) {
            dr.close();
        }
    }

    private static FileSystem fs(MiniCluster c, String volume) throws Exception {
        return FileSystems.newFileSystem(
                URI.create("holdfast://" + c.addresses().get(0) + "/" + volume), c.clientEnv());
    }

    private static GeoReplicator replicator(VolumeService v, FileSystem src, Path target, String session) {
        return new GeoReplicator(
                new VolumeChangeSource(v, FEED_TIMEOUT), src.getPath("/"), target, GeoOptions.defaults(session));
    }

    private static void assertSameTree(Path a, Path b, MiniCluster c, String volume) throws Exception {
        Map<String, String> want = TreeWorkload.describe(a, STATE);
        long files = want.values().stream().filter(v -> v.startsWith("file ")).count();
        System.out.println("comparing " + want.size() + " entries, " + files + " of them files");
        assertThat(files).as("the workload made files").isPositive();
        try {
            TreeWorkload.assertSameTree(a, b, STATE, "seed " + SEED);
        } catch (AssertionError e) {
            // which side is wrong: the source as the writer's cache shows it, or the copy? (a new
            // client through another member: the writer's file system holds the first one's URI)
            try (FileSystem fresh = FileSystems.newFileSystem(
                    URI.create("holdfast://" + c.addresses().get(1) + "/" + volume), c.clientEnv())) {
                List<String> stale = TreeWorkload.differences(TreeWorkload.describe(fresh.getPath("/"), STATE), want);
                e.addSuppressed(new AssertionError(
                        stale.isEmpty()
                                ? "a new client sees the source as the writer's file system does"
                                : "a new client sees the source otherwise (new client | writer's): " + stale));
            } catch (Exception | AssertionError x) {
                e.addSuppressed(x);
            }
            throw e;
        }
    }

    /**
     * The randomized workload in rounds; after each, the worker (a new one each time, as after a
     * restart) catches up and the trees are compared. Then the worker tails while the workload runs
     * and is stopped at random moments and started again.
     */
    @Test
    void aRandomWorkloadReachesALocalDirectoryExactlyAcrossRestarts() throws Exception {
        VolumeService volume = source.client().volume("mail");
        Path target = Files.createDirectories(root.resolve("target-dir"));
        try (FileSystem src = fs(source, "mail")) {
            Path tree = Files.createDirectories(src.getPath("/tree"));
            TreeWorkload work = new TreeWorkload(tree, SEED, Set.of());
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 60; i++) {
                    System.out.println("step: " + work.step());
                }
                GeoReplicator r = replicator(volume, src, target, "mail-dr");
                r.runOnce();
                assertSameTree(src.getPath("/"), target, source, "mail");
                GeoStatus s = r.status();
                assertThat(s.position()).isPositive();
                System.out.println("round " + round + ": " + s);
            }
            // tailing while the workload runs; stopped and restarted at random points
            Random random = new Random(SEED);
            for (int restart = 0; restart < 4; restart++) {
                GeoReplicator r = replicator(volume, src, target, "mail-dr");
                CompletableFuture<Void> running = CompletableFuture.runAsync(() -> {
                    try {
                        r.run();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                int steps = 5 + random.nextInt(30);
                for (int i = 0; i < steps; i++) {
                    System.out.println("step: " + work.step());
                }
                long before = r.status().position();
                r.stop();
                running.get(60, TimeUnit.SECONDS);
                System.out.println("stopped after " + steps + " steps at position "
                        + r.status().position() + " (was " + before + ")");
            }
            GeoReplicator last = replicator(volume, src, target, "mail-dr");
            last.runOnce();
            assertSameTree(src.getPath("/"), target, source, "mail");
            System.out.println("final: " + last.status() + " after " + work.operations + " operations");
        }
    }

    /** The target may be a volume of another cluster, reached through the same NIO provider. */
    @Test
    void aVolumeOfAnotherClusterIsATarget() throws Exception {
        VolumeService volume = source.client().volume("mail");
        try (FileSystem src = fs(source, "mail");
                FileSystem copy = fs(dr, "copy")) {
            Path tree = Files.createDirectories(src.getPath("/other"));
            TreeWorkload work = new TreeWorkload(tree, SEED ^ 1, Set.of());
            for (int i = 0; i < 80; i++) {
                work.step();
            }
            Path target = copy.getPath("/");
            replicator(volume, src, target, "mail-dr2").runOnce();
            assertSameTree(src.getPath("/"), target, source, "mail");
            for (int i = 0; i < 40; i++) {
                work.step();
            }
            replicator(volume, src, target, "mail-dr2").runOnce();
            assertSameTree(src.getPath("/"), target, source, "mail");
        }
    }

    /**
     * A worker that was away longer than the feed's history finds its position trimmed: it
     * synchronises the whole tree (copying only what differs) and goes on tailing.
     */
    @Test
    void aPositionPastTheFeedsHistoryForcesAFullSynchronisation() throws Exception {
        try (MiniCluster small = MiniCluster.start(root.resolve("small-history"), 1, 100_000)) {
            small.tweakOptions(o -> o.changeFeedRetention(new ChangeFeedRetention(16 << 10, Duration.ofDays(1))));
            small.restart(0);
            VolumeService volume = small.createVolume("v", 0);
            Path target = Files.createDirectories(root.resolve("target-small"));
            try (FileSystem src = fs(small, "v")) {
                Files.createDirectories(src.getPath("/a"));
                for (int i = 0; i < 20; i++) {
                    Files.writeString(src.getPath("/a/keep-" + i), "unchanged " + i);
                }
                GeoReplicator first = replicator(volume, src, target, "small");
                first.runOnce();
                assertSameTree(src.getPath("/"), target, small, "v");
                long resyncsBefore = first.status().resyncs();
                long position = first.status().position();

                for (int i = 0; i < 400; i++) { // far more than 16 KiB of records
                    Files.createFile(src.getPath("/a/new-" + i));
                }
                Files.writeString(src.getPath("/a/keep-3"), "changed while away");
                GeoReplicator back = replicator(volume, src, target, "small");
                back.runOnce();
                assertSameTree(src.getPath("/"), target, small, "v");
                GeoStatus s = back.status();
                System.out.println("after the history was trimmed: was at " + position + ", " + s);
                assertThat(s.resyncs()).isGreaterThanOrEqualTo(1);
                assertThat(s.position()).isGreaterThan(position);
                assertThat(s.filesCopied()).as("only what differs travels").isLessThanOrEqualTo(1 + 400);
                assertThat(resyncsBefore).isGreaterThanOrEqualTo(1); // the first run started with one
            }
        }
    }

    /** A running worker (long polls on the feed, a cached file system) holds up no other client. */
    @Test
    void aRunningWorkerHoldsUpNoOtherClient() throws Exception {
        VolumeService volume = source.client().volume("mail");
        Path target = Files.createDirectories(root.resolve("target-live"));
        try (FileSystem src = fs(source, "mail")) {
            Files.createDirectories(src.getPath("/live"));
            GeoReplicator r = replicator(volume, src, target, "live");
            CompletableFuture<Void> running = CompletableFuture.runAsync(() -> {
                try {
                    r.run();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Map<String, Object> env = new HashMap<>(source.clientEnv());
            env.put(HoldfastClient.SHORT_LIVED_OPTION, true);
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                try (FileSystem other = FileSystems.newFileSystem(
                        URI.create("holdfast://" + source.addresses().get(1) + "/mail"), env)) {
                    Files.writeString(other.getPath("/live/f" + i), "x" + i);
                    assertThat(Files.exists(other.getPath("/live/f" + i))).isTrue();
                }
                System.out.println("short-lived client " + i + ": " + (System.nanoTime() - t0) / 1_000_000 + " ms");
                int n = i;
                MiniCluster.await(Duration.ofSeconds(30), () -> Files.exists(target.resolve("live/f" + n)), "f" + n);
            }
            r.stop();
            running.get(60, TimeUnit.SECONDS);
        }
    }
}
