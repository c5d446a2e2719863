package io.holdfast.storage;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A seeded generator of mutations over a small namespace (names a..d, depth <= 3), biased to
 * hit existing files with writes that cross the inline limit and block boundaries. Inode
 * numbers for writes come from the replies the caller feeds back with {@link #observe}.
 */
final class RandomOps {
    private static final String[] NAMES = {"a", "b", "c", "d"};
    /** The supported fallocate modes, and one that is not (PUNCH_HOLE without KEEP_SIZE). */
    private static final int[] FALLOCATE_MODES = {0, 1, 3, 0x10, 0x11, 2};

    private final Random rnd;
    private final List<Long> inodes = new ArrayList<>();
    private final Caller[] callers = {
        Caller.ROOT, new Caller(1000, 1000, new int[] {50}), new Caller(1001, 50, new int[0])
    };

    RandomOps(long seed) {
        this.rnd = new Random(seed);
    }

    void observe(Response r) {
        if (r instanceof Response.AttrReply a
                && a.attr().type() == FileType.FILE
                && !inodes.contains(a.attr().inode())) {
            inodes.add(a.attr().inode());
        }
    }

    private String path() {
        int depth = 1 + rnd.nextInt(3);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < depth; i++) {
            sb.append('/').append(NAMES[rnd.nextInt(NAMES.length)]);
        }
        return sb.toString();
    }

    private long inode() {
        if (inodes.isEmpty() || rnd.nextInt(20) == 0) {
            return 1 + rnd.nextInt(30);
        }
        return inodes.get(rnd.nextInt(inodes.size()));
    }

    private long offset() {
        return switch (rnd.nextInt(4)) {
            case 0 -> rnd.nextInt(100);
            case 1 -> 60_000 + rnd.nextInt(10_000);
            case 2 -> rnd.nextInt(3) * 65536L + rnd.nextInt(3) - 1 + 65536;
            default -> rnd.nextInt(300_000);
        };
    }

    private byte[] data() {
        int n = switch (rnd.nextInt(3)) {
            case 0 -> 1 + rnd.nextInt(200);
            case 1 -> 1 + rnd.nextInt(20_000);
            default -> 1 + rnd.nextInt(140_000);
        };
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** FIFO, character and block device, socket, regular (mknod can make those too) and directory (refused). */
    private static final int[] SPECIAL_TYPES = {0010000, 0020000, 0060000, 0140000, 0100000, 0040000};

    Request.Mutation next() {
        Caller c = rnd.nextInt(5) == 0 ? callers[1 + rnd.nextInt(2)] : Caller.ROOT;
        return switch (rnd.nextInt(18)) {
            case 0, 1 -> new Request.Mkdir(c, path(), rnd.nextBoolean() ? 0755 : 0777);
            case 2, 3 -> new Request.Create(c, path(), 0644, rnd.nextBoolean());
            case 4, 5, 6, 7 -> {
                byte[] d = data();
                yield new Request.Write(c, inode(), offset(), d, Checksums.crc32c(d));
            }
            case 8 -> new Request.Truncate(c, inode(), rnd.nextBoolean() ? rnd.nextInt(70_000) : rnd.nextInt(400_000));
            case 9 -> new Request.Unlink(c, path(), rnd.nextBoolean());
            case 10 -> new Request.Rmdir(c, path());
            case 11 -> new Request.Rename(c, path(), path(), rnd.nextInt(4) == 0 ? Request.Rename.NOREPLACE : 0);
            case 12 -> new Request.Link(c, path(), path());
            case 13 -> new Request.SetXattr(c, path(), "user." + NAMES[rnd.nextInt(4)], data0(), 0);
            case 14 ->
                new Request.SetAttr(
                        c, path(), Request.SetAttr.MODE | Request.SetAttr.MTIME_NOW, rnd.nextInt(01000), 0, 0, 0, 0);
            case 16, 17 ->
                new Request.Fallocate(
                        c,
                        inode(),
                        FALLOCATE_MODES[rnd.nextInt(FALLOCATE_MODES.length)],
                        rnd.nextInt(8) == 0 ? -1 : offset(),
                        rnd.nextInt(8) == 0 ? 0 : 1 + rnd.nextInt(rnd.nextBoolean() ? 200_000 : 3000));
            default ->
                switch (rnd.nextInt(3)) {
                    case 0 -> new Request.DropOrphan(c, inode());
                    case 1 -> new Request.Symlink(c, path(), rnd.nextBoolean() ? "a/b" : "/c");
                    default ->
                        new Request.Mknod(
                                c,
                                path(),
                                SPECIAL_TYPES[rnd.nextInt(SPECIAL_TYPES.length)] | 0640,
                                rnd.nextInt(3) * 0x100L + rnd.nextInt(3));
                };
        };
    }

    private byte[] data0() {
        byte[] b = new byte[rnd.nextInt(50)];
        rnd.nextBytes(b);
        return b;
    }
}
