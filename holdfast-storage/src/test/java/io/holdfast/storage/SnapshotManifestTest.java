package io.holdfast.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot stream's manifest: it lists every data file of the stream where it is, survives
 * its encoding, refuses corrupt bytes, and {@link SnapshotManifest#assemble} rebuilds the stream
 * byte for byte from a member's own data files plus only the ranges that member lacks.
 */
class SnapshotManifestTest {
    @TempDir
    Path tmp;

    private static byte[] md5(byte[] b) throws Exception {
        return MessageDigest.getInstance("MD5").digest(b);
    }

    /** A source that serves ranges of {@code stream} and counts the bytes it served. */
    private static SnapshotManifest.RangeSource source(byte[] stream, AtomicLong served) {
        return (offset, length) -> {
            served.addAndGet(length);
            return Arrays.copyOfRange(stream, (int) offset, (int) offset + length);
        };
    }

    private static Path writeStream(TestBrick b, Path file) throws IOException {
        b.brick.checkpoint();
        try (OutputStream out = Files.newOutputStream(file)) {
            b.brick.writeSnapshot(out);
        }
        return file;
    }

    @Test
    void aMemberFetchesOnlyTheFilesItDoesNotHold() throws Exception {
        try (TestBrick leader = new TestBrick(tmp.resolve("leader"));
                TestBrick member = new TestBrick(tmp.resolve("member"))) {
            long[] inodes = new long[6];
            for (int i = 0; i < inodes.length; i++) {
                inodes[i] = leader.create("/f" + i).inode();
                leader.write(inodes[i], 0, TestBrick.bytes(200_000 + i, inodes[i]));
            }
            Path first = writeStream(leader, tmp.resolve("first.snap"));
            try (var in = Files.newInputStream(first)) {
                member.brick.restoreSnapshot(in); // the member holds the state as it was
            }
            leader.write(inodes[1], 100, TestBrick.bytes(5000, 99)); // same length, new bytes
            leader.write(inodes[4], 0, TestBrick.bytes(300_000, 98)); // longer
            long fresh = leader.create("/new").inode();
            leader.write(fresh, 0, TestBrick.bytes(150_000, 97));
            Path second = writeStream(leader, tmp.resolve("second.snap"));
            byte[] stream = Files.readAllBytes(second);

            SnapshotManifest m = SnapshotManifest.scan(second, 3, 77, md5(stream), List.of("a:1", "b:2"));
            assertThat(m.files()).hasSize(7);
            assertThat(m.streamBytes()).isEqualTo(stream.length);
            assertThat(SnapshotManifest.decode(m.encode())).isEqualTo(m);

            AtomicLong served = new AtomicLong();
            Path out = tmp.resolve("assembled.snap");
            SnapshotManifest.Assembly a =
                    m.assemble(tmp.resolve("member").resolve("data"), source(stream, served), out, true);
            assertThat(Files.readAllBytes(out)).isEqualTo(stream);
            assertThat(a.reusedFiles()).as("unchanged files copied locally").isEqualTo(4);
            assertThat(a.fetchedFiles()).as("changed and new files fetched").isEqualTo(3);
            assertThat(a.fetchedBytes()).isEqualTo(served.get());
            assertThat(a.fetchedBytes() + a.reusedBytes() + 17L * m.files().size())
                    .isEqualTo(stream.length);
            assertThat(a.fetchedBytes()).isLessThan(stream.length / 2);
            assertThat(Files.exists(tmp.resolve("assembled.snap.tmp"))).isFalse();
        }
    }

    @Test
    void aLocalFileThatLiesAboutItsBytesCostsOneFullFetchNotAWrongStream() throws Exception {
        try (TestBrick leader = new TestBrick(tmp.resolve("leader"))) {
            long inode = leader.create("/f").inode();
            leader.write(inode, 0, TestBrick.bytes(200_000, 5));
            byte[] stream = Files.readAllBytes(writeStream(leader, tmp.resolve("s.snap")));
            // a manifest that claims a wrong MD5: nothing assembled passes, and nothing is left
            byte[] wrong = md5(stream);
            wrong[0] ^= 1;
            SnapshotManifest m = SnapshotManifest.scan(tmp.resolve("s.snap"), 1, 1, wrong, List.of());
            Path out = tmp.resolve("out.snap");
            assertThatThrownBy(() -> m.assemble(
                            tmp.resolve("leader").resolve("data"), source(stream, new AtomicLong()), out, true))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("does not match its MD5");
            assertThat(Files.exists(out)).isFalse();
            assertThat(Files.exists(tmp.resolve("out.snap.tmp"))).isFalse();
        }
    }

    @Test
    void corruptManifestsAreRefused() throws Exception {
        SnapshotManifest m = new SnapshotManifest(
                1, 2, 100, new byte[16], 40, List.of("x:1"), List.of(new SnapshotManifest.FileRecord(7, 40, 30, 123)));
        byte[] good = m.encode();
        assertThat(SnapshotManifest.decode(good)).isEqualTo(m);
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x10;
            assertThatThrownBy(() -> SnapshotManifest.decode(bad))
                    .isInstanceOf(HoldfastException.class)
                    .satisfies(e -> assertThat(((HoldfastException) e).errno()).isIn(Errno.EBADMSG, Errno.EPROTO));
        }
        for (int n = 0; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            assertThatThrownBy(() -> SnapshotManifest.decode(cut)).isInstanceOf(HoldfastException.class);
        }
    }
}
