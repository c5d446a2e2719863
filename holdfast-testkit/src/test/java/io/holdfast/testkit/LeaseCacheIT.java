package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.nio.CacheStats;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.client.nio.HoldfastFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client metadata cache under the volume's read lease, on a three-node volume with two clients
 * (each its own connection, as on two machines): answers come from the cache, and are never older
 * than a change another client has completed, nor than this client's own.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class LeaseCacheIT {
    private static final String VOLUME = "leases";
    private static final Duration LEASE_DEADLINE = Duration.ofSeconds(30);

    @TempDir
    static Path clusterRoot;

    private static MiniCluster cluster;
    private final List<FileSystem> opened = new ArrayList<>();

    @BeforeAll
    static void startCluster() throws IOException {
        cluster = MiniCluster.start(clusterRoot, 3, 100_000);
        cluster.createVolume(VOLUME, 0, 1, 2);
    }

    @AfterAll
    static void stopCluster() throws IOException {
        if (cluster != null) {
            cluster.close();
        }
    }

    @AfterEach
    void closeClients() throws IOException {
        for (FileSystem fs : opened) {
            fs.close();
        }
    }

    /** A new long-lived client of the volume through node {@code node}, holding a lease once granted. */
    private FileSystem client(int node) throws Exception {
        FileSystem fs = FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(node) + "/" + VOLUME), cluster.clientEnv());
        opened.add(fs);
        MiniCluster.await(
                LEASE_DEADLINE,
                () -> CacheStats.of(fs).leaseValid(),
                "a read lease for the client through node " + node);
        return fs;
    }

    @Test
    void repeatedQueriesAreAnsweredFromTheCache() throws Exception {
        FileSystem a = client(0);
        Path dir = Files.createDirectories(a.getPath("/hits"));
        Files.writeString(dir.resolve("f"), "hello");
        Files.size(dir.resolve("f")); // fills the cache
        long hitsBefore = CacheStats.of(a).hits();
        // a loaded machine may delay a renewal past the lease (answers then come from the volume):
        // repeat until the cache has answered 100 times, within a deadline
        MiniCluster.await(
                LEASE_DEADLINE,
                () -> {
                    try {
                        for (int i = 0; i < 10; i++) {
                            assertThat(Files.size(dir.resolve("f"))).isEqualTo(5);
                            assertThat(Files.exists(dir.resolve("missing"))).isFalse();
                            try (Stream<Path> s = Files.list(dir)) {
                                assertThat(s.count()).isEqualTo(1);
                            }
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    return CacheStats.of(a).hits() - hitsBefore >= 100;
                },
                "100 answers to stat, negative lookups and listings from the cache");
    }

    /**
     * What this client changes itself it learns from the answers: a lookup before a create in a
     * directory it made, the new file's attributes, its size after a write, its parent's new times,
     * a renamed name's absence and the directory's listing all come from the cache, so each change
     * costs one round trip and nothing else.
     */
    @Test
    void ownChangesAreLearnedFromTheirAnswers() throws Exception {
        FileSystem a = client(0);
        Map<String, Object> env = new HashMap<>(cluster.clientEnv());
        env.put(HoldfastFileSystemProvider.ENV_CACHE, false);
        FileSystem uncached = FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(1) + "/" + VOLUME), env);
        opened.add(uncached);
        Path root = Files.createDirectories(a.getPath("/own"));
        int[] round = {0};
        // a loaded machine may delay a renewal past the lease (answers then come from the volume):
        // repeat until one round ran without a miss, within a deadline
        MiniCluster.await(
                LEASE_DEADLINE,
                () -> {
                    try {
                        Path d = Files.createDirectory(root.resolve("r" + round[0]++));
                        long missesBefore = CacheStats.of(a).misses();
                        for (int i = 0; i < 10; i++) {
                            Path f = d.resolve("f" + i);
                            assertThat(Files.exists(f)).isFalse();
                            Files.writeString(
                                    f, "x".repeat(i), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                            assertThat(Files.size(f)).isEqualTo(i);
                            assertThat(Files.getLastModifiedTime(d))
                                    .as("the parent's new time, learned from the create")
                                    .isEqualTo(Files.getLastModifiedTime(uncached.getPath(d.toString())));
                            Files.move(f, d.resolve("g" + i));
                            assertThat(Files.exists(f)).isFalse();
                        }
                        try (Stream<Path> s = Files.list(d)) {
                            assertThat(s.count()).isEqualTo(10);
                        }
                        return CacheStats.of(a).misses() == missesBefore; // the listing too: d is complete
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                },
                "a round of creates, writes, stats, renames and a listing answered from the cache");
    }

    @Test
    void anotherClientsCompletedChangeIsSeenAtOnce() throws Exception {
        FileSystem a = client(0);
        FileSystem b = client(1);
        Path dirA = Files.createDirectories(a.getPath("/shared"));
        Path dirB = b.getPath("/shared");
        long dropsBefore = CacheStats.of(a).drops();
        for (int i = 0; i < 20; i++) {
            Path fa = dirA.resolve("f" + i);
            // a caches "no such file", the directory listing and the directory's attributes
            assertThat(Files.exists(fa)).isFalse();
            try (Stream<Path> s = Files.list(dirA)) {
                assertThat(s.count()).isEqualTo(i);
            }
            Files.getLastModifiedTime(dirA);
            // b creates and writes it; once b's close returns, a must see all of it
            byte[] data = new byte[1000 + i * 777];
            Files.write(dirB.resolve("f" + i), data);
            assertThat(Files.exists(fa))
                    .as("file %d created by the other client", i)
                    .isTrue();
            assertThat(Files.size(fa)).isEqualTo(data.length);
            try (Stream<Path> s = Files.list(dirA)) {
                assertThat(s.count()).isEqualTo(i + 1);
            }
            // and a's own cache, filled again, follows b's next change too: once it is durable (b
            // writes root's chmod back, so its fsync is the point where it is done)
            Files.setPosixFilePermissions(dirB.resolve("f" + i), PosixFilePermissions.fromString("rw-------"));
            try (FileChannel ch = FileChannel.open(dirB.resolve("f" + i), StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fa)))
                    .isEqualTo("rw-------");
            Files.delete(dirB.resolve("f" + i));
            HoldfastFiles.sync(b); // b writes root's unlink back: its durability point is when it is done
            assertThat(Files.exists(fa)).isFalse();
            Files.write(dirB.resolve("f" + i), data);
        }
        assertThat(CacheStats.of(a).drops())
                .as("a dropped its cache for b's changes")
                .isGreaterThan(0);
    }

    @Test
    void ownChangesAreSeenThroughEveryNameOfAnInode() throws Exception {
        FileSystem a = client(2);
        Path dir = Files.createDirectories(a.getPath("/links"));
        Path x = Files.writeString(dir.resolve("x"), "data");
        Path y = Files.createLink(dir.resolve("y"), x);
        assertThat(Files.getAttribute(y, "unix:nlink")).isEqualTo(2);
        assertThat(Files.getAttribute(x, "unix:nlink")).isEqualTo(2);
        Files.setPosixFilePermissions(x, PosixFilePermissions.fromString("rwx------"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(y)))
                .isEqualTo("rwx------");
        Files.writeString(y, "longer data");
        assertThat(Files.size(x)).isEqualTo(11);
        Files.delete(y);
        assertThat(Files.getAttribute(x, "unix:nlink")).isEqualTo(1);
        Files.move(x, dir.resolve("z"));
        assertThat(Files.exists(x)).isFalse();
        assertThat(Files.readString(dir.resolve("z"))).isEqualTo("longer data");
        Files.createDirectories(dir.resolve("d/e"));
        Files.writeString(dir.resolve("d/e/f"), "deep");
        assertThat(Files.size(dir.resolve("d/e/f"))).isEqualTo(4);
        Files.move(dir.resolve("d"), dir.resolve("d2"));
        assertThat(Files.exists(dir.resolve("d/e/f"))).isFalse();
        assertThat(Files.readString(dir.resolve("d2/e/f"))).isEqualTo("deep");
        try {
            Files.size(dir.resolve("d/e/f"));
            throw new AssertionError("the renamed directory's old path still answers");
        } catch (NoSuchFileException expected) {
            // as it must
        }
    }

    /**
     * A client that stops answering (closed without a word to the leader, which still holds its session)
     * holds another client's change only until its lease runs out; the change then completes and
     * is visible.
     */
    @Test
    void aSilentClientHoldsOtherClientsOnlyUntilItsLeaseEnds() throws Exception {
        FileSystem a = client(0);
        FileSystem b = client(1);
        Path dirB = Files.createDirectories(b.getPath("/silent"));
        Files.exists(a.getPath("/silent/f"));
        a.close(); // its session stays with the leader, like a client process that froze
        opened.remove(a);
        long started = System.nanoTime();
        Files.writeString(dirB.resolve("f"), "after a's lease");
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        System.out.println("a change held by a silent client's lease took " + tookMillis + " ms");
        assertThat(Files.readString(dirB.resolve("f"))).isEqualTo("after a's lease");
        assertThat(CacheStats.of(a).leaseValid()).isFalse();
    }

    /**
     * After a leader change every change another client completes is still seen at once: the new
     * leader numbers its invalidations from 1 again in a new epoch, and a client that had
     * acknowledged higher numbers under the old leader must not take them for acknowledgements of
     * the new leader's (it kept them when its renewal found the new leader before its poll did, and
     * then acknowledged the new leader's invalidations without dropping its cache). Whether the
     * renewal or the poll finds the new leader first is up to timing: without the fixes this failed
     * in the first of three runs here (a's size 40 where b had written 1), so it guards the path
     * without always taking it; {@code LeaseKeeperEpochTest} and {@code LeaseTableTest} take each
     * order on purpose.
     */
    @Test
    void anotherClientsCompletedChangeIsSeenAfterALeaderChange() throws Exception {
        FileSystem a = client(0);
        FileSystem b = client(1);
        Path fa = Files.createDirectories(a.getPath("/failover")).resolve("f");
        Path fb = b.getPath("/failover/f");
        // b's changes raise the invalidation numbers a acknowledges under the first leader
        for (int i = 1; i <= 40; i++) {
            Files.write(fb, new byte[i]);
            assertThat(Files.size(fa)).as("size after b's change %d", i).isEqualTo(i);
        }
        HoldfastClient admin = cluster.client(); // shared, closed with the cluster
        String leader = MiniCluster.awaitValue(
                Duration.ofSeconds(60), () -> admin.probe().leaderOf(VOLUME), "the volume's leader");
        int stopped = cluster.addresses().indexOf(leader);
        long dropsA = CacheStats.of(a).drops();
        cluster.stop(stopped);
        try {
            MiniCluster.await(
                    Duration.ofSeconds(120),
                    () -> admin.probe()
                            .leaderOf(VOLUME)
                            .filter(l -> !l.equals(leader))
                            .isPresent(),
                    "a new leader");
            MiniCluster.await(
                    LEASE_DEADLINE,
                    () -> CacheStats.of(a).drops() > dropsA
                            && CacheStats.of(a).leaseValid()
                            && CacheStats.of(b).leaseValid(),
                    "leases from the new leader");
            for (int i = 1; i <= 20; i++) {
                assertThat(Files.size(fa)).isEqualTo(i == 1 ? 40 : i - 1); // cached by a
                Files.write(fb, new byte[i]);
                assertThat(Files.size(fa))
                        .as("size after b's change %d under the new leader", i)
                        .isEqualTo(i);
            }
        } finally {
            cluster.restart(stopped);
        }
    }
}
