package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static io.holdfast.storage.TestBrick.attr;
import static io.holdfast.storage.TestBrick.errno;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.holdfast.common.Errno;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Request.Batch}: a batch entry gives the same answers and state as its mutations applied one by one. */
class BrickBatchTest {
    @TempDir
    Path tmp;

    /**
     * Random mutations (every kind, three callers, four names, so most fail somewhere) go to one
     * brick one entry each and to another in batches of one to eight; the unbatchable ones
     * (fallocate, large writes) travel alone in both, and a small write ends the batch half the
     * time ({@link Request.Batch#mayEnd}), travelling alone otherwise. Same timestamps, and the
     * batch takes the index of its last mutation: then every answer and the final state digest
     * must be equal.
     */
    @Test
    void batchesAnswerAndChangeAsTheirMutationsOneByOne() throws IOException {
        for (long seed = 1; seed <= 12; seed++) {
            try (TestBrick single = new TestBrick(tmp.resolve("single" + seed));
                    TestBrick batched = new TestBrick(tmp.resolve("batched" + seed))) {
                RandomOps ops = new RandomOps(seed);
                Random rnd = new Random(~seed);
                long index = 0;
                long ts = 1_000_000_000L;
                int batches = 0;
                int endedWithAWrite = 0;
                int failedInBatches = 0;
                for (int step = 0; step < 150; step++) {
                    ts += 1000;
                    List<Request.Mutation> group = new ArrayList<>();
                    List<Response> expected = new ArrayList<>();
                    int size = 1 + rnd.nextInt(8);
                    Request.Mutation alone = null;
                    while (group.size() < size) {
                        Request.Mutation m = ops.next();
                        if (!Request.Batch.batchable(m)) {
                            if (!group.isEmpty() && Request.Batch.mayEnd(m) && rnd.nextBoolean()) {
                                Response r = single.brick.apply(++index, new LogEntry(ts, m));
                                ops.observe(r);
                                group.add(m);
                                expected.add(r);
                                endedWithAWrite++;
                            } else {
                                alone = m;
                            }
                            break;
                        }
                        Response r = single.brick.apply(++index, new LogEntry(ts, m));
                        ops.observe(r);
                        group.add(m);
                        expected.add(r);
                    }
                    if (!group.isEmpty()) {
                        Response r = batched.brick.apply(index, new LogEntry(ts, new Request.Batch(group)));
                        assertThat(r).as("seed %d step %d", seed, step).isEqualTo(new Response.Batch(expected));
                        batches++;
                        failedInBatches += (int) expected.stream()
                                .filter(Response.Error.class::isInstance)
                                .count();
                    }
                    if (alone != null) {
                        Response r = single.brick.apply(++index, new LogEntry(ts, alone));
                        ops.observe(r);
                        assertThat(batched.brick.apply(index, new LogEntry(ts, alone)))
                                .as("seed %d step %d", seed, step)
                                .isEqualTo(r);
                    }
                }
                assertThat(batched.digest()).as("seed %d", seed).isEqualTo(single.digest());
                assertThat(batches).isGreaterThan(50);
                assertThat(endedWithAWrite).as("batches ending with a write").isGreaterThan(5);
                assertThat(failedInBatches)
                        .as("some mutations inside batches failed")
                        .isPositive();
            }
        }
    }

    @Test
    void aFailedMutationIsRolledBackAloneAndTheRestApply() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            Response r = b.apply(new Request.Batch(List.of(
                    new Request.Mkdir(ROOT, "/d", 0755),
                    new Request.Create(ROOT, "/d/f", 0644, true),
                    new Request.Create(ROOT, "/d/f", 0644, true), // EEXIST
                    new Request.Rename(ROOT, "/d/f", "/d/g", 0),
                    new Request.Unlink(ROOT, "/d/f", false)))); // ENOENT: renamed away
            List<Response> answers = ((Response.Batch) r).responses();
            assertThat(answers)
                    .extracting(TestBrick::errno)
                    .containsExactly(Errno.OK, Errno.OK, Errno.EEXIST, Errno.OK, Errno.ENOENT);
            assertThat(b.statErrno("/d/f")).isEqualTo(Errno.ENOENT);
            assertThat(attr(b.query(new Request.GetAttr("/d/g", false))).inode())
                    .isEqualTo(attr(answers.get(1)).inode());
            assertThat(b.stat("/d").nlink()).isEqualTo(2);
        }
    }

    @Test
    void aDirectoryEmptiedEarlierInTheBatchCanBeRemoved() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            b.mkdir("/d");
            b.create("/d/a");
            b.mkdir("/d/s");
            b.apply(new Request.SetXattr(ROOT, "/d/a", "user.k", new byte[] {1}, 0));
            Response r = b.apply(new Request.Batch(List.of(
                    new Request.Rmdir(ROOT, "/d"), // ENOTEMPTY: still has a and s
                    new Request.Unlink(ROOT, "/d/a", false),
                    new Request.Rmdir(ROOT, "/d"), // ENOTEMPTY: s is left
                    new Request.Rmdir(ROOT, "/d/s"),
                    new Request.Create(ROOT, "/d/n", 0644, true),
                    new Request.Unlink(ROOT, "/d/n", false),
                    new Request.Rmdir(ROOT, "/d"))));
            assertThat(((Response.Batch) r).responses())
                    .extracting(TestBrick::errno)
                    .containsExactly(
                            Errno.ENOTEMPTY, Errno.OK, Errno.ENOTEMPTY, Errno.OK, Errno.OK, Errno.OK, Errno.OK);
            assertThat(b.statErrno("/d")).isEqualTo(Errno.ENOENT);
        }
    }

    @Test
    void setAttrExpectingAnotherInodeFailsWithEstaleAndChangesNothing() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            long f = b.create("/f").inode();
            Response moved = b.apply(new Request.Batch(List.of(
                    new Request.Rename(ROOT, "/f", "/g", 0),
                    new Request.Create(ROOT, "/f", 0600, true),
                    new Request.SetAttr(ROOT, "/f", Request.SetAttr.MODE, 0777, 0, 0, 0, 0, f, 0),
                    new Request.SetAttr(ROOT, "/g", Request.SetAttr.MODE, 0640, 0, 0, 0, 0, f, 0))));
            assertThat(((Response.Batch) moved).responses())
                    .extracting(TestBrick::errno)
                    .containsExactly(Errno.OK, Errno.OK, Errno.ESTALE, Errno.OK);
            assertThat(b.stat("/f").mode()).isEqualTo(0600);
            assertThat(b.stat("/g").mode()).isEqualTo(0640);
            assertThat(errno(b.apply(new Request.SetAttr(ROOT, "/f", Request.SetAttr.MODE, 0, 0, 0, 0, 0, f, 0))))
                    .isEqualTo(Errno.ESTALE);
        }
    }

    /** A write-back setattr's change time is the client's clock when near the entry's, never going back. */
    @Test
    void theClientsTimeBecomesTheChangeTimeWhenNearTheEntrys() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            long f = b.create("/f").inode();
            long created = b.stat("/f").ctimeNanos();
            int mask = Request.SetAttr.MODE | Request.SetAttr.MTIME_NOW;
            long near = b.timeNanos - 2_000_000_000L + 1000; // 2 s behind the next entry's timestamp
            assertThat(attr(b.apply(new Request.SetAttr(ROOT, "/f", mask, 0600, 0, 0, 0, 0, f, near))))
                    .satisfies(a -> {
                        assertThat(a.ctimeNanos()).isEqualTo(Math.max(created, near));
                        assertThat(a.mtimeNanos()).isEqualTo(Math.max(created, near));
                    });
            long far = b.timeNanos - Request.SetAttr.MAX_CLIENT_LAG_NANOS - 1_000_000L;
            assertThat(attr(b.apply(new Request.SetAttr(ROOT, "/f", mask, 0600, 0, 0, 0, 0, f, far)))
                            .ctimeNanos())
                    .isEqualTo(b.timeNanos);
            long ahead = b.timeNanos + 1000 + Request.SetAttr.MAX_CLIENT_LEAD_NANOS / 2;
            assertThat(attr(b.apply(new Request.SetAttr(ROOT, "/f", mask, 0600, 0, 0, 0, 0, f, ahead)))
                            .ctimeNanos())
                    .isEqualTo(ahead);
            long earlier = ahead - 1_000_000L; // within bounds but before the last change
            assertThat(attr(b.apply(new Request.SetAttr(ROOT, "/f", mask, 0600, 0, 0, 0, 0, f, earlier)))
                            .ctimeNanos())
                    .isEqualTo(ahead);
        }
    }

    /**
     * A batch that ends with a write to a data file, replayed after a crash that lost every data
     * file change since the checkpoint: the redo record takes the write's bytes from the replayed
     * batch, so the file reads back exactly; a replayed batch whose write differs is refused.
     */
    @Test
    void aBatchEndingWithAWriteIsRedoneExactlyAfterACrash() throws IOException {
        byte[] big = TestBrick.bytes(200_000, 1);
        byte[] small = TestBrick.bytes(1000, 2);
        Path d = tmp.resolve("b");
        Response.Digest expected;
        List<LogEntry> log;
        long f;
        try (TestBrick b = new TestBrick(d)) {
            f = b.create("/f").inode();
            b.write(f, 0, big);
            b.brick.checkpoint();
            BrickRecoveryTest.copyTree(d.resolve("data"), tmp.resolve("saved"));
            Response r = b.apply(new Request.Batch(List.of(
                    new Request.Truncate(ROOT, f, 70_000),
                    new Request.Create(ROOT, "/g", 0600, true),
                    TestBrick.write(ROOT, f, 65_000, small))));
            assertThat(((Response.Batch) r).responses())
                    .extracting(TestBrick::errno)
                    .containsExactly(Errno.OK, Errno.OK, Errno.OK);
            assertThat(attr(((Response.Batch) r).responses().get(2)).size()).isEqualTo(70_000);
            expected = b.digest();
            log = List.copyOf(b.log);
        }
        BrickRecoveryTest.deleteTree(d.resolve("data"));
        BrickRecoveryTest.copyTree(tmp.resolve("saved"), d.resolve("data"));
        try (TestBrick b = new TestBrick(d)) {
            long last = b.brick.appliedIndex();
            LogEntry batch = log.get((int) last - 1);
            Request.Batch forged = new Request.Batch(List.of(TestBrick.write(ROOT, f, 65_001, small)));
            assertThat(catchThrowable(() -> b.brick.apply(last, new LogEntry(batch.timestampNanos(), forged))))
                    .as("a replayed batch whose write is not the one recorded")
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("is not the write recorded");
            for (long i = b.brick.checkpointIndex() + 1; i <= last; i++) {
                b.brick.apply(i, log.get((int) i - 1));
            }
            assertThat(b.digest()).isEqualTo(expected);
            byte[] want = new byte[70_000];
            System.arraycopy(big, 0, want, 0, 70_000);
            System.arraycopy(small, 0, want, 65_000, 1000);
            assertThat(b.read(f, 0, 1 << 20)).isEqualTo(want);
        }
    }

    /** A batch entry replayed after a restart (Raft replays entries after the checkpoint) is not applied twice. */
    @Test
    void aReplayedBatchIsNotAppliedTwice() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            b.mkdir("/d");
            LogEntry e = new LogEntry(
                    5_000_000_000L,
                    new Request.Batch(List.of(
                            new Request.Create(ROOT, "/d/a", 0644, true),
                            new Request.Rename(ROOT, "/d/a", "/d/b", 0),
                            new Request.Truncate(ROOT, 2, 0))));
            b.applyEntry(e);
            Response.Digest before = b.digest();
            b.reopen();
            assertThat(b.brick.apply(b.brick.appliedIndex(), e)).isEqualTo(new Response.Ok());
            assertThat(b.digest()).isEqualTo(before);
            assertThat(b.statErrno("/d/a")).isEqualTo(Errno.ENOENT);
            assertThat(b.statErrno("/d/b")).isEqualTo(Errno.OK);
        }
    }
}
