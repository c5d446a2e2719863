package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.HoldfastClient;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The read path through a FUSE mount of a three-node volume, with ordinary tools ({@code cat},
 * {@code cmp}, {@code dd}, {@code fincore}): the mount's client ("reader") reaches the cluster
 * through a link of its own that the test can cut ({@link FaultyNetwork#REMOTE}); a second client
 * ("writer", NIO) changes files meanwhile.
 *
 * <ul>
 *   <li>a cold sequential read fetches each block from the members once;
 *   <li>sequential and random reads return the exact bytes;
 *   <li>the kernel keeps a file's pages across opens ({@code auto_cache}), and still a writer's
 *       overwrite is seen after its close (close-to-open);
 *   <li>a read during another client's overwrite never returns a mix that was never written as
 *       one write, at the granularity Holdfast guarantees: one write request (at most 1 MiB)
 *       within one aligned 1 MiB block is seen whole or not at all by a read of that block
 *       through a channel, and by every 4 KiB page read through the mount;
 *   <li>a reader whose link is cut stops answering from its cached pages once its lease ends.
 * </ul>
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReadPathFuseIT {
    private static final String VOLUME = "reads";
    private static final int MIB = 1 << 20;
    private static final int PAGE = 4096;

    @TempDir
    static Path clusterRoot;

    @TempDir
    static Path tmp;

    private static MiniCluster cluster;
    private static FileSystem reader;
    private static FileSystem writer;
    private static FuseMount mount;
    private static Path mnt;

    @BeforeAll
    static void start() throws IOException {
        cluster = MiniCluster.builder(clusterRoot)
                .nodes(3)
                .snapshotThreshold(100_000)
                .faultyNetwork()
                .start();
        cluster.createVolume(VOLUME, 0, 1, 2);
        Map<String, Object> cut = new HashMap<>(cluster.clientEnv());
        cut.put(HoldfastClient.ROUTES_OPTION, cluster.network().remoteRoutes());
        cut.put("holdfast.deadline", Duration.ofSeconds(5));
        reader = FileSystems.newFileSystem(uri(0), cut);
        writer = FileSystems.newFileSystem(uri(1), cluster.clientEnv()); // another client
        if (FuseMount.isAvailable()) {
            mnt = Files.createDirectory(tmp.resolve("mnt"));
            mount = FuseMount.mount(
                    reader.getPath("/"),
                    mnt,
                    FuseOptions.defaults().withFsName("holdfast-reads").withCapabilities(Capabilities.HOLDFAST));
        }
    }

    private static URI uri(int node) {
        return URI.create("holdfast://" + cluster.addresses().get(node) + "/" + VOLUME);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (cluster != null) {
                cluster.network().heal();
            }
            if (mount != null) {
                mount.close();
            }
            if (reader != null) {
                reader.close();
            }
            if (writer != null) {
                writer.close();
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    /** Writes {@code bytes} as the whole content of {@code path} through the writer, then closes it. */
    private static void writeThroughWriter(String path, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(
                writer.getPath(path),
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
    }

    /** Bytes the members have sent to the mount's client so far (its link is the only remote one). */
    private static long deliveredToReader() {
        long n = 0;
        for (int node = 0; node < 3; node++) {
            n += cluster.network().bytesDelivered(node, FaultyNetwork.REMOTE);
        }
        return n;
    }

    /**
     * A cold sequential read through the mount asks the members for each 1 MiB block once: the
     * reader receives the file's bytes and little more. (The channel used to drop the blocks it
     * had fetched ahead before they were read, and fetched most blocks twice: about twice the
     * file.) The bound leaves room for a few reads sent again on a loaded machine.
     */
    @Test
    @Order(0)
    void aSequentialReadFetchesEachBlockOnce() throws Exception {
        assumeTrue(mount != null, "FUSE is not available here");
        Random random = TestSeed.random("ReadPathFuseIT.once");
        byte[] content = new byte[32 * MIB];
        random.nextBytes(content);
        Path ref = Files.write(tmp.resolve("once.ref"), content);
        writeThroughWriter("/once", content);
        long before = deliveredToReader();
        sh("cmp " + mnt.resolve("once") + " " + ref);
        long delivered = deliveredToReader() - before;
        System.out.println("ReadPathFuseIT: a cold read of " + content.length + " bytes through the mount received "
                + delivered + " bytes from the members");
        assertThat(delivered)
                .as("bytes the members sent the reader for one cold read of %d bytes", content.length)
                .isGreaterThanOrEqualTo(content.length)
                .isLessThan(content.length * 5L / 4 + 4L * MIB);
    }

    @Test
    @Order(1)
    void sequentialAndRandomReadsReturnExactBytes() throws Exception {
        assumeTrue(mount != null, "FUSE is not available here");
        Random random = TestSeed.random("ReadPathFuseIT.exact");
        byte[] content = new byte[13 * MIB + 12_345];
        random.nextBytes(content);
        Path ref = Files.write(tmp.resolve("exact.ref"), content);
        writeThroughWriter("/exact", content);
        Path f = mnt.resolve("exact");
        sh("cmp " + f + " " + ref);
        sh("cat " + f + " > " + tmp.resolve("exact.cat"));
        assertThat(Files.readAllBytes(tmp.resolve("exact.cat"))).isEqualTo(content);
        sh("dd if=" + f + " of=" + tmp.resolve("exact.dd") + " bs=1M status=none");
        assertThat(Files.readAllBytes(tmp.resolve("exact.dd"))).isEqualTo(content);
        for (int i = 0; i < 24; i++) {
            long skip = random.nextInt(content.length);
            long count = 1 + random.nextInt(i % 2 == 0 ? 5000 : 3 * MIB);
            Path out = tmp.resolve("exact.part");
            sh("dd if=" + f + " of=" + out + " iflag=skip_bytes,count_bytes skip=" + skip + " count=" + count
                    + " bs=64k status=none");
            int end = (int) Math.min(content.length, skip + count);
            assertThat(Files.readAllBytes(out))
                    .as("dd skip=%d count=%d", skip, count)
                    .isEqualTo(Arrays.copyOfRange(content, (int) skip, end));
        }
        // and the channel itself, backwards and at random, through the reader's NIO file system
        try (FileChannel ch = FileChannel.open(reader.getPath("/exact"), StandardOpenOption.READ)) {
            for (int i = 0; i < 40; i++) {
                int at = random.nextInt(content.length);
                ByteBuffer b = ByteBuffer.allocate(1 + random.nextInt(2 * MIB));
                int n = 0;
                while (b.hasRemaining()) {
                    int r = ch.read(b, at + n);
                    if (r < 0) {
                        break;
                    }
                    n += r;
                }
                assertThat(Arrays.copyOf(b.array(), n))
                        .as("read of %d at %d", b.capacity(), at)
                        .isEqualTo(Arrays.copyOfRange(content, at, Math.min(content.length, at + b.capacity())));
            }
        }
    }

    @Test
    @Order(2)
    void anOverwriteIsSeenAfterItsCloseEvenWithThePagesCached() throws Exception {
        assumeTrue(mount != null, "FUSE is not available here");
        Random random = TestSeed.random("ReadPathFuseIT.c2o");
        byte[] first = new byte[3 * MIB + 100];
        random.nextBytes(first);
        writeThroughWriter("/c2o", first);
        Path f = mnt.resolve("c2o");
        Path ref = Files.write(tmp.resolve("c2o.ref"), first);
        sh("cmp " + f + " " + ref);
        sh("cmp " + f + " " + ref); // a second open: the pages are kept (auto_cache)
        String resident = sh("fincore --bytes --noheadings --output RES " + f).trim();
        assertThat(Long.parseLong(resident))
                .as("bytes of the file in the page cache after a second open")
                .isGreaterThan(0);
        for (int round = 0; round < 5; round++) {
            byte[] next = first.clone();
            // same size, a few bytes changed in the middle: only the content tells them apart
            for (int i = 0; i < 16; i++) {
                next[MIB + round * 1000 + i] ^= (byte) (1 + round);
            }
            writeThroughWriter("/c2o", next);
            Files.write(ref, next);
            sh("cmp " + f + " " + ref);
            first = next;
        }
    }

    /** The value every byte of block {@code k} holds in generation {@code g} (never 0: 0 is a hole). */
    private static byte stamp(int g, int k) {
        return (byte) (1 + ((g * 7 + k) % 255));
    }

    @Test
    @Order(3)
    void aReadDuringAnOverwriteSeesEachWriteWholeOrNotAtAll() throws Exception {
        assumeTrue(mount != null, "FUSE is not available here");
        int blocks = 6;
        byte[] initial = new byte[blocks * MIB];
        for (int k = 0; k < blocks; k++) {
            Arrays.fill(initial, k * MIB, (k + 1) * MIB, stamp(0, k));
        }
        writeThroughWriter("/mix", initial);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger generations = new AtomicInteger();
        AtomicReference<Throwable> writerFailed = new AtomicReference<>();
        Thread w = Thread.ofPlatform().name("overwriter").start(() -> {
            try (FileChannel ch = FileChannel.open(writer.getPath("/mix"), StandardOpenOption.WRITE)) {
                byte[] block = new byte[MIB];
                for (int g = 1; !stop.get() && g < 10_000; g++) {
                    for (int k = 0; k < blocks; k++) {
                        Arrays.fill(block, stamp(g, k));
                        ch.write(ByteBuffer.wrap(block), (long) k * MIB); // one write request
                    }
                    ch.force(false);
                    generations.set(g);
                }
            } catch (Throwable t) {
                writerFailed.set(t);
            }
        });
        try {
            Path out = tmp.resolve("mix.out");
            int mixedReads = 0;
            for (int i = 0; i < 12 || generations.get() < 3; i++) {
                assertThat(i).as("reads before the writer got anywhere").isLessThan(200);
                // through the mount: every page holds one write's bytes
                sh("cat " + mnt.resolve("mix") + " > " + out);
                byte[] seen = Files.readAllBytes(out);
                assertThat(seen).hasSize(blocks * MIB);
                boolean mixed = false;
                for (int p = 0; p < seen.length; p += PAGE) {
                    byte b = seen[p];
                    for (int j = p; j < p + PAGE; j++) {
                        if (seen[j] != b) {
                            throw new AssertionError("page at " + p + " mixes " + b + " and " + seen[j]);
                        }
                    }
                    mixed |= b != seen[p - p % MIB];
                }
                mixedReads += mixed ? 1 : 0;
                // through the reader's channel: every aligned 1 MiB block holds one write's bytes
                try (FileChannel ch = FileChannel.open(reader.getPath("/mix"), StandardOpenOption.READ)) {
                    ByteBuffer b = ByteBuffer.allocate(MIB);
                    for (int k = 0; k < blocks; k++) {
                        b.clear();
                        while (b.hasRemaining() && ch.read(b, (long) k * MIB + b.position()) >= 0) {
                            // fill the block
                        }
                        byte[] a = b.array();
                        for (int j = 0; j < MIB; j++) {
                            if (a[j] != a[0]) {
                                throw new AssertionError("block " + k + " mixes " + a[0] + " and " + a[j] + " at " + j);
                            }
                        }
                    }
                }
            }
            System.out.println("ReadPathFuseIT: " + generations.get() + " generations written; reads through the"
                    + " mount with more than one generation inside a 1 MiB block: " + mixedReads);
        } finally {
            stop.set(true);
            w.join(TimeUnit.SECONDS.toMillis(60));
        }
        assertThat(writerFailed.get()).isNull();
        assertThat(generations.get()).isGreaterThanOrEqualTo(3);
    }

    @Test
    @Order(4)
    void aCutReaderStopsServingCachedPagesOnceItsLeaseEnds() throws Exception {
        assumeTrue(mount != null, "FUSE is not available here");
        Random random = TestSeed.random("ReadPathFuseIT.cut");
        byte[] old = new byte[2 * MIB];
        random.nextBytes(old);
        writeThroughWriter("/cut", old);
        Path f = mnt.resolve("cut");
        Path oldRef = Files.write(tmp.resolve("cut.old"), old);
        sh("cmp " + f + " " + oldRef);
        sh("cmp " + f + " " + oldRef); // cached now, in the kernel and the reader's metadata cache
        byte[] fresh = old.clone();
        fresh[12345] ^= 0x5a;
        Path freshRef = Files.write(tmp.resolve("cut.new"), fresh);
        FaultyNetwork net = cluster.network();
        net.cutRemote();
        try {
            // completes once the reader's lease ran out at the leader (it cannot acknowledge)
            writeThroughWriter("/cut", fresh);
            Path out = tmp.resolve("cut.out");
            Files.deleteIfExists(out);
            int status = run("timeout 30 cat " + f + " > " + out);
            byte[] seen = Files.exists(out) ? Files.readAllBytes(out) : new byte[0];
            assertThat(status != 0 || Arrays.equals(seen, fresh))
                    .as(
                            "cut off, the reader either fails (status %d) or answers the new content; got %d bytes, the"
                                    + " old content: %s",
                            status, seen.length, Arrays.equals(seen, old))
                    .isTrue();
            assertThat(seen).as("never the old content from the cache").isNotEqualTo(old);
        } finally {
            net.heal();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (run("cmp -s " + f + " " + freshRef) != 0) {
            assertThat(System.nanoTime() - deadline)
                    .as("new content once healed")
                    .isNegative();
            Thread.sleep(200); // polling a condition with a deadline
        }
    }
}
