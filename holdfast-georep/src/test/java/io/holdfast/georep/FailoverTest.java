package io.holdfast.georep;

import static io.holdfast.georep.Trees.assertSameTree;
import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promote, reverse and failback against a fake feed over local directories: the baseline
 * manifest, the delta from the promoted copy to the old primary, every kind of conflict, a pass
 * killed at every operation and rerun, a rerun with nothing changed, and the re-based session.
 */
class FailoverTest {
    static final String SUFFIX = ReverseReport.CONFLICT_SUFFIX;

    @TempDir
    Path base;

    Path src;
    Path dst;
    FakeFeed feed;
    SourceTree tree;
    GeoOptions options;

    @BeforeEach
    void setUp() throws IOException {
        src = Files.createDirectory(base.resolve("src"));
        dst = Files.createDirectory(base.resolve("dst"));
        feed = new FakeFeed();
        tree = new SourceTree(src, feed);
        options = GeoOptions.defaults("test").withFsync(false).withRetries(3, 1, 4);
    }

    static final Failover.PrimaryProbe DOWN = () -> null;

    Failover.Promotion promote() throws IOException {
        return Failover.promote(dst, "test", DOWN, false, false, InstantSource.system());
    }

    static String read(Path p) throws IOException {
        return Files.readString(p, UTF_8);
    }

    static long ino(Path p) throws IOException {
        return ((Number) Files.getAttribute(p, "unix:ino", NOFOLLOW_LINKS)).longValue();
    }

    // ---- manifest

    @Test
    void aManifestRecordsEveryEntryAndReadsBackIncludingHostileNamesAndRefusesCorruptFiles() throws Exception {
        Files.createDirectories(dst.resolve("d/e"));
        Files.writeString(dst.resolve("d/a\tb\nc%d"), "x");
        Files.createSymbolicLink(dst.resolve("d/link"), Path.of("a\tb%0A"));
        Files.writeString(dst.resolve(TargetSync.TEMP_PREFIX + "1"), "left by a crash");
        Files.createDirectories(dst.resolve(StateFile.DIR));
        Files.writeString(dst.resolve(StateFile.DIR).resolve("state"), "not scanned");

        Manifest m = Manifest.scan(dst);

        assertThat(m.entries().keySet()).containsExactly("d", "d/a\tb\nc%d", "d/e", "d/link");
        Manifest.Entry f = m.entries().get("d/a\tb\nc%d");
        assertThat(f.inode()).isEqualTo(ino(dst.resolve("d/a\tb\nc%d")));
        assertThat(f.size()).isEqualTo(1);
        assertThat(f.ctime()).isPositive();
        assertThat(m.entries().get("d/link").link()).isEqualTo("a\tb%0A");
        Path file = dst.resolve(StateFile.DIR).resolve(Manifest.fileName(1));
        m.write(file, true);
        assertThat(Manifest.read(file).entries()).isEqualTo(m.entries());

        String text = read(file);
        Files.writeString(file, text.replace("\t1\t", "\t2\t"));
        assertThatThrownBy(() -> Manifest.read(file))
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("checksum");
        Files.writeString(file, text.substring(0, text.length() - 5));
        assertThatThrownBy(() -> Manifest.read(file)).isInstanceOf(GeoStateException.class);
        Files.writeString(file, "holdfast-georep-manifest\nversion=1\n" + "x".repeat(Manifest.MAX_LINE + 1) + "\n");
        assertThatThrownBy(() -> Manifest.read(file))
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("longer than");
        Files.writeString(file, "holdfast-georep-manifest\nversion=9\n");
        assertThatThrownBy(() -> Manifest.read(file))
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("unknown");
    }

    @Test
    void aPlainStateFileStaysVersionOneAndAPromotedOneReadsBack() throws Exception {
        StateFile.State plain = new StateFile.State("s", 5, 6, 7, false);
        assertThat(StateFile.format(plain)).contains("version=1\n").doesNotContain("promoted");
        StateFile.State promoted =
                new StateFile.State("s", 5, 6, 7, false, new StateFile.Promoted(8, 5, 6, 9, Manifest.fileName(3)));
        assertThat(StateFile.format(promoted)).contains("version=2\n");
        assertThat(StateFile.parse("x", StateFile.format(promoted))).isEqualTo(promoted);
        assertThat(StateFile.parse("x", StateFile.format(plain))).isEqualTo(plain);
    }

    // ---- promote

    @Test
    void promoteIsRefusedWhileThePrimaryAnswersAndChangesNothingThenForceRecordsTheSplitAndAWorkerRefuses()
            throws Exception {
        tree.mkdir("/a");
        tree.write("/a/one", "one");
        new GeoReplicator(feed, src, dst, options).runOnce();
        Path state = dst.resolve(StateFile.DIR).resolve(StateFile.NAME);
        String before = read(state);
        StateFile.State recorded = new StateFile(dst, false).read();

        assertThatThrownBy(() ->
                        Failover.promote(dst, "test", Failover.feedProbe(feed), false, false, InstantSource.system()))
                .isInstanceOf(PrimaryReachableException.class)
                .hasMessageContaining("still reachable")
                .hasMessageContaining("Nothing was changed");
        assertThat(read(state)).isEqualTo(before);
        assertThat(dst.resolve(StateFile.DIR).resolve(Manifest.fileName(1))).doesNotExist();
        assertThatThrownBy(() -> Failover.promote(dst, "other", DOWN, true, false, InstantSource.system()))
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("belongs to session 'test'");

        Failover.Promotion p =
                Failover.promote(dst, "test", Failover.feedProbe(feed), true, false, InstantSource.system());

        assertThat(p.already()).isFalse();
        assertThat(p.splitIndex()).isEqualTo(feed.appliedIndex());
        assertThat(p.splitCommitNanos()).isEqualTo(recorded.commitNanos());
        assertThat(p.baselineEntries()).isEqualTo(2);
        assertThat(Failover.promotion(dst))
                .get()
                .extracting(Failover.Promotion::splitIndex)
                .isEqualTo(p.splitIndex());
        assertThat(Failover.promote(dst, "test", Failover.feedProbe(feed), false, false, InstantSource.system())
                        .already())
                .isTrue();
        assertThatThrownBy(() -> new GeoReplicator(feed, src, dst, options).runOnce())
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("promoted to primary");
        assertThat(read(dst.resolve("a/one"))).isEqualTo("one");
    }

    @Test
    void promoteNeedsAReplicatedTargetAndNoRunningWorker() throws Exception {
        assertThatThrownBy(this::promote)
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("nothing was replicated");
        tree.write("/f", "f");
        GeoReplicator r = new GeoReplicator(feed, src, dst, options.withWaitMillis(50));
        r.runOnce();
        Thread worker = Thread.ofPlatform().start(() -> {
            try {
                r.run();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (r.status().phase() != GeoStatus.Phase.TAILING && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(r.status().phase()).isEqualTo(GeoStatus.Phase.TAILING);
            assertThatThrownBy(this::promote)
                    .isInstanceOf(GeoStateException.class)
                    .hasMessageContaining("in use");
        } finally {
            r.stop();
            worker.join();
        }
        assertThat(promote().already()).isFalse();
    }

    @Test
    void theWorkersLockMakesNoMissingTarget() throws Exception {
        Path missing = base.resolve("missing");
        assertThatThrownBy(() -> new GeoReplicator(feed, src, missing, options).runOnce())
                .isInstanceOf(NotDirectoryException.class);
        assertThat(missing).doesNotExist();
    }

    // ---- reverse

    /**
     * The tree replicated, promoted, then changed on both sides: every kind of conflict, a directory
     * renamed at the copy while the primary adds to it, changes on one side only.
     */
    void scenario() throws Exception {
        tree.mkdir("/a");
        tree.write("/a/keep.txt", "keep");
        tree.write("/a/both.txt", "base");
        tree.write("/a/drdel.txt", "dr deletes me");
        tree.write("/a/pdel.txt", "primary deletes me");
        tree.write("/a/ren.txt", "renamed at the copy");
        tree.write("/a/renonly.txt", "renamed at the copy only");
        tree.mkdir("/dir");
        tree.write("/dir/f1", "f1");
        tree.write("/typ", "a file that becomes a directory at the copy");
        tree.write("/drmod.txt", "m");
        tree.write("/pmod.txt", "p");
        tree.mkdir("/deldir");
        tree.write("/deldir/x", "x");
        new GeoReplicator(feed, src, dst, options).runOnce();
        assertSameTree(src, dst);
        promote();

        // the copy, now primary
        Files.writeString(dst.resolve("a/both.txt"), "dr version");
        Files.delete(dst.resolve("a/drdel.txt"));
        Files.writeString(dst.resolve("a/pdel.txt"), "dr changed it");
        Files.createDirectory(dst.resolve("b"));
        Files.move(dst.resolve("a/ren.txt"), dst.resolve("b/renamed.txt"));
        Files.move(dst.resolve("a/renonly.txt"), dst.resolve("b/renonly.txt"));
        Files.move(dst.resolve("dir"), dst.resolve("dir2"));
        Files.delete(dst.resolve("typ"));
        Files.createDirectory(dst.resolve("typ"));
        Files.writeString(dst.resolve("typ/inner"), "inner");
        Files.writeString(dst.resolve("same.txt"), "dr's new file");
        Files.writeString(dst.resolve("eq.txt"), "equal on both sides");
        Files.writeString(dst.resolve("drmod.txt"), "modified at the copy");
        Files.writeString(dst.resolve("drnew.txt"), "new at the copy");
        Files.delete(dst.resolve("deldir/x"));
        Files.delete(dst.resolve("deldir"));

        // the old primary, meanwhile
        tree.write("/a/both.txt", "primary version");
        tree.write("/a/drdel.txt", "primary changed it");
        tree.unlink("/a/pdel.txt");
        tree.write("/a/ren.txt", "primary changed the renamed file");
        tree.write("/dir/pnew", "added at the primary");
        tree.write("/typ", "primary changed the file");
        tree.write("/same.txt", "primary's new file");
        tree.write("/eq.txt", "equal on both sides");
        tree.write("/pmod.txt", "modified at the primary");
    }

    /** The old primary after the reverse pass of {@link #scenario}. */
    void assertReversed(long base) throws IOException {
        String s = SUFFIX + base;
        Map<String, String> want = new TreeMap<>();
        want.put("a/keep.txt", "keep");
        want.put("a/both.txt", "dr version");
        want.put("a/both.txt" + s, "primary version");
        want.put("a/drdel.txt" + s, "primary changed it");
        want.put("a/pdel.txt", "dr changed it");
        want.put("a/ren.txt" + s, "primary changed the renamed file");
        want.put("b/renamed.txt", "renamed at the copy");
        want.put("b/renonly.txt", "renamed at the copy only");
        want.put("dir2/f1", "f1");
        want.put("dir2/pnew", "added at the primary");
        want.put("typ/inner", "inner");
        want.put("typ" + s, "primary changed the file");
        want.put("same.txt", "dr's new file");
        want.put("same.txt" + s, "primary's new file");
        want.put("eq.txt", "equal on both sides");
        want.put("drmod.txt", "modified at the copy");
        want.put("drnew.txt", "new at the copy");
        want.put("pmod.txt", "modified at the primary");
        assertThat(files(src)).isEqualTo(want);
        assertThat(Trees.temporaries(src)).isEmpty();
        // the copy's versions arrive with their times and modes
        for (String p : List.of("a/both.txt", "b/renamed.txt", "drmod.txt", "typ/inner")) {
            assertThat(Files.getLastModifiedTime(src.resolve(p))).isEqualTo(Files.getLastModifiedTime(dst.resolve(p)));
        }
    }

    static Map<String, String> files(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (var s = Files.walk(root)) {
            for (Path p : s.toList()) {
                String rel = root.relativize(p).toString();
                if (Files.isRegularFile(p, NOFOLLOW_LINKS) && !rel.startsWith(StateFile.DIR + "/")) {
                    out.put(rel, read(p));
                }
            }
        }
        return out;
    }

    static void assertConflicts(ReverseReport r, long base) {
        String s = SUFFIX + base;
        assertThat(r.conflicts())
                .extracting(c -> c.path() + " | " + c.dr() + " | " + c.primaryCopy())
                .containsExactly(
                        "/a/both.txt | modified | /a/both.txt" + s,
                        "/a/drdel.txt | deleted | /a/drdel.txt" + s,
                        "/a/pdel.txt | modified | null",
                        "/a/ren.txt | renamed to /b/renamed.txt | /a/ren.txt" + s,
                        "/same.txt | new | /same.txt" + s,
                        "/typ | type changed | /typ" + s);
    }

    @Test
    void reverseAppliesTheCopysChangesAsADeltaAndResolvesEveryKindOfConflict() throws Exception {
        scenario();
        long split = Failover.promotion(dst).orElseThrow().splitIndex();
        ReverseReport dry = Failover.reverse(feed, src, dst, options, true);
        assertThat(dry.dryRun()).isTrue();
        assertConflicts(dry, split);
        assertThat(read(src.resolve("a/both.txt"))).isEqualTo("primary version"); // nothing applied
        assertThat(dst.resolve(StateFile.DIR).resolve(ReversePlan.NAME)).doesNotExist();
        long renamedDirInode = ino(src.resolve("dir"));

        ReverseReport r = Failover.reverse(feed, src, dst, options, false);

        System.out.print(r.toText());
        System.out.println(r.toJson());
        assertThat(r.primarySource()).isEqualTo("feed");
        assertThat(r.baseIndex()).isEqualTo(split);
        assertConflicts(r, split);
        assertThat(r.renames()).isEqualTo(2); // b/renonly.txt and dir -> dir2 (with its contents)
        assertReversed(split);
        assertThat(ino(src.resolve("dir2")))
                .as("a directory rename is one rename")
                .isEqualTo(renamedDirInode);
        assertThat(src.resolve("deldir")).doesNotExist();
        assertThat(Failover.lastReport(dst, false)).get().isEqualTo(r.toText());
        assertThat(Failover.lastReport(dst, true)).get().isEqualTo(r.toJson() + "\n");
        assertThat(r.toJson()).contains("\"primaryCopy\":\"/a/both.txt" + SUFFIX + split + "\"");
        assertThat(Failover.promotion(dst).orElseThrow().baseIndex()).isEqualTo(feed.appliedIndex());
        assertThat(Files.list(dst.resolve(StateFile.DIR))
                        .map(p -> p.getFileName().toString()))
                .contains(Manifest.fileName(2))
                .doesNotContain(Manifest.fileName(1), ReversePlan.NAME, ReversePlan.PROGRESS);

        // a rerun with nothing changed applies nothing
        Map<String, String> after = Trees.describe(src);
        ReverseReport again = Failover.reverse(feed, src, dst, options, false);
        assertThat(again.applied()).isZero();
        assertThat(again.conflicts()).isEmpty();
        assertThat(Trees.describe(src)).isEqualTo(after);

        // a later change at the copy travels alone; the conflict suffix names the new base
        Files.writeString(dst.resolve("drnew.txt"), "changed again");
        Files.writeString(dst.resolve("a/keep.txt"), "the copy's keep");
        tree.write("/a/keep.txt", "the primary's keep");
        long base2 = Failover.promotion(dst).orElseThrow().baseIndex();
        ReverseReport third = Failover.reverse(feed, src, dst, options, false);
        assertThat(third.puts()).isEqualTo(2);
        assertThat(third.conflicts())
                .extracting(ReverseReport.Conflict::primaryCopy)
                .containsExactly("/a/keep.txt" + SUFFIX + base2);
        assertThat(read(src.resolve("drnew.txt"))).isEqualTo("changed again");
        assertThat(read(src.resolve("a/keep.txt"))).isEqualTo("the copy's keep");
        assertThat(read(src.resolve("a/keep.txt" + SUFFIX + base2))).isEqualTo("the primary's keep");
    }

    @Test
    void aConflictCopyNameThatIsTakenGetsANumber() throws Exception {
        tree.write("/f", "base");
        new GeoReplicator(feed, src, dst, options).runOnce();
        long split = promote().splitIndex();
        Files.writeString(dst.resolve("f"), "dr");
        tree.write("/f", "primary");
        tree.write("/f" + SUFFIX + split, "someone's file of that name");

        ReverseReport r = Failover.reverse(feed, src, dst, options, false);

        assertThat(r.conflicts())
                .extracting(ReverseReport.Conflict::primaryCopy)
                .containsExactly("/f" + SUFFIX + split + "-2");
        assertThat(read(src.resolve("f" + SUFFIX + split + "-2"))).isEqualTo("primary");
        assertThat(read(src.resolve("f" + SUFFIX + split))).isEqualTo("someone's file of that name");
        assertThat(read(src.resolve("f"))).isEqualTo("dr");
    }

    @Test
    void aConflictCopyThatCannotBeMadeStopsThePassAndLosesNothing() throws Exception {
        String name = "/" + "n".repeat(250); // no room for the conflict suffix in a 255-byte name
        tree.write(name, "base");
        new GeoReplicator(feed, src, dst, options).runOnce();
        promote();
        Files.writeString(dst.resolve(name.substring(1)), "dr");
        tree.write(name, "primary");

        assertThatThrownBy(() -> Failover.reverse(feed, src, dst, options, false))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("too long");

        assertThat(read(src.resolve(name.substring(1)))).isEqualTo("primary");
        assertThat(Failover.promotion(dst).orElseThrow().baseIndex())
                .as("the pass did not complete")
                .isEqualTo(Failover.promotion(dst).orElseThrow().splitIndex());
    }

    @Test
    void whenTheFeedNoLongerHoldsTheSplitThePrimarysTreeIsComparedWithTheBaseline() throws Exception {
        scenario();
        long split = Failover.promotion(dst).orElseThrow().splitIndex();
        feed.trimThrough(feed.appliedIndex());

        ReverseReport r = Failover.reverse(feed, src, dst, options, false);

        assertThat(r.primarySource()).isEqualTo("tree");
        assertConflicts(r, split);
        assertReversed(split);
    }

    @Test
    void aPassKilledAtAnyOperationFinishesWithTheSameResultWhenRunAgain() throws Exception {
        scenario();
        long split = Failover.promotion(dst).orElseThrow().splitIndex();
        int ops = new ReversePass(feed, src, dst, options)
                .plan(new StateFile(dst, false).read().promoted())
                .ops()
                .size();
        assertThat(ops).isGreaterThan(10);
        List<Integer> killedAt = new ArrayList<>();
        for (int kill = 0; kill < ops; kill += 3) {
            Path run = Files.createDirectory(base.resolve("run" + kill));
            src = Files.createDirectory(run.resolve("src"));
            dst = Files.createDirectory(run.resolve("dst"));
            feed = new FakeFeed();
            tree = new SourceTree(src, feed);
            scenario();
            ReversePass pass = new ReversePass(feed, src, dst, options);
            int at = kill;
            AtomicInteger seen = new AtomicInteger();
            pass.beforeOp = op -> {
                seen.incrementAndGet();
                if (op == at) {
                    throw new IOException("killed before operation " + at);
                }
            };
            assertThatThrownBy(() -> Failover.reverseLocked(pass, dst, options, false))
                    .hasMessageContaining("killed");
            killedAt.add(kill);
            assertThat(dst.resolve(StateFile.DIR).resolve(ReversePlan.NAME)).exists();

            ReverseReport r = Failover.reverse(feed, src, dst, options, false);

            assertThat(r.resumed()).isTrue();
            assertConflicts(r, split);
            assertReversed(split);
            assertThat(Failover.reverse(feed, src, dst, options, false).applied())
                    .isZero();
        }
        assertThat(killedAt).isNotEmpty();
    }

    // ---- failback

    @Test
    void failbackRebasesAtTheSplitAndTheWorkerResumesWithoutAFullSync() throws Exception {
        scenario();
        long split = Failover.promotion(dst).orElseThrow().splitIndex();
        Failover.reverse(feed, src, dst, options, false);
        Files.writeString(dst.resolve("late.txt"), "written at the copy before it was quiesced");

        Failover.Failback f = Failover.failback(feed, src, dst, options);

        assertThat(f.rebasedAt()).isEqualTo(split);
        assertThat(f.lastPass().puts()).isEqualTo(1);
        assertThat(read(src.resolve("late.txt"))).isEqualTo("written at the copy before it was quiesced");
        assertThat(Failover.promotion(dst)).isEmpty();
        StateFile.State s = new StateFile(dst, false).read();
        assertThat(s.index()).isEqualTo(split);
        assertThat(StateFile.format(s)).contains("version=1\n");
        GeoReplicator r = new GeoReplicator(feed, src, dst, options);
        r.runOnce();
        assertThat(r.status().resyncs()).isZero();
        assertThat(r.status().position()).isEqualTo(feed.appliedIndex());
        assertThat(read(dst.resolve("pmod.txt"))).isEqualTo("modified at the primary");
        assertThatThrownBy(() -> Failover.reverse(feed, src, dst, options, false))
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("not promoted");
    }
}
