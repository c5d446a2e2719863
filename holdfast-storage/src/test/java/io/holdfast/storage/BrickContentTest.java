package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static io.holdfast.storage.TestBrick.attr;
import static io.holdfast.storage.TestBrick.bytes;
import static io.holdfast.storage.TestBrick.errno;
import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.testing.TestSeed;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Random;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

class BrickContentTest extends BrickTestBase {
    /**
     * A write stamped at the client's time gives the file that time as its modification and change
     * time when it is near the entry's (never going back), the entry's time otherwise; the
     * answer says so, which is what a client predicting the attributes compares with.
     */
    @Test
    void aStampedWriteTakesTheClientsTimeWhenNearTheEntrys() {
        long f = b.create("/f").inode();
        long created = b.stat("/f").ctimeNanos();
        byte[] d = bytes(100, 1);
        b.timeNanos += 3_000_000_000L; // the next entry comes 3 s after the create
        long near = b.timeNanos - 2_000_000_000L + 1000; // 2 s behind the next entry's timestamp
        Attr a = attr(b.apply(new Request.Write(ROOT, f, 0, d, Checksums.crc32c(d), near)));
        assertThat(near).isGreaterThan(created);
        assertThat(a.mtimeNanos()).as("the client's time").isEqualTo(near);
        assertThat(a.ctimeNanos()).isEqualTo(a.mtimeNanos());
        assertThat(b.stat("/f")).isEqualTo(a);
        long far = b.timeNanos - Request.SetAttr.MAX_CLIENT_LAG_NANOS - 1_000_000L;
        Attr late = attr(b.apply(new Request.Write(ROOT, f, 100, d, Checksums.crc32c(d), far)));
        assertThat(late.mtimeNanos()).as("too far behind: the entry's time").isEqualTo(b.timeNanos);
        long ahead = b.timeNanos + 1000 + Request.SetAttr.MAX_CLIENT_LEAD_NANOS / 2;
        assertThat(attr(b.apply(new Request.Write(ROOT, f, 0, d, Checksums.crc32c(d), ahead)))
                        .ctimeNanos())
                .isEqualTo(ahead);
        long earlier = ahead - 1_000_000L; // within bounds but before the last change
        Attr kept = attr(b.apply(new Request.Write(ROOT, f, 0, d, Checksums.crc32c(d), earlier)));
        assertThat(kept.ctimeNanos()).as("never going back").isEqualTo(ahead);
        assertThat(kept.size()).isEqualTo(200);
    }

    @Test
    void inlineRoundTripShortReadAndPastEof() {
        long f = b.create("/f").inode();
        Attr a = b.write(f, 0, "hello world".getBytes());
        assertThat(a.size()).isEqualTo(11);
        assertThat(a.mtimeNanos()).isEqualTo(b.timeNanos);
        assertThat(b.read(f, 6, 100)).isEqualTo("world".getBytes());
        assertThat(b.read(f, 11, 10)).isEmpty();
        assertThat(b.read(f, 1000, 10)).isEmpty();
        assertThat(Files.exists(b.brick.dataPath(f))).isFalse();
    }

    @Test
    void holesReadAsZeros() {
        long f = b.create("/f").inode();
        b.write(f, 100, new byte[] {7});
        byte[] want = new byte[101];
        want[100] = 7;
        assertThat(b.read(f, 0, 1000)).isEqualTo(want);
        // large sparse file: write at 1 MiB + 5, the gap reads as zeros
        b.write(f, (1 << 20) + 5, new byte[] {9, 9});
        assertThat(b.stat("/f").size()).isEqualTo((1 << 20) + 7);
        byte[] mid = b.read(f, 90, 300_000);
        byte[] wantMid = new byte[300_000];
        wantMid[10] = 7;
        assertThat(mid).isEqualTo(wantMid);
        assertThat(b.read(f, 1 << 20, 100)).isEqualTo(new byte[] {0, 0, 0, 0, 0, 9, 9});
    }

    @Test
    void promotionAcrossTheInlineLimitAndRandomWritesMatchAModel() {
        long f = b.create("/f").inode();
        byte[] model = new byte[0];
        Random rnd = TestSeed.random("BrickContentTest");
        for (int i = 0; i < 60; i++) {
            if (rnd.nextInt(6) == 0) {
                int size = rnd.nextInt(300_000);
                b.apply(new Request.Truncate(ROOT, f, size));
                model = Arrays.copyOf(model, size);
            } else {
                int off = rnd.nextInt(250_000);
                byte[] d = bytes(1 + rnd.nextInt(rnd.nextBoolean() ? 100 : 80_000), i);
                b.write(f, off, d);
                if (off + d.length > model.length) {
                    model = Arrays.copyOf(model, off + d.length);
                }
                System.arraycopy(d, 0, model, off, d.length);
            }
            assertThat(b.stat("/f").size()).isEqualTo(model.length);
            int off = rnd.nextInt(model.length + 1);
            assertThat(b.read(f, off, 200_000))
                    .isEqualTo(Arrays.copyOfRange(model, off, Math.min(model.length, off + 200_000)));
        }
        assertThat(b.read(f, 0, Limits.MAX_DATA_BYTES))
                .isEqualTo(Arrays.copyOf(model, Math.min(model.length, Limits.MAX_DATA_BYTES)));
    }

    @Test
    void promotionAtExactlyTheLimitAndTruncateBackKeepsContent() {
        long f = b.create("/f").inode();
        byte[] d = bytes(65536, 1);
        b.write(f, 0, d);
        assertThat(Files.exists(b.brick.dataPath(f))).isFalse();
        b.write(f, 65536, new byte[] {1});
        assertThat(Files.exists(b.brick.dataPath(f))).isTrue();
        assertThat(b.read(f, 0, 65536)).isEqualTo(d);
        b.apply(new Request.Truncate(ROOT, f, 10));
        assertThat(b.read(f, 0, 100)).isEqualTo(Arrays.copyOf(d, 10));
        b.apply(new Request.Truncate(ROOT, f, 70_000));
        byte[] want = new byte[70_000];
        System.arraycopy(d, 0, want, 0, 10);
        assertThat(b.read(f, 0, 100_000)).isEqualTo(want);
        // inline truncate grow and shrink
        long g = b.create("/g").inode();
        b.write(g, 0, new byte[] {1, 2, 3});
        b.apply(new Request.Truncate(ROOT, g, 5));
        assertThat(b.read(g, 0, 10)).isEqualTo(new byte[] {1, 2, 3, 0, 0});
        b.apply(new Request.Truncate(ROOT, g, 1));
        assertThat(b.read(g, 0, 10)).isEqualTo(new byte[] {1});
    }

    @Test
    void writeAndTruncateErrors() {
        long f = b.create("/f").inode();
        byte[] d = {1, 2, 3};
        assertThat(errno(b.apply(new Request.Write(ROOT, f, 0, d, 12345)))).isEqualTo(Errno.EBADMSG);
        assertThat(b.stat("/f").size()).isZero();
        assertThat(errno(b.apply(TestBrick.write(ROOT, f, Limits.MAX_FILE_SIZE - 2, d))))
                .isEqualTo(Errno.EFBIG);
        assertThat(errno(b.apply(TestBrick.write(ROOT, f, -1, d)))).isEqualTo(Errno.EINVAL);
        assertThat(errno(b.apply(TestBrick.write(ROOT, 999, 0, d)))).isEqualTo(Errno.ENOENT);
        assertThat(errno(b.apply(TestBrick.write(ROOT, 1, 0, d)))).isEqualTo(Errno.EISDIR);
        assertThat(errno(b.apply(new Request.Truncate(ROOT, 1, 0)))).isEqualTo(Errno.EISDIR);
        assertThat(errno(b.apply(new Request.Truncate(ROOT, f, Limits.MAX_FILE_SIZE + 1))))
                .isEqualTo(Errno.EFBIG);
        assertThat(errno(b.query(new Request.Read(f, 0, Limits.MAX_DATA_BYTES + 1))))
                .isEqualTo(Errno.EINVAL);
        assertThat(errno(b.query(new Request.Read(1, 0, 1)))).isEqualTo(Errno.EISDIR);
        assertThat(b.brick.appliedIndex()).isEqualTo(8); // errors still advance the applied index
    }

    @Test
    void writeByNonRootClearsSetuidAndSetgid() {
        long f = b.create("/f").inode();
        b.apply(new Request.SetAttr(ROOT, "/f", Request.SetAttr.MODE, 06755, 0, 0, 0, 0));
        b.write(f, 0, new byte[] {1});
        assertThat(b.stat("/f").mode()).isEqualTo(06755);
        b.apply(TestBrick.write(new Caller(5, 5, new int[0]), f, 0, new byte[] {2}));
        assertThat(b.stat("/f").mode()).isEqualTo(0755);
    }

    @Test
    void flippedByteInDataFileGivesEioNeverTheBytes() throws Exception {
        long f = b.create("/f").inode();
        byte[] d = bytes(200_000, 5);
        b.write(f, 0, d);
        try (RandomAccessFile raf = new RandomAccessFile(b.brick.dataPath(f).toFile(), "rw")) {
            raf.seek(70_000);
            int x = raf.read();
            raf.seek(70_000);
            raf.write(x ^ 1);
        }
        Response r = b.query(new Request.Read(f, 66_000, 10));
        assertThat(errno(r)).isEqualTo(Errno.EIO);
        assertThat(((Response.Error) r).message()).contains("corrupt block 1 of inode " + f);
        assertThat(b.read(f, 0, 65536)).isEqualTo(Arrays.copyOf(d, 65536)); // other blocks are fine
        // a partial write into the corrupt block is a brick failure, not laundering
        Assertions.assertThatThrownBy(() -> b.brick.apply(
                        b.brick.appliedIndex() + 1, new LogEntry(1, TestBrick.write(ROOT, f, 70_001, new byte[] {1}))))
                .isInstanceOf(HoldfastException.class)
                .hasMessageContaining("corrupt block 1");
        assertThat(b.brick.appliedIndex()).isEqualTo(2);
    }

    @Test
    void flippedByteInInlineContentGivesEio() throws Exception {
        long f = b.create("/f").inode();
        b.write(f, 0, "secret".getBytes());
        b.brick.checkpoint();
        b.brick.close();
        try (Options o = new Options();
                RocksDB db = RocksDB.open(o, tmp.resolve("brick/meta").toString())) {
            byte[] key = Keys.id(Keys.INLINE, f);
            byte[] v = db.get(key);
            v[6] ^= 1;
            db.put(key, v);
        }
        b.brick = Brick.open(tmp.resolve("brick"));
        Response r = b.query(new Request.Read(f, 0, 10));
        assertThat(errno(r)).isEqualTo(Errno.EIO);
        assertThat(((Response.Error) r).message()).contains("inode " + f);
        assertThat(errno(b.query(new Request.GetDigest()))).isEqualTo(Errno.EIO);
    }

    @Test
    void unlinkDeletesDataFileAndOrphanStaysReadable() {
        long f = b.create("/f").inode();
        b.write(f, 0, bytes(100_000, 6));
        Attr a = attr(b.apply(new Request.Unlink(ROOT, "/f", true)));
        assertThat(a.nlink()).isZero();
        assertThat(attr(b.query(new Request.GetAttrByInode(f))).nlink()).isZero();
        b.write(f, 0, new byte[] {1});
        assertThat(b.read(f, 0, 2)).hasSize(2);
        assertThat(errno(b.apply(new Request.DropOrphan(ROOT, f)))).isEqualTo(Errno.OK);
        assertThat(Files.exists(b.brick.dataPath(f))).isFalse();
        assertThat(errno(b.query(new Request.GetAttrByInode(f)))).isEqualTo(Errno.ENOENT);
        assertThat(errno(b.apply(new Request.DropOrphan(ROOT, f)))).isEqualTo(Errno.ENOENT);
        long g = b.create("/g").inode();
        b.write(g, 0, bytes(100_000, 7));
        b.apply(new Request.Unlink(ROOT, "/g", false));
        assertThat(Files.exists(b.brick.dataPath(g))).isFalse();
        assertThat(errno(b.query(new Request.GetAttrByInode(g)))).isEqualTo(Errno.ENOENT);
        assertThat(errno(b.query(new Request.Read(g, 0, 1)))).isEqualTo(Errno.ENOENT);
    }
}
