package io.holdfast.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.testing.TestSeed;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots taken by freezing ({@link Brick#freeze}): the stream written from an image while
 * entries go on being applied restores exactly the state at the image's index; data files the
 * image shares are copied before they are written; an image or a copy left by a crash is never
 * used.
 */
class BrickFreezeTest {
    @TempDir
    Path tmp;

    private static String hex(long inode) {
        return String.format("%016x", inode);
    }

    private static int links(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:nlink");
    }

    /** Files big enough for data files (above the inline limit), written with random ops besides. */
    private static void populate(TestBrick b, RandomOps ops, int n) {
        for (String name : new String[] {"big1", "big2", "big3"}) {
            long inode = b.create("/" + name).inode();
            b.write(inode, 0, TestBrick.bytes(300_000, inode));
            ops.observe(b.query(new Request.GetAttrByInode(inode)));
        }
        BrickRecoveryTest.applyRandom(b, ops, n);
    }

    @Test
    void aSnapshotWrittenWhileEntriesAreAppliedRestoresExactlyItsIndexThenReplays() throws Exception {
        long seed = TestSeed.derive("BrickFreezeTest.during");
        try (TestBrick a = new TestBrick(tmp.resolve("a"));
                TestBrick b = new TestBrick(tmp.resolve("b"))) {
            RandomOps ops = new RandomOps(seed);
            populate(a, ops, 300);
            a.brick.checkpoint();
            ByteArrayOutputStream direct = new ByteArrayOutputStream();
            a.brick.writeSnapshot(direct); // what the old, stalling path wrote at this index
            Response.Digest atFreeze = a.digest();
            long index = a.brick.appliedIndex();
            ByteArrayOutputStream fromImage = new ByteArrayOutputStream();
            try (FrozenImage image = a.brick.freeze()) {
                assertThat(image.index()).isEqualTo(index);
                // writes that overwrite, extend, truncate and punch the shared files go on while the
                // image is written on another thread, before, during and after it
                for (int i = 0; i < 50; i++) {
                    ops.observe(a.apply(ops.next()));
                }
                CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                    try {
                        image.writeSnapshot(fromImage);
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                int during = 0;
                while (!writer.isDone() || during < 200) {
                    ops.observe(a.apply(ops.next()));
                    during++;
                }
                writer.get(60, TimeUnit.SECONDS);
                assertThat(a.brick.copiedOnWriteBytes())
                        .as("the shared data files were copied before being written")
                        .isPositive();
            }
            assertThat(fromImage.toByteArray())
                    .as("the image's stream is the stream of the state at its index, byte for byte")
                    .isEqualTo(direct.toByteArray());
            assertThat(a.digest()).isNotEqualTo(atFreeze);

            b.brick.restoreSnapshot(new ByteArrayInputStream(fromImage.toByteArray()));
            assertThat(b.brick.appliedIndex()).isEqualTo(index);
            assertThat(b.digest()).isEqualTo(atFreeze);
            // then the log after the snapshot brings it to where the writer is
            for (long i = index + 1; i <= a.brick.appliedIndex(); i++) {
                LogEntry e = a.log.get((int) i - 1);
                b.brick.apply(i, e);
            }
            assertThat(b.digest()).isEqualTo(a.digest());
            b.reopen();
            assertThat(b.digest()).isEqualTo(a.digest());
        }
    }

    @Test
    void theFirstWriteToASharedDataFileBreaksTheLinkAndKeepsTheImagesBytes() throws IOException {
        try (TestBrick a = new TestBrick(tmp.resolve("a"))) {
            long w = a.create("/written").inode();
            long t = a.create("/truncated").inode();
            long p = a.create("/punched").inode();
            for (long inode : new long[] {w, t, p}) {
                a.write(inode, 0, TestBrick.bytes(200_000, inode));
            }
            a.brick.checkpoint();
            try (FrozenImage image = a.brick.freeze()) {
                Path data = image.dir().resolve("data");
                byte[][] before = new byte[3][];
                long[] inodes = {w, t, p};
                for (int i = 0; i < 3; i++) {
                    before[i] = Files.readAllBytes(data.resolve(hex(inodes[i])));
                    assertThat(links(a.brick.dataPath(inodes[i]))).isEqualTo(2);
                }
                byte[] fresh = TestBrick.bytes(70_000, 99);
                a.write(w, 10, fresh);
                a.apply(new Request.Truncate(TestBrick.ROOT, t, 1000));
                a.apply(new Request.Fallocate(TestBrick.ROOT, p, 3, 0, 131072)); // PUNCH_HOLE | KEEP_SIZE
                for (int i = 0; i < 3; i++) {
                    assertThat(Files.readAllBytes(data.resolve(hex(inodes[i]))))
                            .as("image's copy of inode %d", inodes[i])
                            .isEqualTo(before[i]);
                    assertThat(links(a.brick.dataPath(inodes[i]))).isEqualTo(1);
                    assertThat(links(data.resolve(hex(inodes[i])))).isEqualTo(1);
                }
                assertThat(a.read(w, 10, fresh.length)).isEqualTo(fresh);
                assertThat(a.read(w, 0, 10)).isEqualTo(Arrays.copyOf(before[0], 10));
                assertThat(a.stat("/truncated").size()).isEqualTo(1000);
                assertThat(a.read(p, 0, 10)).isEqualTo(new byte[10]);
                assertThat(a.brick.copiedOnWriteBytes()).isEqualTo(3 * 200_000L);
                // a second write to an unshared file copies nothing
                a.write(w, 0, fresh);
                assertThat(a.brick.copiedOnWriteBytes()).isEqualTo(3 * 200_000L);
            }
            long u = a.create("/later").inode();
            a.write(u, 0, TestBrick.bytes(100_000, u));
            try (FrozenImage image = a.brick.freeze()) {
                assertThat(image.dir()).exists();
            }
            a.write(u, 0, TestBrick.bytes(100, u));
            assertThat(a.brick.copiedOnWriteBytes())
                    .as("a closed image shares nothing: no copy")
                    .isEqualTo(3 * 200_000L);
        }
    }

    @Test
    void whatACrashMidSnapshotLeavesIsNeverUsed() throws IOException {
        try (TestBrick a = new TestBrick(tmp.resolve("a"));
                TestBrick b = new TestBrick(tmp.resolve("b"))) {
            long f = a.create("/f").inode();
            a.write(f, 0, TestBrick.bytes(150_000, f));
            a.brick.checkpoint();
            Response.Digest before = a.digest();
            FrozenImage image = a.brick.freeze(); // the process "dies" before closing it
            ByteArrayOutputStream stream = new ByteArrayOutputStream();
            image.writeSnapshot(stream);
            // a freeze cut short, and a copy-on-write cut short before its rename
            Files.createDirectories(a.dir.resolve("frozen").resolve("77.tmp").resolve("data"));
            Files.write(a.dir.resolve("cow.tmp"), new byte[] {1, 2, 3});
            a.brick.close();
            a.brick = Brick.open(a.dir);
            assertThat(a.dir.resolve("frozen")).doesNotExist();
            assertThat(a.dir.resolve("cow.tmp")).doesNotExist();
            assertThat(links(a.brick.dataPath(f))).isEqualTo(1);
            assertThat(a.digest()).isEqualTo(before);
            a.write(f, 0, new byte[] {7});
            assertThat(a.brick.copiedOnWriteBytes()).isZero();

            // a stream cut short (the writer died) is refused and changes nothing
            b.create("/other");
            Response.Digest bBefore = b.digest();
            byte[] whole = stream.toByteArray();
            byte[] cut = Arrays.copyOf(whole, whole.length / 2);
            assertThatThrownBy(() -> b.brick.restoreSnapshot(new ByteArrayInputStream(cut)))
                    .isInstanceOfSatisfying(
                            HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADMSG));
            assertThat(b.digest()).isEqualTo(bBefore);
            // an image whose directory went away cannot be written from
            assertThatThrownBy(() -> image.writeSnapshot(new ByteArrayOutputStream()))
                    .isInstanceOf(IOException.class);
        }
    }

    @Test
    void aCheckpointAtTheImagesIndexOffTheApplyThreadKeepsRedoExact() throws IOException {
        long seed = TestSeed.derive("BrickFreezeTest.checkpoint");
        try (TestBrick a = new TestBrick(tmp.resolve("a"));
                TestBrick ref = new TestBrick(tmp.resolve("ref"))) {
            RandomOps ops = new RandomOps(seed);
            populate(a, ops, 100);
            long before = a.brick.checkpointIndex();
            try (FrozenImage image = a.brick.freeze()) {
                for (int i = 0; i < 100; i++) {
                    ops.observe(a.apply(ops.next()));
                }
                a.brick.checkpoint(image);
                assertThat(a.brick.checkpointIndex()).isEqualTo(image.index()).isGreaterThan(before);
                a.brick.checkpoint(image); // again: nothing to do
                assertThat(a.brick.checkpointIndex()).isEqualTo(image.index());
            }
            // after a restart the entries past the image's index are redone from their records
            for (LogEntry e : a.log) {
                ref.applyEntry(e);
            }
            Response.Digest expected = ref.digest();
            a.reopen();
            for (long i = a.brick.checkpointIndex() + 1; i <= a.brick.appliedIndex(); i++) {
                a.brick.apply(i, a.log.get((int) i - 1));
            }
            assertThat(a.digest()).isEqualTo(expected);
            for (long inode = 2; inode < 40; inode++) {
                Response r = ref.query(new Request.GetAttrByInode(inode));
                if (r instanceof Response.AttrReply x
                        && x.attr().type() == FileType.FILE
                        && x.attr().size() > 0) {
                    int n = (int) x.attr().size();
                    assertThat(a.read(inode, 0, n)).as("inode %d", inode).isEqualTo(ref.read(inode, 0, n));
                }
            }

            // an image of a state that a restore replaced since is not checkpointed
            try (FrozenImage stale = a.brick.freeze()) {
                ByteArrayOutputStream snap = new ByteArrayOutputStream();
                ref.brick.writeSnapshot(snap);
                ops.observe(a.apply(ops.next()));
                a.brick.restoreSnapshot(new ByteArrayInputStream(snap.toByteArray()));
                long restored = a.brick.checkpointIndex();
                a.brick.checkpoint(stale);
                assertThat(a.brick.checkpointIndex()).isEqualTo(restored);
            }
        }
    }

    @Test
    void anImageAtAnIndexThatHasOneIsRefused() throws IOException {
        try (TestBrick a = new TestBrick(tmp.resolve("a"))) {
            a.create("/f");
            try (FrozenImage image = a.brick.freeze()) {
                assertThatThrownBy(a.brick::freeze)
                        .isInstanceOfSatisfying(
                                HoldfastException.class,
                                e -> assertThat(e.errno()).isEqualTo(Errno.EEXIST));
                assertThat(image.dir()).exists();
            }
        }
    }
}
