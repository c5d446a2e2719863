package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static io.holdfast.storage.TestBrick.attr;
import static io.holdfast.storage.TestBrick.bytes;
import static io.holdfast.storage.TestBrick.errno;
import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Request.Fallocate;
import io.holdfast.protocol.Response;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Linux fallocate(2) and lseek(2) SEEK_DATA / SEEK_HOLE on a brick: every mode on inline and
 * data-file content, partial and whole 64 KiB blocks, block edges, EOF, CRCs of partly zeroed
 * blocks (every read verifies them), the digest, and the hole answers.
 */
class BrickFallocateTest extends BrickTestBase {
    private static final int B = ContentStore.BLOCK_BYTES;
    private static final int KEEP = Fallocate.KEEP_SIZE;
    private static final int PUNCH = Fallocate.PUNCH_HOLE | Fallocate.KEEP_SIZE;
    private static final int ZERO = Fallocate.ZERO_RANGE;

    private Response fallocate(long inode, int mode, long off, long len) {
        return b.apply(new Fallocate(ROOT, inode, mode, off, len));
    }

    private long size(long inode) {
        return attr(b.query(new Request.GetAttrByInode(inode))).size();
    }

    private byte[] readAll(long inode) {
        long size = size(inode);
        byte[] out = new byte[(int) size];
        for (int at = 0; at < size; at += Limits.MAX_DATA_BYTES) {
            byte[] part = b.read(inode, at, Limits.MAX_DATA_BYTES);
            System.arraycopy(part, 0, out, at, part.length);
        }
        return out;
    }

    /** A file of {@code size} random bytes (in a data file if over 64 KiB). */
    private long file(String path, int size, long seed) {
        long f = b.create(path).inode();
        byte[] d = bytes(size, seed);
        for (int at = 0; at < size; at += Limits.MAX_DATA_BYTES) {
            b.write(f, at, Arrays.copyOfRange(d, at, Math.min(size, at + Limits.MAX_DATA_BYTES)));
        }
        return f;
    }

    private long seek(long inode, long off, boolean hole) {
        Response r = b.query(new Request.SeekData(inode, off, hole));
        assertThat(r).as("seek %s %d", hole ? "hole" : "data", off).isInstanceOf(Response.Offset.class);
        return ((Response.Offset) r).offset();
    }

    private Errno seekErrno(long inode, long off, boolean hole) {
        return errno(b.query(new Request.SeekData(inode, off, hole)));
    }

    /** Every block of a data file passes its stored CRC (or reads as zeros without one). */
    private void allBlocksGood(long inode) throws IOException {
        long size = size(inode);
        for (long blk = 0; blk * B < size; blk++) {
            assertThat(b.brick.blocks().verifyBlock(inode, blk).status())
                    .as("block %d", blk)
                    .isEqualTo(BlockRepair.BlockCheck.Status.GOOD);
        }
    }

    private static byte[] zeroed(byte[] model, long from, long to) {
        byte[] m = model.clone();
        if (from < m.length) {
            Arrays.fill(m, (int) from, (int) Math.min(to, m.length), (byte) 0);
        }
        return m;
    }

    @Test
    void badArgumentsAndModesAreRefusedInLinuxOrder() {
        long f = file("/f", 100, 1);
        long d = b.mkdir("/d").inode();
        assertThat(errno(fallocate(f, 0, -1, 10))).isEqualTo(Errno.EINVAL);
        assertThat(errno(fallocate(f, 0, 0, 0))).isEqualTo(Errno.EINVAL);
        assertThat(errno(fallocate(f, 0, 0, -5))).isEqualTo(Errno.EINVAL);
        assertThat(errno(fallocate(f, 0x99, -1, 10)))
                .as("EINVAL before EOPNOTSUPP")
                .isEqualTo(Errno.EINVAL);
        assertThat(errno(fallocate(f, Fallocate.PUNCH_HOLE, 0, 10)))
                .as("punch without keep size")
                .isEqualTo(Errno.ENOTSUP);
        assertThat(errno(fallocate(f, Fallocate.PUNCH_HOLE | Fallocate.ZERO_RANGE | KEEP, 0, 10)))
                .isEqualTo(Errno.ENOTSUP);
        assertThat(errno(fallocate(f, 0x08, 0, 10))).as("collapse range").isEqualTo(Errno.ENOTSUP);
        assertThat(errno(fallocate(f, 0x20, 0, 10))).as("insert range").isEqualTo(Errno.ENOTSUP);
        assertThat(errno(fallocate(f, 0, Limits.MAX_FILE_SIZE, 1))).isEqualTo(Errno.EFBIG);
        assertThat(errno(fallocate(f, 0, 1, Long.MAX_VALUE))).isEqualTo(Errno.EFBIG);
        assertThat(errno(fallocate(f, KEEP, Long.MAX_VALUE - 1, 2))).isEqualTo(Errno.EFBIG);
        assertThat(errno(fallocate(f, 0, 0, Limits.MAX_FILE_SIZE)))
                .as("exactly the largest size")
                .isEqualTo(Errno.OK);
        assertThat(size(f)).isEqualTo(Limits.MAX_FILE_SIZE);
        assertThat(errno(fallocate(d, 0, 0, 10))).isEqualTo(Errno.EISDIR);
        assertThat(errno(fallocate(999, 0, 0, 10))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void allocationExtendsTheSizeWithAHoleOrKeepsIt() throws IOException {
        long f = file("/f", 1000, 2);
        byte[] model = readAll(f);
        long before = b.timeNanos;
        Attr same = attr(fallocate(f, 0, 0, 1000));
        assertThat(same.size()).isEqualTo(1000);
        assertThat(same.mtimeNanos())
                .as("allocation inside the size changes nothing")
                .isLessThanOrEqualTo(before);
        assertThat(attr(fallocate(f, KEEP, 500, 1 << 20)).size()).isEqualTo(1000);
        Attr grown = attr(fallocate(f, 0, 1000, 3 * B)); // at EOF, past the inline limit: promoted
        assertThat(grown.size()).isEqualTo(1000 + 3 * B);
        assertThat(grown.mtimeNanos()).isEqualTo(b.timeNanos);
        assertThat(readAll(f)).isEqualTo(Arrays.copyOf(model, 1000 + 3 * B));
        allBlocksGood(f);
        assertThat(seek(f, 0, true))
                .as("the allocated blocks are holes (Linux: unwritten extents)")
                .isEqualTo(B);
        assertThat(attr(fallocate(f, 0, 10 * B, 1)).size()).as("past EOF").isEqualTo(10 * B + 1);
        assertThat(readAll(f)).isEqualTo(Arrays.copyOf(model, 10 * B + 1));
    }

    @Test
    void punchingPartialAndWholeBlocksReadsZerosKeepsSizeAndRecomputesCrcs() throws IOException {
        int size = 5 * B + 1234;
        long f = file("/f", size, 3);
        byte[] model = readAll(f);
        // partial block 1, whole blocks 2 and 3, partial block 4
        Attr a = attr(fallocate(f, PUNCH, B + 100, 3 * B));
        assertThat(a.size()).isEqualTo(size);
        model = zeroed(model, B + 100, 4 * B + 100);
        assertThat(readAll(f)).isEqualTo(model);
        allBlocksGood(f);
        assertThat(seek(f, 0, true)).isEqualTo(2 * B);
        assertThat(seek(f, 2 * B, false)).isEqualTo(4 * B);
        // exactly one block on its edges
        fallocate(f, PUNCH, 0, B);
        model = zeroed(model, 0, B);
        assertThat(readAll(f)).isEqualTo(model);
        assertThat(seek(f, 0, false)).isEqualTo(B);
        // within one block, not touching its edges
        fallocate(f, PUNCH, 4 * B + 10, 20);
        model = zeroed(model, 4 * B + 10, 4 * B + 30);
        // to EOF and beyond: the partial last block is covered whole and becomes a hole
        fallocate(f, PUNCH, 5 * B, 1 << 20);
        model = zeroed(model, 5 * B, size);
        assertThat(size(f)).isEqualTo(size);
        assertThat(readAll(f)).isEqualTo(model);
        allBlocksGood(f);
        assertThat(seek(f, 0, false)).isEqualTo(B);
        assertThat(seek(f, B, true)).isEqualTo(2 * B);
        assertThat(seek(f, 2 * B, false)).isEqualTo(4 * B);
        assertThat(seek(f, 4 * B, true)).isEqualTo(5 * B);
        assertThat(seekErrno(f, 5 * B, false)).as("no data after the last data").isEqualTo(Errno.ENXIO);
        // at and past EOF: nothing to do
        assertThat(errno(fallocate(f, PUNCH, size, 10))).isEqualTo(Errno.OK);
        assertThat(errno(fallocate(f, PUNCH, size + 1000, 10))).isEqualTo(Errno.OK);
        assertThat(readAll(f)).isEqualTo(model);
    }

    @Test
    void punchingADataFileReleasesItsStorageAndTheBytesAreZeros() throws IOException {
        long f = file("/f", 8 * B, 4);
        fallocate(f, PUNCH, B, 6 * B);
        byte[] physical = Files.readAllBytes(b.brick.dataPath(f));
        assertThat(physical).hasSize(8 * B);
        assertThat(Arrays.copyOfRange(physical, B, 7 * B)).isEqualTo(new byte[6 * B]);
        // a checkpoint, then a reopen: the punched range still reads as zeros and passes the checks
        b.brick.checkpoint();
        b.reopen();
        allBlocksGood(f);
        assertThat(Arrays.copyOfRange(readAll(f), B, 7 * B)).isEqualTo(new byte[6 * B]);
    }

    @Test
    void punchingInlineContentZerosItInPlace() {
        long f = file("/f", 5000, 5);
        byte[] model = zeroed(readAll(f), 0, 4000);
        assertThat(attr(fallocate(f, PUNCH, 0, 4000)).size()).isEqualTo(5000);
        assertThat(readAll(f)).isEqualTo(model);
        assertThat(seek(f, 0, false)).as("inline content has no holes").isZero();
        assertThat(seek(f, 0, true)).isEqualTo(5000);
    }

    @Test
    void zeroRangeKeepsOrExtendsTheSize() throws IOException {
        int size = 3 * B + 500;
        long f = file("/f", size, 6);
        byte[] model = readAll(f);
        assertThat(attr(fallocate(f, ZERO | KEEP, 2 * B + 7, 10 * B)).size()).isEqualTo(size);
        model = zeroed(model, 2 * B + 7, size);
        assertThat(readAll(f)).isEqualTo(model);
        allBlocksGood(f);
        // without KEEP_SIZE, from inside the old last (partial) block past the end
        assertThat(attr(fallocate(f, ZERO, 3 * B + 100, 4 * B)).size()).isEqualTo(7 * B + 100);
        model = Arrays.copyOf(zeroed(model, 3 * B + 100, size), 7 * B + 100);
        assertThat(readAll(f)).isEqualTo(model);
        allBlocksGood(f);
        // covering the old last block whole, from its start, past the end
        long g = file("/g", 2 * B + 300, 7);
        byte[] gm = readAll(g);
        assertThat(attr(fallocate(g, ZERO, 2 * B, 2 * B)).size()).isEqualTo(4 * B);
        gm = Arrays.copyOf(zeroed(gm, 2 * B, 4 * B), 4 * B);
        assertThat(readAll(g)).isEqualTo(gm);
        allBlocksGood(g);
        assertThat(seek(g, 0, true)).isEqualTo(2 * B);
        assertThat(seekErrno(g, 2 * B, false)).isEqualTo(Errno.ENXIO);
    }

    @Test
    void zeroRangeOnInlineContentThatGrowsPastTheInlineLimit() throws IOException {
        long f = file("/f", 60_000, 8);
        byte[] model = readAll(f);
        assertThat(attr(fallocate(f, ZERO, 1000, 100_000)).size()).isEqualTo(101_000);
        model = Arrays.copyOf(zeroed(model, 1000, 60_000), 101_000);
        assertThat(readAll(f)).isEqualTo(model);
        allBlocksGood(f);
        long g = file("/g", 60_000, 9);
        assertThat(attr(fallocate(g, ZERO, 0, 2 * B)).size()).isEqualTo(2 * B);
        assertThat(readAll(g)).isEqualTo(new byte[2 * B]);
        allBlocksGood(g);
    }

    @Test
    void randomOperationsMatchAModel() throws IOException {
        Random rnd = TestSeed.random("BrickFallocateTest");
        long f = b.create("/f").inode();
        byte[] model = new byte[0];
        int[] modes = {0, KEEP, PUNCH, ZERO, ZERO | KEEP};
        for (int i = 0; i < 200; i++) {
            int op = rnd.nextInt(3);
            long off = rnd.nextBoolean() ? rnd.nextInt(6) * (long) B + rnd.nextInt(3) - 1 : rnd.nextInt(400_000);
            off = Math.max(0, off);
            if (op == 0) {
                byte[] d = bytes(1 + rnd.nextInt(rnd.nextBoolean() ? 300 : 100_000), i);
                b.write(f, off, d);
                if (off + d.length > model.length) {
                    model = Arrays.copyOf(model, (int) off + d.length);
                }
                System.arraycopy(d, 0, model, (int) off, d.length);
            } else {
                int mode = modes[rnd.nextInt(modes.length)];
                long len = 1 + (rnd.nextBoolean() ? rnd.nextInt(3) * (long) B + rnd.nextInt(3) : rnd.nextInt(200_000));
                assertThat(errno(fallocate(f, mode, off, len))).isEqualTo(Errno.OK);
                if ((mode & (Fallocate.PUNCH_HOLE | ZERO)) != 0) {
                    model = zeroed(model, off, off + len);
                }
                if ((mode & KEEP) == 0 && off + len > model.length) {
                    model = Arrays.copyOf(model, (int) (off + len));
                }
            }
            assertThat(size(f)).as("step %d", i).isEqualTo(model.length);
            assertThat(readAll(f)).as("step %d", i).isEqualTo(model);
            // every reported hole reads as zeros, and every byte before the first data is in a hole
            if (model.length > 0) {
                long at = rnd.nextInt(model.length);
                long hole = seek(f, at, true);
                assertThat(hole).isBetween(at, (long) model.length);
                if (hole < model.length) {
                    long next = seekErrno(f, hole, false) == Errno.ENXIO ? model.length : seek(f, hole, false);
                    assertThat(next).isGreaterThan(hole);
                    assertThat(Arrays.copyOfRange(model, (int) hole, (int) next))
                            .isEqualTo(new byte[(int) (next - hole)]);
                }
            }
        }
        allBlocksGood(f);
    }

    @Test
    void clearsSetIdBitsForAnotherCallerAsAWriteDoes() {
        long f = file("/f", 100, 10);
        b.apply(new Request.SetAttr(ROOT, "/f", Request.SetAttr.MODE, 06755, 0, 0, 0, 0));
        fallocate(f, KEEP, 0, 10);
        assertThat(b.stat("/f").mode() & 07777).as("root keeps them").isEqualTo(06755);
        Caller other = new Caller(1000, 1000, new int[0]);
        Attr a = attr(b.apply(new Fallocate(other, f, PUNCH, 0, 10)));
        assertThat(a.mode() & 07777).isEqualTo(0755);
    }

    @Test
    void theDigestChangesWithEachChangeAndNotForANoOp() throws IOException {
        long f = file("/f", 4 * B, 12);
        try (TestBrick other = new TestBrick(tmp.resolve("other"))) {
            for (var e : b.log) {
                other.applyEntry(e);
            }
            fallocate(f, KEEP, 0, B);
            other.apply(new Fallocate(ROOT, f, KEEP, -1, B)); // an error: changes nothing but the index
            assertThat(b.digest().sha256())
                    .as("allocation inside the size changes no state")
                    .isEqualTo(other.digest().sha256());
        }
        byte[] before = b.digest().sha256();
        fallocate(f, PUNCH, B, B);
        byte[] punched = b.digest().sha256();
        assertThat(punched).isNotEqualTo(before);
        fallocate(f, ZERO | KEEP, 3 * B, 10);
        assertThat(b.digest().sha256()).isNotEqualTo(punched);
    }

    @Test
    void seekAnswersOnInlineSparseAndEmptyFiles() {
        long e = b.create("/e").inode();
        assertThat(seekErrno(e, 0, false)).isEqualTo(Errno.ENXIO);
        assertThat(seekErrno(e, 0, true)).isEqualTo(Errno.ENXIO);
        long i = file("/i", 10, 13);
        assertThat(seek(i, 3, false)).isEqualTo(3);
        assertThat(seek(i, 3, true)).isEqualTo(10);
        assertThat(seekErrno(i, 10, false)).isEqualTo(Errno.ENXIO);
        assertThat(seekErrno(i, -1, true)).isEqualTo(Errno.ENXIO);
        long s = b.create("/s").inode();
        b.write(s, 0, bytes(10, 14));
        b.write(s, 200_000, bytes(10, 15)); // data: block 0 and block 3 (196608..)
        assertThat(seek(s, 0, false)).isZero();
        assertThat(seek(s, 5, true)).isEqualTo(B);
        assertThat(seek(s, B, false)).isEqualTo(3 * B);
        assertThat(seek(s, 100_000, true)).isEqualTo(100_000);
        assertThat(seek(s, 3 * B, true))
                .as("a file with no more holes has one at EOF")
                .isEqualTo(200_010);
        assertThat(seek(s, 200_005, false)).isEqualTo(200_005);
        b.apply(new Request.Truncate(ROOT, s, 400_000));
        assertThat(seekErrno(s, 300_000, false)).isEqualTo(Errno.ENXIO);
        assertThat(seek(s, 300_000, true)).isEqualTo(300_000);
        assertThat(seek(s, 3 * B, true))
                .as("the rest of the old last block is data")
                .isEqualTo(4 * B);
        long d = b.mkdir("/d").inode();
        assertThat(seekErrno(d, 0, false)).isEqualTo(Errno.EISDIR);
        assertThat(seekErrno(999, 0, false)).isEqualTo(Errno.ENOENT);
    }
}
