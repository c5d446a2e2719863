package io.holdfast.georep;

import static io.holdfast.georep.Trees.assertSameTree;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stops, crashes and readers: a worker stopped at a random point or killed between applying a page
 * and recording it resumes and ends equal; a reader at the target never sees part of a file; a
 * randomized workload (seeded; the seed is printed) interleaved with runs, crashes and trimmed
 * history ends with equal trees.
 */
class GeoReplicatorResumeTest {
    @TempDir
    Path base;

    Path src;
    Path dst;
    FakeFeed feed;
    SourceTree tree;
    GeoOptions options;

    /** What a kill -9 between applying a page and recording it looks like to the worker. */
    static final class Crash extends RuntimeException {
        Crash() {
            super("simulated crash before the position was recorded");
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        src = Files.createDirectory(base.resolve("src"));
        dst = Files.createDirectory(base.resolve("dst"));
        feed = new FakeFeed();
        tree = new SourceTree(src, feed);
        options = GeoOptions.defaults("resume").withFsync(false).withRetries(3, 1, 4);
    }

    long recordedIndex() throws IOException {
        StateFile.State s = new StateFile(dst, false).read();
        return s == null ? -1 : s.index();
    }

    @Test
    void aCrashBetweenApplyingAPageAndRecordingItIsRepairedByTheNextRun() throws Exception {
        tree.mkdir("/d");
        tree.write("/d/a", "a");
        GeoReplicator first = new GeoReplicator(feed, src, dst, options);
        first.runOnce();
        long before = recordedIndex();

        tree.write("/d/b", "b");
        tree.rename("/d", "/e");
        tree.mkdir("/d");
        tree.write("/d/c", "c");
        tree.unlink("/e/a");
        GeoReplicator crashing = new GeoReplicator(feed, src, dst, options);
        crashing.beforeRecord = () -> {
            throw new Crash();
        };
        assertThatThrownBy(crashing::runOnce).isInstanceOf(Crash.class);
        assertThat(recordedIndex()).as("the position was not recorded").isEqualTo(before);
        // a crash in the middle of a copy leaves a temporary name in a directory the page touches
        Files.writeString(dst.resolve("d").resolve(TargetSync.TEMP_PREFIX + "7f"), "half a file");

        GeoReplicator resumed = new GeoReplicator(feed, src, dst, options);
        resumed.runOnce();

        assertSameTree(src, dst);
        assertThat(recordedIndex()).isEqualTo(feed.appliedIndex());
        assertThat(Trees.temporaries(dst)).isEmpty();
        assertThat(resumed.status().resyncs())
                .as("no full synchronisation after a crash")
                .isZero();
    }

    @Test
    void aCrashAfterSplittingAHardLinkedFileIsFollowedByAComparisonOfTheTree() throws Exception {
        tree.write("/x", "old content");
        tree.link("/x", "/y");
        tree.write("/z", "another file");
        new GeoReplicator(feed, src, dst, options).runOnce();
        long before = recordedIndex();

        tree.append("/x", ", new through x", false); // y shares it
        tree.rename("/z", "/x"); // x names another file now: only y is left of the changed one
        GeoReplicator crashing = new GeoReplicator(feed, src, dst, options); // knows no names of the file
        crashing.beforeRecord = () -> {
            throw new Crash();
        };
        assertThatThrownBy(crashing::runOnce).isInstanceOf(Crash.class);
        StateFile.State state = new StateFile(dst, false).read();
        assertThat(state.index()).isEqualTo(before);
        assertThat(state.compareTree())
                .as("the need to compare was recorded before the split")
                .isTrue();

        GeoReplicator resumed = new GeoReplicator(feed, src, dst, options);
        resumed.runOnce();

        assertSameTree(src, dst);
        assertThat(Files.readString(dst.resolve("y"))).isEqualTo("old content, new through x");
        assertThat(resumed.status().treeCompares()).isEqualTo(1);
        assertThat(new StateFile(dst, false).read().compareTree()).isFalse();
    }

    @Test
    void aCrashDuringTheFirstFullSyncStartsItAgain() throws Exception {
        for (int i = 0; i < 10; i++) {
            tree.write("/f" + i, "file " + i);
        }
        GeoReplicator crashing = new GeoReplicator(feed, src, dst, options);
        crashing.beforeRecord = () -> {
            throw new Crash();
        };
        assertThatThrownBy(crashing::runOnce).isInstanceOf(Crash.class);
        assertThat(recordedIndex()).isEqualTo(-1);
        tree.write("/f3", "changed meanwhile");

        GeoReplicator resumed = new GeoReplicator(feed, src, dst, options);
        resumed.runOnce();

        assertSameTree(src, dst);
        assertThat(resumed.status().resyncs()).isEqualTo(1);
        assertThat(resumed.status().filesCopied()).as("only f3 differs").isEqualTo(1);
    }

    @Test
    void stoppedAtRandomPointsWhileTheSourceChangesItResumesAndEndsEqual() throws Exception {
        Random random = TestSeed.random("georep-stop");
        Workload work = new Workload(tree, random);
        GeoOptions tailing = options.withWaitMillis(20).withMaxRecords(3);
        for (int round = 0; round < 6; round++) {
            GeoReplicator r = new GeoReplicator(feed, src, dst, tailing);
            CountDownLatch started = new CountDownLatch(1);
            List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
            Thread worker = Thread.ofPlatform().name("georep-test-" + round).start(() -> {
                started.countDown();
                try {
                    r.run();
                } catch (Throwable t) {
                    failures.add(t);
                }
            });
            assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
            int ops = 10 + random.nextInt(40);
            int stopAt = random.nextInt(ops);
            for (int i = 0; i < ops; i++) {
                if (i == stopAt) {
                    r.stop();
                }
                work.step();
            }
            r.stop();
            worker.join(TimeUnit.SECONDS.toMillis(30));
            tree.history.add("-- stopped, position " + recordedIndex());
            assertThat(worker.isAlive()).as("run() returned after stop()").isFalse();
            assertThat(failures).isEmpty();
            assertThat(r.status().phase()).isEqualTo(GeoStatus.Phase.STOPPED);
            assertThat(recordedIndex()).isLessThanOrEqualTo(feed.appliedIndex());
        }
        GeoReplicator last = new GeoReplicator(feed, src, dst, options);
        last.runOnce();
        if (!Trees.describe(src).equals(Trees.describe(dst))) {
            System.out.println(String.join("\n", tree.history));
        }
        assertSameTree(src, dst);
        assertThat(Trees.temporaries(dst)).isEmpty();
        assertThat(last.status().resyncs()).isZero();
    }

    @Test
    void aReaderAtTheTargetNeverSeesAPartialFile() throws Exception {
        int size = 2 << 20;
        tree.write("/big", filled(size, (byte) 'a'));
        GeoOptions paced = options.withBytesPerSecond(16L << 20); // a copy takes about 125 ms
        GeoReplicator r = new GeoReplicator(feed, src, dst, paced);
        r.runOnce();
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger reads = new AtomicInteger();
        List<String> torn = Collections.synchronizedList(new ArrayList<>());
        Path target = dst.resolve("big");
        Thread reader = Thread.ofPlatform().name("georep-reader").start(() -> {
            while (!done.get()) {
                try {
                    byte[] b = Files.readAllBytes(target);
                    reads.incrementAndGet();
                    if (b.length != size || !uniform(b)) {
                        torn.add("read " + b.length + " bytes, uniform " + uniform(b));
                    }
                } catch (IOException e) {
                    torn.add(e.toString());
                }
            }
        });
        try {
            for (char v = 'b'; v <= 'f'; v++) {
                tree.write("/big", filled(size, (byte) v));
                r.runOnce();
            }
        } finally {
            done.set(true);
            reader.join(TimeUnit.SECONDS.toMillis(30));
        }
        assertThat(torn).isEmpty();
        assertThat(reads.get()).as("the reader ran during the copies").isGreaterThan(5);
        assertThat(Files.readAllBytes(target)[0]).isEqualTo((byte) 'f');
        assertThat(r.status().filesCopied()).isEqualTo(6);
    }

    static byte[] filled(int size, byte v) {
        byte[] b = new byte[size];
        Arrays.fill(b, v);
        return b;
    }

    static boolean uniform(byte[] b) {
        for (byte x : b) {
            if (x != b[0]) {
                return false;
            }
        }
        return true;
    }

    @Test
    void randomizedWorkloadWithRunsCrashesAndTrimmedHistoryEndsEqual() throws Exception {
        Random random = TestSeed.random("georep-random");
        Workload work = new Workload(tree, random);
        GeoReplicator r = new GeoReplicator(feed, src, dst, options.withMaxRecords(1 + random.nextInt(8)));
        int crashes = 0;
        int trims = 0;
        for (int i = 0; i < 600; i++) {
            work.step();
            int dice = random.nextInt(100);
            if (dice < 8) {
                r.runOnce();
                tree.history.add("-- runOnce, position " + recordedIndex());
                if (!Trees.describe(src).equals(Trees.describe(dst))) {
                    System.out.println(String.join("\n", tree.history));
                    assertSameTree(src, dst); // caught up and the source stood still: equal now
                }
            } else if (dice < 10) {
                GeoReplicator crashing =
                        new GeoReplicator(feed, src, dst, options.withMaxRecords(1 + random.nextInt(8)));
                int pagesBeforeCrash = random.nextInt(3);
                AtomicInteger pages = new AtomicInteger();
                crashing.beforeRecord = () -> {
                    if (pages.getAndIncrement() == pagesBeforeCrash) {
                        throw new Crash();
                    }
                };
                try {
                    crashing.runOnce();
                } catch (Crash expected) {
                    crashes++;
                }
                tree.history.add("-- crash after " + pagesBeforeCrash + " pages, position " + recordedIndex());
                r = new GeoReplicator(feed, src, dst, options.withMaxRecords(1 + random.nextInt(8)));
            } else if (dice < 11) {
                long trim = feed.appliedIndex() - random.nextInt(5);
                feed.trimThrough(trim);
                tree.history.add("-- trimmed through " + trim);
                trims++;
            }
        }
        GeoReplicator last = new GeoReplicator(feed, src, dst, options);
        last.runOnce();
        System.out.println("randomized georep: " + TestSeed.replay() + ", " + feed.appliedIndex() + " entries, "
                + crashes + " crashes, " + trims + " trims, ops " + work.counts());
        System.out.println(String.join("\n", tree.history));
        assertSameTree(src, dst);
        assertThat(Trees.temporaries(dst)).isEmpty();
        assertThat(recordedIndex()).isEqualTo(feed.appliedIndex());
    }
}
