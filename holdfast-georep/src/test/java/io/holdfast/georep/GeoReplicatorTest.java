package io.holdfast.georep;

import static io.holdfast.georep.Trees.assertSameTree;
import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.protocol.Change;
import io.holdfast.protocol.Change.Kind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replicator against a fake feed over a local source directory: full synchronisation, tailing
 * in order (renames as renames, deletes, hard links, symbolic links, FIFOs, modes, owners, times,
 * xattrs), the state file, retries, resynchronisation after trimmed history, and status.
 */
class GeoReplicatorTest {
    static final FileTime OLD = FileTime.from(Instant.parse("2001-02-03T04:05:06.123456789Z"));

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

    GeoReplicator replicator() {
        return new GeoReplicator(feed, src, dst, options);
    }

    static long ino(Path p) throws IOException {
        return ((Number) Files.getAttribute(p, "unix:ino", NOFOLLOW_LINKS)).longValue();
    }

    /** A tree with one of everything, made before the worker first runs (its records are in the feed too). */
    void populate() throws IOException {
        tree.mkdir("/d");
        tree.mkdir("/d/sub");
        tree.write("/d/a.txt", "alpha");
        tree.write("/d/sub/b.bin", new byte[300_000]);
        tree.write("/top.txt", "top");
        tree.chmod("/top.txt", 0640);
        tree.setMtime("/top.txt", OLD);
        tree.setXattr("/top.txt", "user.color", "blue");
        tree.link("/d/a.txt", "/d/sub/a-again.txt");
        tree.symlink("/link", "d/a.txt");
        tree.symlink("/dangling", "nowhere");
        tree.mkfifo("/fifo", 0600);
        tree.mkdir("/empty");
        tree.chmod("/empty", 0700);
    }

    @Test
    void fullSyncMakesTheTargetEqualAndRecordsTheFeedIndex() throws Exception {
        populate();
        Files.writeString(dst.resolve("stale.txt"), "not in the source");
        Files.createDirectories(dst.resolve("d/old/deeper"));
        GeoReplicator r = replicator();

        r.runOnce();

        assertSameTree(src, dst);
        GeoStatus s = r.status();
        assertThat(s.position()).isEqualTo(feed.appliedIndex());
        assertThat(s.resyncs()).isEqualTo(1);
        assertThat(s.filesCopied()).isEqualTo(3); // a.txt (with its second name linked), b.bin, top.txt
        assertThat(s.links()).isEqualTo(1);
        assertThat(s.deletes()).isEqualTo(2); // stale.txt, d/old
        assertThat(s.lagEntries()).isZero();
        assertThat(s.lagSeconds()).isZero();
        assertThat(ino(dst.resolve("d/a.txt"))).isEqualTo(ino(dst.resolve("d/sub/a-again.txt")));
        StateFile.State state = new StateFile(dst, false).read();
        assertThat(state.session()).isEqualTo("test");
        assertThat(state.index()).isEqualTo(feed.appliedIndex());
        assertThat(Trees.temporaries(dst)).isEmpty();
    }

    @Test
    void tailingAppliesCreatesWritesAndRenamesInOrderAndADirectoryRenameIsOneRename() throws Exception {
        populate();
        GeoReplicator r = replicator();
        r.runOnce();
        long inodeInside = ino(dst.resolve("d/sub/b.bin"));
        long copied = r.status().filesCopied();

        tree.mkdir("/new");
        tree.write("/new/n1", "first");
        tree.write("/new/n1", "first, rewritten");
        tree.rename("/new/n1", "/new/n2");
        tree.write("/tmpfile", "moved into place");
        tree.rename("/tmpfile", "/d/moved");
        tree.rename("/d", "/renamed"); // a directory with contents, moved at the source
        tree.append("/renamed/a.txt", " and more", false);
        tree.write("/top.txt", "top, replaced over an existing name");
        tree.rename("/top.txt", "/renamed/sub/b.bin"); // over an existing file
        r.runOnce();

        assertSameTree(src, dst);
        assertThat(ino(dst.resolve("renamed/sub/a-again.txt")))
                .as("a directory rename is a rename at the target: files inside keep their inodes")
                .isEqualTo(ino(dst.resolve("renamed/a.txt")));
        assertThat(Files.exists(dst.resolve("d"))).isFalse();
        assertThat(r.status().renames()).isGreaterThanOrEqualTo(2);
        // b.bin was replaced by a rename; the directory around it was renamed, not copied
        assertThat(ino(dst.resolve("renamed/sub"))).isNotZero();
        assertThat(r.status().filesCopied() - copied).isLessThanOrEqualTo(4);
        assertThat(inodeInside).isNotZero();
    }

    @Test
    void aDirectoryRenameKeepsTheInodesOfItsFiles() throws Exception {
        tree.mkdir("/maildir");
        tree.mkdir("/maildir/cur");
        for (int i = 0; i < 20; i++) {
            tree.write("/maildir/cur/m" + i, "message " + i);
        }
        GeoReplicator r = replicator();
        r.runOnce();
        long before = ino(dst.resolve("maildir/cur/m7"));
        long copied = r.status().filesCopied();

        tree.rename("/maildir", "/archive");
        r.runOnce();

        assertSameTree(src, dst);
        assertThat(ino(dst.resolve("archive/cur/m7"))).isEqualTo(before);
        assertThat(r.status().filesCopied()).isEqualTo(copied);
        assertThat(r.status().renames()).isEqualTo(1);
    }

    @Test
    void deletesOfFilesAndTrees() throws Exception {
        populate();
        GeoReplicator r = replicator();
        r.runOnce();

        tree.unlink("/top.txt");
        tree.removeTree("/d");
        tree.unlink("/fifo");
        tree.rmdir("/empty");
        r.runOnce();

        assertSameTree(src, dst);
        assertThat(Files.exists(dst.resolve("d"))).isFalse();
    }

    @Test
    void deleteOfADirectoryWithLeftoversAtTheTargetRemovesThemToo() throws Exception {
        tree.mkdir("/x");
        GeoReplicator r = replicator();
        r.runOnce();
        Files.writeString(dst.resolve("x/leftover"), "only at the target");

        tree.rmdir("/x");
        r.runOnce();

        assertSameTree(src, dst);
    }

    @Test
    void hardLinksAndSymbolicLinksWhileTailing() throws Exception {
        GeoReplicator r = replicator();
        r.runOnce();

        tree.write("/orig", "shared content");
        tree.mkdir("/dir");
        tree.link("/orig", "/dir/second");
        tree.link("/orig", "/third");
        tree.symlink("/sl", "orig");
        tree.symlink("/dir/up", "../third");
        r.runOnce();
        assertSameTree(src, dst);
        assertThat(ino(dst.resolve("orig"))).isEqualTo(ino(dst.resolve("dir/second")));

        tree.append("/third", " grown through one name", false);
        tree.unlink("/orig");
        tree.unlink("/sl");
        tree.symlink("/sl", "dir/second"); // re-pointed
        r.runOnce();

        assertSameTree(src, dst);
        assertThat(ino(dst.resolve("third"))).isEqualTo(ino(dst.resolve("dir/second")));
    }

    @Test
    void modesOwnersTimesAndXattrsWhileTailing() throws Exception {
        populate();
        GeoReplicator r = replicator();
        r.runOnce();
        long copied = r.status().filesCopied();

        tree.chmod("/d/a.txt", 0604);
        tree.chmod("/d", 0751);
        tree.setMtime("/d/sub/b.bin", OLD);
        tree.setXattr("/d/a.txt", "user.tag", "x");
        tree.removeXattr("/top.txt", "user.color");
        tree.setXattr("/d", "user.dir", "yes");
        if (options.keepOwners()) {
            tree.chown("/top.txt", 1234, 5678);
            tree.chown("/link", 4321, 8765);
        }
        tree.setMtime("/link", OLD);
        r.runOnce();

        assertSameTree(src, dst);
        assertThat(r.status().filesCopied())
                .as("attribute changes copy no content")
                .isEqualTo(copied);
    }

    @Test
    void aTruncateByNameShowsAsSetattrAndStillChangesTheContent() throws Exception {
        tree.write("/f", "0123456789");
        GeoReplicator r = replicator();
        r.runOnce();

        Files.write(tree.path("/f"), "0123".getBytes(UTF_8)); // truncate(2) by name: a SETATTR record
        feed.append(List.of(Change.of(Kind.SETATTR, ino(tree.path("/f")), "/f")));
        r.runOnce();

        assertSameTree(src, dst);
    }

    @Test
    void aDataChangeWithoutANameIsFoundByInodeOrByComparingTheTree() throws Exception {
        tree.write("/known", "k");
        tree.mkdir("/dir");
        tree.write("/dir/inside", "i");
        GeoReplicator r = replicator();
        r.runOnce();

        tree.write("/known", "k2"); // a page names the inode
        r.runOnce();
        tree.append("/known", "+anonymous", true); // inode seen in the feed: its name is used
        r.runOnce();
        assertSameTree(src, dst);
        assertThat(r.status().treeCompares()).isZero();

        tree.rename("/dir", "/dir2");
        tree.append("/dir2/inside", "+anonymous too", true); // never named in a tailed page: not in the map
        long unknown = ino(tree.path("/dir2/inside")) + 1_000_000;
        feed.append(List.of(new Change(Kind.WRITE, unknown, null, null, 0, 1)));
        r.runOnce();

        assertSameTree(src, dst);
        assertThat(r.status().treeCompares())
                .as("a page with an unknown inode ends with a full comparison")
                .isEqualTo(1);
        assertThat(r.status().resyncs()).isEqualTo(1);
    }

    @Test
    void entriesWithoutRecordsAdvanceThePosition() throws Exception {
        tree.write("/f", "x");
        GeoReplicator r = replicator();
        r.runOnce();
        feed.appliedWithoutRecord();
        feed.appliedWithoutRecord();

        r.runOnce();

        assertThat(r.status().position()).isEqualTo(feed.appliedIndex());
        assertThat(new StateFile(dst, false).read().index()).isEqualTo(feed.appliedIndex());
    }

    @Test
    void feedFailuresAreRetriedAndThenReported() throws Exception {
        populate();
        List<IOException> told = new ArrayList<>();
        options = options.withListener(new GeoListener() {
            @Override
            public void retrying(IOException e, long retryMillis) {
                told.add(e);
            }
        });
        GeoReplicator r = replicator();
        feed.failNext(2);
        r.runOnce();
        assertSameTree(src, dst);
        assertThat(told).hasSize(2);
        assertThat(r.status().errors()).isEqualTo(2);

        long recorded = r.status().position();
        tree.write("/later", "after the cut");
        feed.failNext(10);
        assertThatThrownBy(r::runOnce).isInstanceOf(IOException.class).hasMessageContaining("link");
        assertThat(new StateFile(dst, false).read().index()).isEqualTo(recorded);

        feed.failNext(0); // the link is back
        r.runOnce();
        assertSameTree(src, dst);
    }

    @Test
    void trimmedHistoryForcesAFullSyncThatCopiesOnlyTheDifferingFiles() throws Exception {
        for (int i = 0; i < 30; i++) {
            tree.write("/f" + i, "content of file " + i);
        }
        GeoReplicator r = replicator();
        r.runOnce();
        assertThat(r.status().filesCopied()).isEqualTo(30);

        // an outage: the worker is not running while these happen, and the feed forgets them
        tree.write("/f1", "content of file X"); // same size, new time: compared, copied
        tree.write("/f2", "changed and longer");
        tree.write("/f3", "content of file 3"); // same content written again: compared, not copied
        tree.unlink("/f4");
        tree.write("/new1", "n1");
        tree.write("/new2", "n2");
        tree.rename("/f5", "/f5-renamed"); // the full sync cannot see renames: a copy
        feed.trimThrough(feed.appliedIndex());
        long copied = r.status().filesCopied();

        GeoReplicator again = replicator(); // a restart after the outage
        again.runOnce();

        assertSameTree(src, dst);
        assertThat(again.status().resyncs()).isEqualTo(1);
        assertThat(again.status().filesCopied())
                .as("f1, f2, new1, new2, f5-renamed")
                .isEqualTo(5);
        assertThat(again.status().position()).isEqualTo(feed.appliedIndex());
        assertThat(copied).isEqualTo(30);
    }

    @Test
    void statusReportsLagWhileRecordsArePending() throws Exception {
        tree.write("/a", "a");
        long first = feed.appliedIndex();
        Instant now = Instant.ofEpochSecond(0, FakeFeed.timeOf(first)).plusSeconds(3);
        options = options.withClock(InstantSource.fixed(now)).withMaxRecords(1);
        GeoReplicator r = replicator();
        r.runOnce();
        tree.write("/b", "b");
        tree.write("/c", "c");
        List<GeoStatus> seen = new ArrayList<>();
        options = options.withListener(new GeoListener() {
            @Override
            public void pageApplied(int records, GeoStatus status) {
                seen.add(status);
            }
        });
        GeoReplicator paged = replicator();
        paged.runOnce();

        assertThat(seen).hasSizeGreaterThanOrEqualTo(2);
        GeoStatus mid = seen.getFirst();
        assertThat(mid.lagEntries()).isPositive();
        assertThat(mid.lagSeconds()).isGreaterThan(2.9).isLessThan(3.1);
        assertThat(paged.status().lagEntries()).isZero();
        assertThat(paged.status().lagSeconds()).isZero();
        assertThat(paged.status().commitNanos()).isEqualTo(FakeFeed.timeOf(feed.appliedIndex()));
    }

    @Test
    void aTargetOfAnotherSessionOrWithABadStateFileIsRefusedAndLeftAlone() throws Exception {
        tree.write("/a", "a");
        replicator().runOnce();
        Files.writeString(dst.resolve("marker"), "operator's file");

        GeoReplicator sameSession = new GeoReplicator(feed, src, dst, options.withRetries(0, 1, 1));
        GeoOptions otherSession = new GeoOptions(
                "other", 5, 0, 0, false, false, false, 0, 1, 1, InstantSource.system(), GeoListener.NONE);
        assertThatThrownBy(() -> new GeoReplicator(feed, src, dst, otherSession).runOnce())
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("belongs to session 'test'");

        Path state = dst.resolve(StateFile.DIR).resolve(StateFile.NAME);
        Files.writeString(state, Files.readString(state).replace("index=", "index=9"));
        assertThatThrownBy(sameSession::runOnce)
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("corrupt");

        Files.writeString(
                state,
                StateFile.format(new StateFile.State("test", 1, 2, 3, false)).replace("version=1", "version=2"));
        assertThatThrownBy(() -> StateFile.parse("s", Files.readString(state)))
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("corrupt"); // the checksum no longer fits
        String newer = "holdfast-georep-state\nversion=3\nsession=test\nindex=1\ncommitNanos=2\nwrittenNanos=3\n";
        assertThat(StateFile.parse("s", StateFile.format(new StateFile.State("test", 1, 2, 3, false)))
                        .index())
                .isEqualTo(1);
        assertThatThrownBy(() -> StateFile.parse("s", withCrc(newer)))
                .isInstanceOf(GeoStateException.class)
                .hasMessageContaining("too new");
        assertThat(Files.readString(dst.resolve("marker"))).isEqualTo("operator's file");
    }

    private static String withCrc(String body) {
        CRC32C c = new CRC32C();
        c.update(body.getBytes(UTF_8));
        return body + "crc32c=" + HexFormat.of().toHexDigits((int) c.getValue()) + "\n";
    }

    /**
     * Mail deliveries (write tmp/N, rename to new/N) in one page: copied and forced in parallel, but
     * they appear at the target one by one in the page's order (its names sorted), each complete,
     * and more of them than wait for a rename at a time (a flush in the middle).
     */
    @Test
    void filesCopiedInParallelAppearCompleteInThePagesOrder() throws Exception {
        tree.mkdir("/tmp");
        tree.mkdir("/new");
        GeoReplicator r =
                new GeoReplicator(feed, src, dst, options.withMaxRecords(1024).withFsync(true));
        r.runOnce();
        int count = TargetSync.MAX_PENDING + 44;
        List<String> names = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String name = String.format("%04d", i);
            tree.write("/tmp/" + name, name.repeat(1000));
            tree.rename("/tmp/" + name, "/new/" + name);
            names.add(name);
        }
        List<String> arrivals = new ArrayList<>();
        try (WatchService watch = dst.getFileSystem().newWatchService()) {
            dst.resolve("new").register(watch, StandardWatchEventKinds.ENTRY_CREATE);
            FutureTask<Void> run = new FutureTask<>(() -> {
                r.runOnce();
                return null;
            });
            Thread.ofPlatform().start(run);
            // drained while the worker runs: the JDK keeps at most 512 events per key
            for (WatchKey key = watch.poll(50, TimeUnit.MILLISECONDS);
                    key != null || !run.isDone();
                    key = watch.poll(50, TimeUnit.MILLISECONDS)) {
                if (key == null) {
                    continue;
                }
                for (WatchEvent<?> e : key.pollEvents()) {
                    assertThat(e.kind()).isNotEqualTo(StandardWatchEventKinds.OVERFLOW);
                    String name = e.context().toString();
                    if (!name.startsWith(TargetSync.TEMP_PREFIX)) {
                        arrivals.add(name);
                    }
                }
                key.reset();
            }
            run.get();
        }

        assertSameTree(src, dst);
        assertThat(arrivals).isEqualTo(names); // each appeared once, by its rename, in order
        assertThat(r.status().filesCopied()).isEqualTo(count);
        assertThat(Trees.temporaries(dst)).isEmpty();
    }

    @Test
    void theBandwidthLimitPacesReadsOfTheSource() throws Exception {
        tree.write("/big", new byte[512 * 1024]);
        GeoReplicator r = new GeoReplicator(feed, src, dst, options.withBytesPerSecond(512 * 1024));

        long start = System.nanoTime();
        r.runOnce();
        long elapsedMillis = (System.nanoTime() - start) / 1_000_000;

        assertSameTree(src, dst);
        // 512 KiB at 512 KiB/s, less the pacer's first burst of 64 KiB: at least 875 ms
        assertThat(elapsedMillis).isGreaterThanOrEqualTo(850);
    }

    @Test
    void theBandwidthLimitHoldsOverFilesCopiedInParallel() throws Exception {
        tree.mkdir("/d");
        GeoReplicator r = new GeoReplicator(feed, src, dst, options.withBytesPerSecond(512 * 1024));
        r.runOnce();
        for (int i = 0; i < 8; i++) {
            tree.write("/d/f" + i, new byte[128 * 1024]);
        }

        long start = System.nanoTime();
        r.runOnce();
        long elapsedMillis = (System.nanoTime() - start) / 1_000_000;

        assertSameTree(src, dst);
        assertThat(r.status().filesCopied()).isEqualTo(8);
        // 1 MiB in 8 files copied at once, one limit of 512 KiB/s for all: at least 2 s less one burst of 64 KiB
        assertThat(elapsedMillis).isGreaterThanOrEqualTo(1_850);
    }

    @Test
    void badOptionsAreRefused() {
        assertThatThrownBy(() -> GeoOptions.defaults("has space")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> options.withMaxRecords(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> options.withMaxRecords(1025)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> options.withWaitMillis(5001)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> options.withBytesPerSecond(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> options.withRetries(1, 10, 5)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void namesThatAreNotCleanPathsNeverReachOutsideTheTarget() throws Exception {
        tree.write("/a", "a");
        GeoReplicator r = replicator();
        r.runOnce();
        Files.writeString(base.resolve("outside"), "must survive");

        feed.append(List.of(Change.of(Kind.UNLINK, 5, "/../outside")));
        feed.append(List.of(Change.of(Kind.CREATE, 5, "relative/name")));
        feed.append(List.of(new Change(Kind.RENAME, 5, "/../moved", "/a", 0, 0)));
        feed.append(List.of(Change.of(Kind.UNLINK, 5, "/.holdfast-georep/state")));
        r.runOnce();

        assertThat(Files.readString(base.resolve("outside"))).isEqualTo("must survive");
        assertThat(Files.exists(base.resolve("moved"))).isFalse();
        assertThat(new StateFile(dst, false).read().index()).isEqualTo(feed.appliedIndex());
        assertThat(r.status().errors()).isEqualTo(3);
        assertThat(r.status().treeCompares()).isEqualTo(1);
        assertSameTree(src, dst);
    }
}
