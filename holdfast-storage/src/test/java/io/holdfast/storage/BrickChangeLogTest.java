package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static io.holdfast.storage.TestBrick.attr;
import static io.holdfast.storage.TestBrick.errno;
import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.Change.Kind;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The brick's changelog: the change feed's records, by name, kept with the entries, trimmed by retention. */
class BrickChangeLogTest {
    @TempDir
    Path tmp;

    /** What a reader of the whole feed sees: every change in order, one list. */
    private static List<Change> all(TestBrick b) {
        Response.ChangePage p = page(b, 0, Request.Changes.MAX_RECORDS);
        assertThat(p.more()).isFalse();
        return p.records().stream().flatMap(r -> r.changes().stream()).toList();
    }

    private static Response.ChangePage page(TestBrick b, long after, int max) {
        Response r = b.query(new Request.Changes(after, max, 0));
        assertThat(r).isInstanceOf(Response.ChangePage.class);
        return (Response.ChangePage) r;
    }

    /**
     * A tree deeper than PATH_MAX (one system call's limit, not the volume's): made, written,
     * renamed and listed, and the feed names its files by their whole paths (writes included, whose
     * names the brick rebuilds from parent pointers).
     */
    @Test
    void aTreeDeeperThanPathMaxWorksAndTheFeedNamesItsFiles() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            StringBuilder dir = new StringBuilder();
            for (int i = 0; i < 30; i++) {
                dir.append('/').append(String.valueOf((char) ('a' + i % 26)).repeat(Limits.NAME_MAX));
                b.mkdir(dir.toString());
            }
            String deep = dir.toString();
            assertThat(deep.length()).isGreaterThan(Limits.PATH_MAX);
            long f = b.create(deep + "/f").inode();
            b.write(f, 0, "deep".getBytes(StandardCharsets.UTF_8));
            attr(b.apply(new Request.Rename(ROOT, deep + "/f", deep + "/g", 0)));
            assertThat(b.stat(deep + "/g").inode()).isEqualTo(f);
            assertThat(b.stat(deep + "/g").size()).isEqualTo(4);
            Response listing = b.query(new Request.ReadDir(deep, "", 10));
            assertThat(((Response.DirPage) listing).entries())
                    .extracting(e -> e.name())
                    .containsExactly("g");
            assertThat(all(b).subList(30, 33))
                    .containsExactly(
                            new Change(Kind.CREATE, f, deep + "/f", null, 0, 0),
                            new Change(Kind.WRITE, f, deep + "/f", null, 0, 4),
                            new Change(Kind.RENAME, f, deep + "/g", deep + "/f", 0, 0));
            String overLimit = deep + ("/" + "z".repeat(Limits.NAME_MAX)).repeat(100);
            assertThat(errno(b.apply(new Request.Mkdir(ROOT, overLimit, 0755)))).isEqualTo(Errno.ENAMETOOLONG);
        }
    }

    @Test
    void everyKindOfChangeIsRecordedByNameWithItsInode() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            long d = b.mkdir("/d").inode();
            long f = b.create("/d/f").inode();
            b.write(f, 0, "hello".getBytes(StandardCharsets.UTF_8));
            attr(b.apply(new Request.Link(ROOT, "/d/f", "/d/g")));
            attr(b.apply(new Request.Rename(ROOT, "/d/f", "/d/h", 0)));
            b.write(f, 1 << 20, TestBrick.bytes(70_000, 1)); // a data file now
            b.apply(new Request.Truncate(ROOT, f, 10));
            b.apply(new Request.SetAttr(ROOT, "/d/h", Request.SetAttr.MODE, 0600, 0, 0, 0, 0));
            b.apply(new Request.SetXattr(ROOT, "/d/h", "user.k", new byte[] {1}, 0));
            b.apply(new Request.RemoveXattr(ROOT, "/d/h", "user.k"));
            long s = attr(b.apply(new Request.Symlink(ROOT, "/d/s", "h"))).inode();
            long p = attr(b.apply(new Request.Mknod(ROOT, "/d/p", FileType.FIFO.formatBits() | 0644, 0)))
                    .inode();
            long r = attr(b.apply(new Request.Mknod(ROOT, "/d/r", 0644, 0))).inode();
            b.apply(new Request.Fallocate(ROOT, f, Request.Fallocate.KEEP_SIZE | Request.Fallocate.PUNCH_HOLE, 0, 4));
            attr(b.apply(new Request.Unlink(ROOT, "/d/g", false)));
            b.apply(new Request.Rename(ROOT, "/d", "/e", 0));
            b.write(f, 0, new byte[] {7});
            long x = b.mkdir("/x").inode();
            assertThat(b.apply(new Request.Rmdir(ROOT, "/x"))).isEqualTo(new Response.Ok());

            assertThat(all(b))
                    .containsExactly(
                            Change.of(Kind.MKDIR, d, "/d"),
                            Change.of(Kind.CREATE, f, "/d/f"),
                            new Change(Kind.WRITE, f, "/d/f", null, 0, 5),
                            new Change(Kind.LINK, f, "/d/g", "/d/f", 0, 0),
                            new Change(Kind.RENAME, f, "/d/h", "/d/f", 0, 0),
                            new Change(Kind.WRITE, f, "/d/h", null, 1 << 20, 70_000),
                            new Change(Kind.TRUNCATE, f, "/d/h", null, 10, 0),
                            Change.of(Kind.SETATTR, f, "/d/h"),
                            Change.of(Kind.SETXATTR, 0, "/d/h"),
                            Change.of(Kind.REMOVEXATTR, 0, "/d/h"),
                            Change.of(Kind.SYMLINK, s, "/d/s"),
                            Change.of(Kind.MKNOD, p, "/d/p"),
                            Change.of(Kind.CREATE, r, "/d/r"),
                            new Change(Kind.FALLOCATE, f, "/d/h", null, 0, 4),
                            Change.of(Kind.UNLINK, f, "/d/g"),
                            new Change(Kind.RENAME, d, "/e", "/d", 0, 0),
                            new Change(Kind.WRITE, f, "/e/h", null, 0, 1), // the directory's rename is seen
                            Change.of(Kind.MKDIR, x, "/x"),
                            Change.of(Kind.RMDIR, 0, "/x"));
            Response.ChangePage whole = page(b, 0, Request.Changes.MAX_RECORDS);
            assertThat(whole.records())
                    .extracting(ChangeRecord::index)
                    .isSorted()
                    .doesNotHaveDuplicates();
            assertThat(whole.records().getLast().index()).isEqualTo(b.brick.appliedIndex());
            assertThat(whole.appliedIndex()).isEqualTo(b.brick.appliedIndex());
            assertThat(whole.trimmedThrough()).isZero();
            assertThat(whole.records().getFirst().timeNanos())
                    .isEqualTo(b.log.getFirst().timestampNanos());
        }
    }

    @Test
    void refusedAndNoOpMutationsRecordNothing() {
        try (TestBrick b = uncheckedBrick("b")) {
            long f = b.create("/f").inode();
            long before = b.brick.appliedIndex();
            assertThat(errno(b.apply(new Request.Create(ROOT, "/f", 0644, true))))
                    .isEqualTo(Errno.EEXIST);
            assertThat(attr(b.apply(new Request.Create(ROOT, "/f", 0644, false)))
                            .inode())
                    .isEqualTo(f);
            assertThat(b.apply(new Request.Link(ROOT, "/f", "/g"))).isInstanceOf(Response.AttrReply.class);
            assertThat(b.apply(new Request.Rename(ROOT, "/f", "/g", 0))).isEqualTo(new Response.Ok()); // same inode
            assertThat(errno(b.apply(new Request.Unlink(ROOT, "/nothing", false))))
                    .isEqualTo(Errno.ENOENT);
            b.apply(new Request.ScrubMark(ROOT));
            Response.ChangePage p = page(b, before, 100);
            assertThat(p.records()).hasSize(1);
            assertThat(p.records().getFirst().changes()).containsExactly(new Change(Kind.LINK, f, "/g", "/f", 0, 0));
            assertThat(p.next(before)).isEqualTo(b.brick.appliedIndex());
        }
    }

    @Test
    void aBatchIsOneRecordOfTheMutationsThatSucceeded() {
        try (TestBrick b = uncheckedBrick("b")) {
            b.mkdir("/d");
            long before = b.brick.appliedIndex();
            Response r = b.apply(new Request.Batch(List.of(
                    new Request.Create(ROOT, "/d/a", 0644, true),
                    new Request.Create(ROOT, "/d/a", 0644, true), // EEXIST: rolled back, not recorded
                    new Request.Rename(ROOT, "/d/a", "/d/b", 0),
                    new Request.Rmdir(ROOT, "/d")))); // ENOTEMPTY
            assertThat(((Response.Batch) r).responses())
                    .extracting(TestBrick::errno)
                    .containsExactly(Errno.OK, Errno.EEXIST, Errno.OK, Errno.ENOTEMPTY);
            long a = attr(((Response.Batch) r).responses().getFirst()).inode();
            Response.ChangePage p = page(b, before, 100);
            assertThat(p.records()).hasSize(1);
            assertThat(p.records().getFirst().index()).isEqualTo(before + 1);
            assertThat(p.records().getFirst().changes())
                    .containsExactly(
                            Change.of(Kind.CREATE, a, "/d/a"), new Change(Kind.RENAME, a, "/d/b", "/d/a", 0, 0));
        }
    }

    /**
     * A data change names the inode by its most recent name while that name still denotes it; once
     * that name is gone (unlinked, or replaced) the volume cannot tell a name, and says so with null.
     */
    @Test
    void aDataChangeIsNamedByTheInodesLatestNameWhileItDenotesIt() {
        try (TestBrick b = uncheckedBrick("b")) {
            long f = b.create("/a").inode();
            b.apply(new Request.Link(ROOT, "/a", "/b"));
            b.apply(new Request.Unlink(ROOT, "/a", false));
            long at = b.brick.appliedIndex();
            b.write(f, 0, new byte[] {1});
            assertThat(page(b, at, 10).records().getFirst().changes())
                    .containsExactly(new Change(Kind.WRITE, f, "/b", null, 0, 1));

            b.apply(new Request.Link(ROOT, "/b", "/c"));
            b.apply(new Request.Unlink(ROOT, "/c", false)); // the latest name goes; "/b" remains
            at = b.brick.appliedIndex();
            b.write(f, 0, new byte[] {2});
            assertThat(page(b, at, 10).records().getFirst().changes())
                    .containsExactly(new Change(Kind.WRITE, f, null, null, 0, 1));

            long g = b.create("/g").inode();
            b.apply(new Request.Unlink(ROOT, "/g", true)); // an orphan kept open
            at = b.brick.appliedIndex();
            b.write(g, 0, new byte[] {3});
            assertThat(page(b, at, 10).records().getFirst().changes())
                    .containsExactly(new Change(Kind.WRITE, g, null, null, 0, 1));
        }
    }

    @Test
    void pagesStopAtTheirLimitAndSayThereIsMore() {
        try (TestBrick b = uncheckedBrick("b")) {
            for (int i = 0; i < 10; i++) {
                b.create("/f" + i);
            }
            List<Change> seen = new ArrayList<>();
            long after = 0;
            int pages = 0;
            while (true) {
                Response.ChangePage p = page(b, after, 3);
                p.records().forEach(r -> seen.addAll(r.changes()));
                pages++;
                assertThat(p.records().size()).isLessThanOrEqualTo(3);
                after = p.next(after);
                if (!p.more()) {
                    break;
                }
            }
            assertThat(pages).isEqualTo(4);
            assertThat(after).isEqualTo(b.brick.appliedIndex());
            assertThat(seen)
                    .extracting(Change::path)
                    .containsExactly("/f0", "/f1", "/f2", "/f3", "/f4", "/f5", "/f6", "/f7", "/f8", "/f9");
            assertThat(page(b, after, 3).records()).isEmpty();
        }
    }

    @Test
    void retentionBySizeTrimsTheOldestAndAReaderBehindMustResync() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            b.brick.changeFeedRetention(new ChangeFeedRetention(1000, Duration.ofDays(1)));
            for (int i = 0; i < 100; i++) {
                b.create("/file-" + i);
            }
            Response.ChangePage behind = page(b, 0, 100);
            assertThat(behind.trimmedThrough()).isPositive();
            assertThat(behind.resyncNeeded(0)).isTrue();
            assertThat(behind.records()).isEmpty();

            Response.ChangePage kept = page(b, behind.trimmedThrough(), 1024);
            assertThat(kept.resyncNeeded(behind.trimmedThrough())).isFalse();
            assertThat(kept.records()).isNotEmpty();
            assertThat(kept.records().getFirst().index()).isEqualTo(behind.trimmedThrough() + 1);
            assertThat(kept.records().getLast().changes().getFirst().path()).isEqualTo("/file-99");
            long keptBytes = kept.records().size() * 60L; // about 60 bytes a record here
            assertThat(keptBytes).isBetween(500L, 2000L);

            b.reopen(); // the counters survive
            b.brick.changeFeedRetention(new ChangeFeedRetention(1000, Duration.ofDays(1)));
            Response.ChangePage again = page(b, 0, 100);
            assertThat(again.trimmedThrough()).isEqualTo(behind.trimmedThrough());
            for (int i = 0; i < 20; i++) {
                b.create("/more-" + i); // more than the limit: trimming goes on where it stopped
            }
            long trimmed = page(b, 0, 100).trimmedThrough();
            assertThat(trimmed).isGreaterThan(behind.trimmedThrough());
            assertThat(page(b, trimmed, 1024).records().getFirst().index()).isEqualTo(trimmed + 1);
        }
    }

    @Test
    void retentionByAgeTrimsRecordsOlderThanTheNewestEntryByMoreThanTheAge() {
        try (TestBrick b = uncheckedBrick("b")) {
            b.brick.changeFeedRetention(
                    new ChangeFeedRetention(1L << 30, Duration.ofNanos(10_000))); // entries are 1 µs apart here
            for (int i = 0; i < 50; i++) {
                b.create("/f" + i);
            }
            Response.ChangePage p = page(b, page(b, 0, 1).trimmedThrough(), 1024);
            long newest = p.records().getLast().timeNanos();
            assertThat(p.records())
                    .allSatisfy(r -> assertThat(newest - r.timeNanos()).isLessThanOrEqualTo(10_000));
            assertThat(p.records()).hasSizeBetween(10, 11);
        }
    }

    /** The changelog is not file-system state: members with different history have the same digest. */
    @Test
    void theDigestIgnoresTheChangelogAndASnapshotCarriesIt() throws IOException {
        try (TestBrick keepsAll = new TestBrick(tmp.resolve("all"));
                TestBrick keepsLittle = new TestBrick(tmp.resolve("little"));
                TestBrick restored = new TestBrick(tmp.resolve("restored"))) {
            keepsLittle.brick.changeFeedRetention(new ChangeFeedRetention(200, Duration.ofDays(1)));
            RandomOps ops = new RandomOps(7);
            for (int i = 0; i < 300; i++) {
                Request.Mutation m = ops.next();
                long ts = 1_000_000_000L + i * 1000L;
                Response r = keepsAll.brick.apply(i + 1, new LogEntry(ts, m));
                ops.observe(r);
                assertThat(keepsLittle.brick.apply(i + 1, new LogEntry(ts, m))).isEqualTo(r);
            }
            assertThat(keepsLittle.digest()).isEqualTo(keepsAll.digest());
            assertThat(page(keepsLittle, 0, 10).trimmedThrough()).isPositive();

            ByteArrayOutputStream snapshot = new ByteArrayOutputStream();
            keepsAll.brick.writeSnapshot(snapshot);
            restored.brick.restoreSnapshot(new ByteArrayInputStream(snapshot.toByteArray()));
            assertThat(restored.digest()).isEqualTo(keepsAll.digest());
            assertThat(page(restored, 0, 1024)).isEqualTo(page(keepsAll, 0, 1024));
        }
    }

    /**
     * A batch of 256 creates with names of nearly PATH_MAX bytes would make a record over the limit:
     * it is not kept, and counts as trimmed, so a reader behind it resynchronises and the feed
     * goes on after it.
     */
    @Test
    void anEntryWhoseRecordWouldBeTooLargeCountsAsTrimmed() {
        try (TestBrick b = uncheckedBrick("b")) {
            StringBuilder dir = new StringBuilder();
            for (int level = 0; level < 16; level++) {
                dir.append('/').append(String.valueOf((char) ('a' + level)).repeat(240));
                b.mkdir(dir.toString());
            }
            long before = b.brick.appliedIndex();
            List<Request.Mutation> creates = new ArrayList<>();
            for (int i = 0; i < Request.Batch.MAX_MUTATIONS; i++) {
                creates.add(new Request.Create(ROOT, dir + "/" + "f".repeat(230) + i, 0644, true));
            }
            Response r = b.apply(new Request.Batch(creates));
            assertThat(((Response.Batch) r).responses())
                    .allSatisfy(x -> assertThat(x).isInstanceOf(Response.AttrReply.class));
            long big = b.brick.appliedIndex();
            b.create("/after");

            Response.ChangePage behind = page(b, before, 10);
            assertThat(behind.trimmedThrough()).isEqualTo(big);
            assertThat(behind.resyncNeeded(before)).isTrue();
            Response.ChangePage after = page(b, big, 10);
            assertThat(after.records()).hasSize(1);
            assertThat(after.records().getFirst().changes().getFirst().path()).isEqualTo("/after");
        }
    }

    /** A replayed entry (at or below the applied index, after a restart) adds no second record. */
    @Test
    void replayedEntriesAddNoRecord() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            b.create("/a");
            b.create("/b");
            Response.ChangePage before = page(b, 0, 100);
            b.reopen();
            for (int i = 0; i < b.log.size(); i++) {
                b.brick.apply(i + 1, b.log.get(i));
            }
            assertThat(page(b, 0, 100)).isEqualTo(before);
        }
    }

    private TestBrick uncheckedBrick(String name) {
        try {
            return new TestBrick(tmp.resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
