package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static io.holdfast.storage.TestBrick.bytes;
import static io.holdfast.storage.TestBrick.errno;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

/**
 * The brick's scrub support: bad blocks and inline contents are found, repairs are judged by
 * the stored CRC32C, a {@link ScrubPass} repairs from another replica at the pacer's rate, and
 * mark digests compare replicas at one index.
 */
class BrickScrubTest extends BrickTestBase {
    /** A fake monotonic clock in nanoseconds, advanced only by the fake sleeper. */
    private long nowNanos;

    private final List<Long> sleeps = new ArrayList<>();
    private final Pacer.Sleeper fakeSleep = n -> {
        sleeps.add(n);
        nowNanos += n;
    };

    private Pacer pacer(long bytesPerSecond) {
        return new Pacer(bytesPerSecond, () -> nowNanos, fakeSleep);
    }

    private static void flipByte(Path file, long offset) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(offset);
            int x = raf.read();
            raf.seek(offset);
            raf.write(x ^ 0x40);
        }
    }

    /** Changes a RocksDB value of the (closed) brick in place, keeping whatever checksum it holds. */
    private void editValue(byte[] key, UnaryOperator<byte[]> edit) throws Exception {
        b.brick.close();
        try (Options o = new Options();
                RocksDB db = RocksDB.open(o, b.dir.resolve("meta").toString())) {
            db.put(key, edit.apply(db.get(key)));
        }
        b.brick = Brick.open(b.dir);
    }

    private long bigFile(String path, byte[] content) {
        long f = b.create(path).inode();
        b.write(f, 0, content);
        return f;
    }

    @Test
    void badDataBlockAndInlineContentAreFoundOthersAreGood() throws Exception {
        byte[] big = bytes(200_000, 1);
        long f = bigFile("/big", big);
        long g = bigFile("/small", "inline secret".getBytes());
        flipByte(b.brick.dataPath(f), 70_000);
        editValue(Keys.id(Keys.INLINE, g), v -> flip(v, 6));

        assertThat(b.brick.blocks().verifyBlock(f, 0).status()).isEqualTo(BlockRepair.BlockCheck.Status.GOOD);
        BlockRepair.BlockCheck bad = b.brick.blocks().verifyBlock(f, 1);
        assertThat(bad.status()).isEqualTo(BlockRepair.BlockCheck.Status.BAD);
        assertThat(bad.problem()).contains("corrupt block 1 of inode " + f);
        assertThat(b.brick.blocks().verifyBlock(f, 3).bytes()).isEqualTo(200_000 - 3 * 65536);
        assertThat(b.brick.blocks().verifyBlock(f, 4).status()).isEqualTo(BlockRepair.BlockCheck.Status.GONE);
        assertThat(b.brick.blocks().verifyBlock(f, Brick.INLINE).status())
                .isEqualTo(BlockRepair.BlockCheck.Status.GONE);
        BlockRepair.BlockCheck badInline = b.brick.blocks().verifyBlock(g, Brick.INLINE);
        assertThat(badInline.status()).isEqualTo(BlockRepair.BlockCheck.Status.BAD);
        assertThat(badInline.problem()).contains("inline content of inode " + g);
        // a member asked for its copy refuses to hand out bad bytes
        assertThat(errno(b.query(new Request.ScrubRead(f, 1)))).isEqualTo(Errno.EIO);
        assertThat(errno(b.query(new Request.ScrubRead(g, Brick.INLINE)))).isEqualTo(Errno.EIO);
        assertThat(b.query(new Request.ScrubRead(f, 0)))
                .isEqualTo(new Response.Data(Arrays.copyOf(big, 65536), Checksums.crc32c(Arrays.copyOf(big, 65536))));
        assertThat(errno(b.query(new Request.ScrubRead(f, 9)))).isEqualTo(Errno.ENOENT);
    }

    private static byte[] flip(byte[] v, int at) {
        byte[] c = v.clone();
        c[at] ^= 1;
        return c;
    }

    @Test
    void repairsAreJudgedByTheStoredChecksum() throws Exception {
        byte[] big = bytes(200_000, 2);
        long f = bigFile("/big", big);
        long g = bigFile("/small", "inline secret".getBytes());
        flipByte(b.brick.dataPath(f), 70_000);
        editValue(Keys.id(Keys.INLINE, g), v -> flip(v, 6));
        byte[] corrupt = Files.readAllBytes(b.brick.dataPath(f));
        byte[] good1 = Arrays.copyOfRange(big, 65536, 131072);

        // wrong bytes, wrong length, a block that is not there: refused, nothing written
        byte[] wrong = good1.clone();
        wrong[5] ^= 1;
        assertThat(b.brick.blocks().repairBlock(f, 1, wrong)).isEqualTo(BlockRepair.RepairOutcome.MISMATCH);
        assertThat(b.brick.blocks().repairBlock(f, 1, Arrays.copyOf(good1, 100)))
                .isEqualTo(BlockRepair.RepairOutcome.MISMATCH);
        assertThat(b.brick.blocks().repairBlock(f, 7, good1)).isEqualTo(BlockRepair.RepairOutcome.GONE);
        assertThat(b.brick.blocks().repairInline(g, "inline secreT".getBytes()))
                .isEqualTo(BlockRepair.RepairOutcome.MISMATCH);
        assertThat(b.brick.blocks().repairInline(f, "inline secret".getBytes()))
                .isEqualTo(BlockRepair.RepairOutcome.GONE);
        assertThat(Files.readAllBytes(b.brick.dataPath(f))).isEqualTo(corrupt);
        assertThat(errno(b.query(new Request.Read(f, 65536, 10)))).isEqualTo(Errno.EIO);
        assertThat(errno(b.query(new Request.Read(g, 0, 10)))).isEqualTo(Errno.EIO);
        assertThatThrownBy(() -> b.brick.blocks().repairBlock(f, Brick.INLINE, good1))
                .isInstanceOf(IllegalArgumentException.class);

        // the right bytes: written, reads are right again
        assertThat(b.brick.blocks().repairBlock(f, 1, good1)).isEqualTo(BlockRepair.RepairOutcome.REPAIRED);
        assertThat(b.brick.blocks().repairInline(g, "inline secret".getBytes()))
                .isEqualTo(BlockRepair.RepairOutcome.REPAIRED);
        assertThat(b.read(f, 0, 200_000)).isEqualTo(big);
        assertThat(b.read(g, 0, 100)).isEqualTo("inline secret".getBytes());
        assertThat(b.brick.blocks().repairBlock(f, 1, good1)).isEqualTo(BlockRepair.RepairOutcome.ALREADY_GOOD);
        assertThat(b.brick.blocks().repairInline(g, "inline secret".getBytes()))
                .isEqualTo(BlockRepair.RepairOutcome.ALREADY_GOOD);
        // survives reopening (the repairs were synced)
        b.reopen();
        assertThat(b.read(f, 0, 200_000)).isEqualTo(big);
        assertThat(b.read(g, 0, 100)).isEqualTo("inline secret".getBytes());
    }

    @Test
    void bytesReadBeforeTheBlockChangedAreRefused() throws Exception {
        byte[] big = bytes(200_000, 3);
        long f = bigFile("/big", big);
        byte[] before = Arrays.copyOfRange(big, 65536, 131072);
        flipByte(b.brick.dataPath(f), 70_000);
        // the volume's own full-block write replaces the corrupt block meanwhile
        byte[] newer = bytes(65536, 4);
        b.write(f, 65536, newer);
        assertThat(b.brick.blocks().repairBlock(f, 1, before)).isEqualTo(BlockRepair.RepairOutcome.MISMATCH);
        assertThat(b.read(f, 65536, 65536)).isEqualTo(newer);
    }

    @Test
    void aPassRepairsFromAHealthyReplicaAndTheDigestsAgreeAfterwards() throws Exception {
        try (TestBrick healthy = new TestBrick(tmp.resolve("healthy"))) {
            byte[] big = bytes(300_000, 5);
            for (TestBrick t : List.of(b, healthy)) {
                long f = t.create("/big").inode();
                t.write(f, 0, big);
                long g = t.create("/small").inode();
                t.write(g, 0, "inline secret".getBytes());
                t.mkdir("/d");
                t.write(t.create("/d/other").inode(), 0, bytes(70_000, 6));
            }
            long f = b.stat("/big").inode();
            long g = b.stat("/small").inode();
            flipByte(b.brick.dataPath(f), 200_000);
            editValue(Keys.id(Keys.INLINE, g), v -> flip(v, 10));
            assertThat(errno(b.query(new Request.GetDigest()))).isEqualTo(Errno.EIO);

            Map<String, ScrubPass.Outcome> found = new LinkedHashMap<>();
            long[] checked = new long[2];
            ScrubPass pass = new ScrubPass(
                    b.brick,
                    pacer(64L << 20),
                    fromReplica(healthy.brick),
                    new ScrubPass.Listener() {
                        @Override
                        public void checked(long inode, long block, int bytes) {
                            checked[0]++;
                            checked[1] += bytes;
                        }

                        @Override
                        public void bad(
                                long inode, long block, String problem, ScrubPass.Outcome outcome, String detail) {
                            found.put(inode + "/" + block, outcome);
                        }
                    },
                    fakeSleep);
            assertThat(pass.estimate()).isEqualTo(300_000 + 13 + 70_000);
            while (pass.step()) {
                assertThat(pass.bytesDone()).isLessThanOrEqualTo(pass.bytesTotal());
            }
            assertThat(pass.done()).isTrue();
            assertThat(pass.bytesDone()).isEqualTo(pass.bytesTotal());
            assertThat(found)
                    .containsExactly(
                            Map.entry(f + "/3", ScrubPass.Outcome.REPAIRED),
                            Map.entry(g + "/-1", ScrubPass.Outcome.REPAIRED));
            assertThat(checked[0]).isEqualTo(5 + 1 + 2);
            assertThat(checked[1]).isEqualTo(300_000 + 13 + 70_000);
            assertThat(b.digest()).isEqualTo(healthy.digest());
        }
    }

    /** Copies from another brick, as a member answering {@link Request.ScrubRead} would give. */
    private static ScrubPass.RepairSource fromReplica(Brick other) {
        return (inode, block) -> {
            Response r = other.query(new Request.ScrubRead(inode, block));
            return new ScrubPass.Offers(r instanceof Response.Data d ? List.of(d.bytes()) : List.of(), List.of());
        };
    }

    @Test
    void withoutAMatchingCopyABlockIsUnrepairableOrDeferredAfterThreeRounds() throws Exception {
        long f = bigFile("/big", bytes(100_000, 7));
        flipByte(b.brick.dataPath(f), 10);
        List<ScrubPass.Outcome> outcomes = new ArrayList<>();
        List<String> details = new ArrayList<>();
        ScrubPass.Listener listener = new ScrubPass.Listener() {
            @Override
            public void bad(long inode, long block, String problem, ScrubPass.Outcome outcome, String detail) {
                outcomes.add(outcome);
                details.add(detail);
            }
        };
        byte[] wrong = bytes(65536, 8);
        new ScrubPass(
                        b.brick,
                        pacer(64L << 20),
                        (i, blk) -> new ScrubPass.Offers(List.of(wrong), List.of()),
                        listener,
                        fakeSleep)
                .runToEnd();
        assertThat(sleeps).containsOnly(ScrubPass.RETRY_PAUSE_NANOS).hasSize(ScrubPass.REPAIR_ROUNDS - 1);
        new ScrubPass(
                        b.brick,
                        pacer(64L << 20),
                        (i, blk) -> new ScrubPass.Offers(List.of(), List.of("10.0.0.9:7001")),
                        listener,
                        fakeSleep)
                .runToEnd();
        assertThat(outcomes).containsExactly(ScrubPass.Outcome.UNREPAIRABLE, ScrubPass.Outcome.DEFERRED);
        assertThat(details.get(0)).contains("none matching");
        assertThat(details.get(1)).contains("could not ask 10.0.0.9:7001");
        assertThat(errno(b.query(new Request.Read(f, 0, 10)))).isEqualTo(Errno.EIO); // still never served
    }

    @Test
    void aCopyFromALaggingMemberIsRetriedUntilItMatches() throws Exception {
        byte[] big = bytes(100_000, 9);
        long f = bigFile("/big", big);
        byte[] stale = bytes(65536, 10); // what a member that has not applied the last write holds
        flipByte(b.brick.dataPath(f), 10);
        int[] round = {0};
        List<ScrubPass.Outcome> outcomes = new ArrayList<>();
        new ScrubPass(
                        b.brick,
                        pacer(64L << 20),
                        (i, blk) -> new ScrubPass.Offers(
                                List.of(round[0]++ == 0 ? stale : Arrays.copyOf(big, 65536)), List.of()),
                        new ScrubPass.Listener() {
                            @Override
                            public void bad(
                                    long inode, long block, String problem, ScrubPass.Outcome outcome, String detail) {
                                outcomes.add(outcome);
                            }
                        },
                        fakeSleep)
                .runToEnd();
        assertThat(outcomes).containsExactly(ScrubPass.Outcome.REPAIRED);
        assertThat(sleeps).containsExactly(ScrubPass.RETRY_PAUSE_NANOS);
        assertThat(b.read(f, 0, 100_000)).isEqualTo(big);
    }

    @Test
    void aPassReadsAtThePacersRate() throws Exception {
        int files = 10;
        for (int i = 0; i < files; i++) {
            bigFile("/f" + i, bytes(1 << 20, 20 + i));
        }
        long rate = 1 << 20;
        Pacer pacer = pacer(rate);
        ScrubPass pass = new ScrubPass(
                b.brick,
                pacer,
                (i, blk) -> new ScrubPass.Offers(List.of(), List.of()),
                new ScrubPass.Listener() {},
                fakeSleep);
        long start = nowNanos;
        pass.runToEnd();
        double seconds = (nowNanos - start) / 1e9;
        // 10 MiB at 1 MiB/s: 10 s, less the initial burst (a tenth of a second's worth)
        assertThat(seconds).isBetween(10 - 0.1 - 0.001, 10.0);
        assertThat(sleeps).allMatch(n -> n <= 65536 * 1e9 / rate + 1);
    }

    @Test
    void pacerDebtRateChangeAndPause() throws Exception {
        Pacer p = pacer(1000);
        assertThat(p.burstBytes()).isEqualTo(Pacer.MIN_BURST_BYTES);
        p.acquire(Pacer.MIN_BURST_BYTES); // the burst: no sleep
        assertThat(sleeps).isEmpty();
        p.acquire(500); // half a second of debt
        assertThat(sleeps).containsExactly(500_000_000L);
        p.setRate(2000);
        p.acquire(1000);
        assertThat(sleeps).containsExactly(500_000_000L, 500_000_000L);
        assertThatThrownBy(() -> p.setRate(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> p.acquire(-1)).isInstanceOf(IllegalArgumentException.class);

        p.pause();
        Thread waiter = new Thread(
                () -> {
                    try {
                        p.acquire(1);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                },
                "pacer-waiter");
        waiter.start();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (waiter.getState() != Thread.State.WAITING) { // it parks in the pacer, nothing else to wait for
            assertThat(System.nanoTime()).as("acquire blocks while paused").isLessThan(deadline);
            Thread.onSpinWait();
        }
        assertThat(waiter.isAlive()).isTrue();
        p.resume();
        waiter.join(10_000);
        assertThat(waiter.isAlive()).isFalse();
    }

    // -------------------------------------------------------------------------------- rebuild

    /** A log of entries kept by a test, from {@code first}. */
    private static Brick.LogSource log(List<LogEntry> entries, long first) {
        return new Brick.LogSource() {
            @Override
            public long firstIndex() {
                return first;
            }

            @Override
            public LogEntry entry(long index) {
                return entries.get((int) index - 1);
            }
        };
    }

    @Test
    void aDamagedBrickIsRebuiltFromAHealthySnapshotAndItsOwnLog() throws Exception {
        try (TestBrick healthy = new TestBrick(tmp.resolve("healthy"))) {
            tree(b);
            tree(healthy);
            ByteArrayOutputStream snap = new ByteArrayOutputStream();
            healthy.brick.writeSnapshot(snap);
            long snapIndex = healthy.brick.appliedIndex();
            // both go on; then this brick's namespace is damaged
            for (TestBrick t : List.of(b, healthy)) {
                t.mkdir("/after");
                t.write(t.stat("/a/b/big").inode(), 5, bytes(10, 40));
            }
            editValue(Keys.dent(b.stat("/a").inode(), "b".getBytes()), v -> flip(v, 7));
            assertThat(b.digest()).isNotEqualTo(healthy.digest());

            // a log that starts after the snapshot cannot fill the gap: refused, nothing changed
            Response.Digest damaged = b.digest();
            assertThatThrownBy(() ->
                            b.brick.rebuild(new ByteArrayInputStream(snap.toByteArray()), log(b.log, snapIndex + 2)))
                    .isInstanceOfSatisfying(
                            HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ERANGE));
            assertThat(b.digest()).isEqualTo(damaged);
            // a corrupt snapshot: refused, nothing changed
            byte[] bad = snap.toByteArray();
            bad[bad.length / 2] ^= 1;
            assertThatThrownBy(() -> b.brick.rebuild(new ByteArrayInputStream(bad), log(b.log, 1)))
                    .isInstanceOfSatisfying(
                            HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADMSG));
            assertThat(b.digest()).isEqualTo(damaged);

            assertThat(b.brick.rebuild(new ByteArrayInputStream(snap.toByteArray()), log(b.log, 1)))
                    .isEqualTo(snapIndex);
            assertThat(b.digest()).isEqualTo(healthy.digest());
            b.reopen();
            assertThat(b.digest()).isEqualTo(healthy.digest());
            // and it goes on applying like the others
            b.mkdir("/later");
            healthy.mkdir("/later");
            assertThat(b.digest()).isEqualTo(healthy.digest());
        }
    }

    @Test
    void withoutASnapshotTheWholeLogIsReplayedIntoAnEmptyBrick() throws Exception {
        try (TestBrick healthy = new TestBrick(tmp.resolve("healthy"))) {
            tree(b);
            tree(healthy);
            editValue(Keys.inode(b.stat("/a").inode()), v -> flip(v, 10));
            assertThat(b.digest()).isNotEqualTo(healthy.digest());
            assertThat(b.brick.rebuild(null, log(b.log, 1))).isZero();
            assertThat(b.digest()).isEqualTo(healthy.digest());
        }
    }

    @Test
    void aSnapshotAheadOfThisBrickMakesTheEntriesUpToItReplays() throws Exception {
        try (TestBrick healthy = new TestBrick(tmp.resolve("healthy"))) {
            tree(b);
            tree(healthy);
            healthy.mkdir("/ahead"); // this brick has not applied it yet
            ByteArrayOutputStream snap = new ByteArrayOutputStream();
            healthy.brick.writeSnapshot(snap);
            b.brick.rebuild(new ByteArrayInputStream(snap.toByteArray()), log(b.log, 1));
            assertThat(b.brick.appliedIndex()).isEqualTo(healthy.brick.appliedIndex());
            // the entry arrives later, as it does from Raft: applied as a replay, nothing changes
            b.brick.apply(healthy.brick.appliedIndex(), healthy.log.getLast());
            assertThat(b.brick.appliedIndex()).isEqualTo(healthy.brick.appliedIndex());
            assertThat(b.digest()).isEqualTo(healthy.digest());
        }
    }

    // -------------------------------------------------------------------------------- marks

    private void mark(TestBrick t) {
        t.apply(new Request.ScrubMark(ROOT));
    }

    private record Marked(byte[] total, Map<Long, Long> directories) {}

    private Marked digestMark(Brick brick, long mark) throws Exception {
        Map<Long, Long> dirs = new LinkedHashMap<>();
        byte[] total = brick.digestMark(mark, pacer(64L << 20), dirs::put);
        return new Marked(total, dirs);
    }

    private static void tree(TestBrick t) {
        t.mkdir("/a");
        t.mkdir("/a/b");
        t.write(t.create("/a/b/big").inode(), 0, bytes(150_000, 30));
        t.write(t.create("/a/small").inode(), 0, "hello".getBytes());
        t.apply(new Request.Symlink(ROOT, "/l", "a/small"));
        t.apply(new Request.SetXattr(ROOT, "/a", "user.k", new byte[] {1}, 0));
        t.apply(new Request.Unlink(ROOT, "/a/small", true)); // an orphan
    }

    @Test
    void marksDigestTheStateAtTheirIndexPerDirectory() throws Exception {
        try (TestBrick other = new TestBrick(tmp.resolve("other"))) {
            tree(b);
            tree(other);
            mark(b);
            long m = b.brick.appliedIndex();
            // b goes on applying; other is digested right at the mark
            b.mkdir("/later");
            b.write(b.stat("/a/b/big").inode(), 0, bytes(10, 31));
            mark(other);
            assertThat(b.brick.heldMarks()).containsExactly(m);
            Marked mine = digestMark(b.brick, m);
            Marked theirs = digestMark(other.brick, m);
            assertThat(mine.total()).isEqualTo(theirs.total()).hasSize(32);
            assertThat(mine.directories()).isEqualTo(theirs.directories());
            assertThat(mine.directories().keySet())
                    .containsExactly(
                            0L, 1L, b.stat("/a").inode(), b.stat("/a/b").inode());
            // digested marks are released
            assertThat(b.brick.heldMarks()).isEmpty();
            assertThatThrownBy(() -> digestMark(b.brick, m))
                    .isInstanceOf(HoldfastException.class)
                    .satisfies(e -> assertThat(((HoldfastException) e).errno()).isEqualTo(Errno.ENOENT));
        }
    }

    @Test
    void aDamagedDirectoryEntryChangesThatDirectorysDigestOnly() throws Exception {
        try (TestBrick other = new TestBrick(tmp.resolve("other"))) {
            tree(b);
            tree(other);
            byte[] key = Keys.dent(b.stat("/a/b").inode(), "big".getBytes());
            editValue(key, v -> flip(v, 7)); // the entry now names another inode
            mark(b);
            mark(other);
            long m = b.brick.appliedIndex();
            Marked mine = digestMark(b.brick, m);
            Marked theirs = digestMark(other.brick, m);
            assertThat(mine.total()).isNotEqualTo(theirs.total());
            List<Long> differing = mine.directories().keySet().stream()
                    .filter(d -> !mine.directories()
                            .get(d)
                            .equals(theirs.directories().get(d)))
                    .toList();
            assertThat(differing).containsExactly(b.stat("/a/b").inode());
        }
    }

    @Test
    void checksumsArePartOfTheMarkDigestContentIsNot() throws Exception {
        try (TestBrick other = new TestBrick(tmp.resolve("other"))) {
            tree(b);
            tree(other);
            long big = b.stat("/a/b/big").inode();
            long small = b.create("/a/b/small").inode();
            other.create("/a/b/small");
            b.write(small, 0, "inline".getBytes());
            other.write(small, 0, "inline".getBytes());
            // damaged content (the block check's business) leaves the mark digest alone...
            editValue(Keys.id(Keys.INLINE, small), v -> flip(v, 5));
            flipByte(b.brick.dataPath(big), 100);
            mark(b);
            mark(other);
            long m = b.brick.appliedIndex();
            assertThat(digestMark(b.brick, m).total())
                    .isEqualTo(digestMark(other.brick, m).total());
            // ...a damaged checksum does not
            editValue(Keys.blockCrc(big, 1), v -> flip(v, 0));
            mark(b);
            mark(other);
            m = b.brick.appliedIndex();
            assertThat(digestMark(b.brick, m).total())
                    .isNotEqualTo(digestMark(other.brick, m).total());
        }
    }

    @Test
    void marksAreBoundedAndReleasedWhenTheBrickIsRestoredOrClosed() throws Exception {
        for (int i = 0; i < Brick.MAX_MARKS + 2; i++) {
            mark(b);
        }
        long last = b.brick.appliedIndex();
        assertThat(b.brick.heldMarks()).containsExactly(3L, 4L, 5L, 6L).contains(last);
        // replayed entries (index at or below the applied one) take no snapshot
        b.brick.apply(2, new LogEntry(1, new Request.ScrubMark(ROOT)));
        assertThat(b.brick.heldMarks()).hasSize(Brick.MAX_MARKS);
        ByteArrayOutputStream snap = new ByteArrayOutputStream();
        b.brick.writeSnapshot(snap);
        b.brick.restoreSnapshot(new ByteArrayInputStream(snap.toByteArray()));
        assertThat(b.brick.heldMarks()).isEmpty();
        mark(b);
        b.reopen();
        assertThat(b.brick.heldMarks()).isEmpty();
    }

    @Test
    void theMarkDigestIsPaced() throws Exception {
        for (int i = 0; i < 300; i++) {
            b.create("/f" + i);
            b.apply(new Request.SetXattr(ROOT, "/f" + i, "user.pad", bytes(4000, i), 0));
        }
        mark(b);
        long start = nowNanos;
        b.brick.digestMark(b.brick.appliedIndex(), pacer(256 * 1024), (d, x) -> {});
        // about 1.2 MB of extended attributes and records at 256 KiB/s: several seconds of (fake) time
        assertThat((nowNanos - start) / 1e9).isBetween(3.0, 6.0);
    }
}
