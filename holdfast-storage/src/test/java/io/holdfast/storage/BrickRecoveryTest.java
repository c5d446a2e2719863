package io.holdfast.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.testing.TestSeed;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BrickRecoveryTest {
    @TempDir
    Path tmp;

    /** Applies {@code n} random operations to {@code b}, feeding replies back to the generator. */
    static void applyRandom(TestBrick b, RandomOps ops, int n) {
        for (int i = 0; i < n; i++) {
            ops.observe(b.apply(ops.next()));
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
    }

    static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }

    @Test
    void twoBricksApplyingTheSameRandomSequenceHaveTheSameDigest() throws IOException {
        for (long seed : new long[] {1, 2, 3, TestSeed.derive("determinism")}) {
            System.out.println("determinism seed " + seed);
            try (TestBrick a = new TestBrick(tmp.resolve("a" + seed));
                    TestBrick b = new TestBrick(tmp.resolve("b" + seed))) {
                RandomOps ops = new RandomOps(seed);
                for (int i = 0; i < 300; i++) {
                    Request.Mutation m = ops.next();
                    Response ra = a.apply(m);
                    Response rb = b.apply(m);
                    assertThat(rb).as("seed %d step %d %s", seed, i, m).isEqualTo(ra);
                    ops.observe(ra);
                    if (i == 150) {
                        a.brick.checkpoint(); // checkpoints are local and do not change the digest
                    }
                }
                assertThat(b.digest()).as("seed %d", seed).isEqualTo(a.digest());
                assertThat(a.digest().appliedIndex()).isEqualTo(300);
            }
        }
    }

    @Test
    void replayAfterCrashLosingUnsyncedDataGivesTheSameDigest() throws IOException {
        for (long seed : new long[] {11, 12, TestSeed.derive("crash")}) {
            System.out.println("crash seed " + seed);
            Path crashDir = tmp.resolve("crash" + seed);
            Response.Digest expected;
            List<LogEntry> log;
            int n = 400;
            int cp = 170;
            try (TestBrick ref = new TestBrick(tmp.resolve("ref" + seed))) {
                applyRandom(ref, new RandomOps(seed), n);
                expected = ref.digest();
                log = ref.log;
            }
            Path savedData = tmp.resolve("saved" + seed);
            try (TestBrick c = new TestBrick(crashDir)) {
                for (int i = 0; i < cp; i++) {
                    c.applyEntry(log.get(i));
                }
                c.brick.checkpoint();
                assertThat(c.brick.checkpointIndex()).isEqualTo(cp);
                copyTree(crashDir.resolve("data"), savedData); // what is durable at the checkpoint
                for (int i = cp; i < n; i++) {
                    c.applyEntry(log.get(i));
                }
                assertThat(c.digest()).isEqualTo(expected);
            }
            // "crash": for a random half of the data files every change since the checkpoint is
            // lost (back to the fsynced content), the other half kept what reached the disk;
            // garbage is appended to all of them
            Random pick = new Random(seed);
            Path data = crashDir.resolve("data");
            try (Stream<Path> s = Files.list(data)) {
                for (Path p : s.sorted().toList()) {
                    if (pick.nextBoolean()) {
                        Files.delete(p);
                    }
                }
            }
            try (Stream<Path> s = Files.list(savedData)) {
                for (Path p : s.sorted().toList()) {
                    Path target = data.resolve(p.getFileName().toString());
                    if (!Files.exists(target)) {
                        Files.copy(p, target);
                    }
                }
            }
            try (Stream<Path> s = Files.list(crashDir.resolve("data"))) {
                for (Path p : s.toList()) {
                    Files.write(p, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
                }
            }
            try (Brick b = Brick.open(crashDir)) {
                assertThat(b.appliedIndex()).isEqualTo(n);
                assertThat(b.checkpointIndex()).isEqualTo(cp);
                for (int i = cp; i < n; i++) {
                    assertThat(b.apply(i + 1, log.get(i))).isEqualTo(new Response.Ok());
                }
                assertThat(b.digest()).as("seed %d", seed).isEqualTo(expected);
                b.checkpoint();
                assertThat(b.checkpointIndex()).isEqualTo(n);
            }
        }
    }

    @Test
    void replayOfWriteToLaterDeletedFileAndTruncateThenWrite() throws IOException {
        byte[] big = TestBrick.bytes(200_000, 1);
        byte[] small = TestBrick.bytes(1000, 2);
        Path d = tmp.resolve("b");
        Response.Digest expected;
        List<LogEntry> log;
        try (TestBrick b = new TestBrick(d)) {
            long f = b.create("/f").inode();
            long g = b.create("/g").inode();
            b.write(f, 0, big);
            b.write(g, 0, big);
            b.brick.checkpoint();
            copyTree(d.resolve("data"), tmp.resolve("saved"));
            b.write(g, 1000, small);
            b.apply(new Request.Unlink(TestBrick.ROOT, "/g", false));
            b.apply(new Request.Truncate(TestBrick.ROOT, f, 70_000));
            b.write(f, 150_000, small);
            b.apply(new Request.Truncate(TestBrick.ROOT, f, 100));
            b.write(f, 65_000, small);
            expected = b.digest();
            log = List.copyOf(b.log);
            assertThat(Files.exists(b.brick.dataPath(g))).isFalse();
        }
        deleteTree(d.resolve("data"));
        copyTree(tmp.resolve("saved"), d.resolve("data"));
        try (TestBrick b = new TestBrick(d)) {
            for (long i = b.brick.checkpointIndex() + 1; i <= b.brick.appliedIndex(); i++) {
                b.brick.apply(i, log.get((int) i - 1));
            }
            assertThat(b.digest()).isEqualTo(expected);
            long f = b.stat("/f").inode();
            byte[] want = new byte[66_000];
            System.arraycopy(big, 0, want, 0, 100);
            System.arraycopy(small, 0, want, 65_000, 1000);
            assertThat(b.read(f, 0, 1 << 20)).isEqualTo(want);
        }
    }

    @Test
    void reopenWithoutCrashKeepsState() throws IOException {
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            long f = b.create("/f").inode();
            b.write(f, 0, TestBrick.bytes(100_000, 3));
            Response.Digest before = b.digest();
            b.brick.checkpoint();
            b.reopen();
            assertThat(b.digest()).isEqualTo(before);
            assertThat(b.brick.appliedIndex()).isEqualTo(2);
            assertThat(b.brick.checkpointIndex()).isEqualTo(2);
        }
    }

    private TestBrick populated(Path d, long seed) {
        try {
            TestBrick b = new TestBrick(d);
            applyRandom(b, new RandomOps(seed), 200);
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void snapshotRoundTripGivesTheSameDigestAndState() throws IOException {
        try (TestBrick a = populated(tmp.resolve("a"), 21);
                TestBrick b = new TestBrick(tmp.resolve("b"))) {
            b.create("/other");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            a.brick.writeSnapshot(out);
            b.brick.restoreSnapshot(new ByteArrayInputStream(out.toByteArray()));
            assertThat(b.digest()).isEqualTo(a.digest());
            assertThat(b.brick.appliedIndex()).isEqualTo(200);
            assertThat(b.brick.checkpointIndex()).isEqualTo(200);
            // both continue identically, also after a reopen of the restored brick
            b.reopen();
            RandomOps more = new RandomOps(TestSeed.derive("more"));
            for (int i = 0; i < 100; i++) {
                LogEntry e = new LogEntry(5_000_000_000L + i, more.next());
                Response r = a.applyEntry(e);
                assertThat(b.applyEntry(e)).isEqualTo(r);
                more.observe(r);
            }
            assertThat(b.digest()).isEqualTo(a.digest());
        }
    }

    @Test
    void badSnapshotsAreRefusedAndChangeNothing() throws IOException {
        byte[] snap;
        try (TestBrick a = populated(tmp.resolve("a"), 31)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            a.brick.writeSnapshot(out);
            snap = out.toByteArray();
        }
        try (TestBrick b = new TestBrick(tmp.resolve("b"))) {
            long f = b.create("/keep").inode();
            b.write(f, 0, TestBrick.bytes(90_000, 4));
            Response.Digest before = b.digest();

            byte[] truncated = Arrays.copyOf(snap, snap.length / 2);
            assertRefused(b, truncated, Errno.EBADMSG, "corrupt snapshot");
            assertRefused(b, Arrays.copyOf(snap, snap.length - 1), Errno.EBADMSG, "corrupt snapshot");

            for (int pos : new int[] {30, snap.length / 3, snap.length - 10}) {
                byte[] flipped = snap.clone();
                flipped[pos] ^= 0x10;
                assertRefused(b, flipped, Errno.EBADMSG, "corrupt snapshot");
            }
            byte[] badMagic = snap.clone();
            badMagic[0] = 'X';
            assertRefused(b, badMagic, Errno.EBADMSG, "bad magic");
            byte[] tooNew = snap.clone();
            tooNew[9] = (byte) (Snapshots.SNAPSHOT_VERSION + 1); // version is the i32 at offset 6
            assertRefused(b, tooNew, Errno.EPROTO, "too new");
            byte[] tooOld = snap.clone();
            tooOld[9] = 0;
            assertRefused(b, tooOld, Errno.EPROTO, "too old");

            assertThat(b.digest()).isEqualTo(before);
            assertThat(b.brick.appliedIndex()).isEqualTo(2);
            assertThat(Files.exists(tmp.resolve("b").resolve("restore.tmp"))).isFalse();
            b.reopen();
            assertThat(b.digest()).isEqualTo(before);
        }
    }

    private static void assertRefused(TestBrick b, byte[] snap, Errno errno, String text) {
        assertThatThrownBy(() -> b.brick.restoreSnapshot(new ByteArrayInputStream(snap)))
                .isInstanceOf(HoldfastException.class)
                .hasMessageContaining(text)
                .satisfies(e -> assertThat(((HoldfastException) e).errno()).isEqualTo(errno));
    }
}
