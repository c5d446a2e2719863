package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static io.holdfast.storage.TestBrick.attr;
import static io.holdfast.storage.TestBrick.errno;
import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.assertj.core.api.Assertions;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.Test;

/** Special files ({@link Request.Mknod}): FIFOs, device nodes and sockets as inodes of the volume. */
class BrickSpecialFileTest extends BrickTestBase {
    static final int S_IFIFO = 0010000;
    static final int S_IFCHR = 0020000;
    static final int S_IFBLK = 0060000;
    static final int S_IFSOCK = 0140000;
    static final int S_IFREG = 0100000;
    static final int S_IFDIR = 0040000;
    static final int S_IFLNK = 0120000;
    /** makedev(1, 3): /dev/null. */
    static final long DEV_NULL = 0x103;
    /** makedev(7, 0): /dev/loop0. */
    static final long LOOP0 = 0x700;

    private static final Caller ALICE = new Caller(1000, 1000, new int[0]);

    private Attr mknod(Caller c, String path, int mode, long rdev) {
        return attr(b.apply(new Request.Mknod(c, path, mode, rdev)));
    }

    @Test
    void eachTypeIsCreatedWithItsModeAndTheDevicesKeepTheirRdev() {
        Attr fifo = mknod(ROOT, "/fifo", S_IFIFO | 0640, 0);
        Attr chr = mknod(ROOT, "/null", S_IFCHR | 0666, DEV_NULL);
        Attr blk = mknod(ROOT, "/loop0", S_IFBLK | 0660, LOOP0);
        Attr sock = mknod(ROOT, "/sock", S_IFSOCK | 0755, 0);
        assertThat(fifo.type()).isEqualTo(FileType.FIFO);
        assertThat(fifo.stMode()).isEqualTo(S_IFIFO | 0640);
        assertThat(chr.type()).isEqualTo(FileType.CHARACTER_DEVICE);
        assertThat(chr.rdev()).isEqualTo(DEV_NULL);
        assertThat(blk.type()).isEqualTo(FileType.BLOCK_DEVICE);
        assertThat(blk.stMode()).isEqualTo(S_IFBLK | 0660);
        assertThat(blk.rdev()).isEqualTo(LOOP0);
        assertThat(sock.type()).isEqualTo(FileType.SOCKET);
        assertThat(sock.stMode()).isEqualTo(S_IFSOCK | 0755);
        for (Attr a : new Attr[] {fifo, chr, blk, sock}) {
            assertThat(a.nlink()).isEqualTo(1);
            assertThat(a.size()).isZero();
            assertThat(a.uid()).isZero();
        }
        // stat by path and by inode gives what the reply said
        assertThat(b.stat("/null")).isEqualTo(chr);
        assertThat(attr(b.query(new Request.GetAttrByInode(blk.inode())))).isEqualTo(blk);
        assertThat(attr(b.query(new Request.GetAttr("/loop0", true)))).isEqualTo(blk);
        // a FIFO or socket keeps no device number, whatever the request said
        assertThat(mknod(ROOT, "/fifo2", S_IFIFO | 0600, DEV_NULL).rdev()).isZero();
        // the parent changed, and the listing names the types
        assertThat(b.stat("/").mtimeNanos()).isEqualTo(b.timeNanos);
        Response.DirPage page = (Response.DirPage) b.query(new Request.ReadDir("/", "", 100));
        assertThat(page.entries())
                .extracting(DirEntry::name, DirEntry::type)
                .containsExactly(
                        Tuple.tuple("fifo", FileType.FIFO),
                        Tuple.tuple("fifo2", FileType.FIFO),
                        Tuple.tuple("loop0", FileType.BLOCK_DEVICE),
                        Tuple.tuple("null", FileType.CHARACTER_DEVICE),
                        Tuple.tuple("sock", FileType.SOCKET));
        Response.FsStats s = (Response.FsStats) b.query(new Request.StatFs());
        assertThat(s.files()).isEqualTo(6);
    }

    @Test
    void regularTypeOrNoneMakesAnEmptyFileAndOtherTypesAreRefused() {
        Attr f = mknod(ROOT, "/f", S_IFREG | 0600, DEV_NULL);
        assertThat(f.type()).isEqualTo(FileType.FILE);
        assertThat(f.rdev()).isZero();
        assertThat(mknod(ROOT, "/g", 0644, 0).stMode()).isEqualTo(S_IFREG | 0644);
        assertThat(ap(new Request.Mknod(ROOT, "/d", S_IFDIR | 0755, 0))).isEqualTo(Errno.EPERM);
        assertThat(ap(new Request.Mknod(ROOT, "/l", S_IFLNK | 0777, 0))).isEqualTo(Errno.EINVAL);
        assertThat(ap(new Request.Mknod(ROOT, "/x", 0030000 | 0644, 0))).isEqualTo(Errno.EINVAL);
        assertThat(ap(new Request.Mknod(ROOT, "/y", 0170000 | 0644, 0))).isEqualTo(Errno.EINVAL);
        assertThat(ap(new Request.Mknod(ROOT, "/z", 01000000 | S_IFIFO | 0644, 0)))
                .isEqualTo(Errno.EINVAL);
        assertThat(b.statErrno("/d")).isEqualTo(Errno.ENOENT);
        assertThat(b.statErrno("/x")).isEqualTo(Errno.ENOENT);
    }

    @Test
    void existingNamesAndMissingParentsAreRefused() {
        b.create("/f");
        mknod(ROOT, "/p", S_IFIFO | 0644, 0);
        assertThat(ap(new Request.Mknod(ROOT, "/f", S_IFIFO | 0644, 0))).isEqualTo(Errno.EEXIST);
        assertThat(ap(new Request.Mknod(ROOT, "/p", S_IFCHR | 0644, DEV_NULL))).isEqualTo(Errno.EEXIST);
        assertThat(ap(new Request.Mknod(ROOT, "/", S_IFIFO | 0644, 0))).isEqualTo(Errno.EEXIST);
        assertThat(ap(new Request.Mknod(ROOT, "/nope/p", S_IFIFO | 0644, 0))).isEqualTo(Errno.ENOENT);
        assertThat(ap(new Request.Mknod(ROOT, "/p/q", S_IFIFO | 0644, 0))).isEqualTo(Errno.ENOTDIR);
        assertThat(ap(new Request.Mknod(ROOT, "relative", S_IFIFO | 0644, 0))).isEqualTo(Errno.EINVAL);
        assertThat(b.stat("/p").type()).isEqualTo(FileType.FIFO);
    }

    @Test
    void permissionsAreThoseOfCreateAndDevicesNeedRoot() {
        b.mkdir("/ro", 0755);
        b.mkdir("/noexec", 0776); // write but no search
        b.mkdir("/open", 0777);
        assertThat(ap(new Request.Mknod(ALICE, "/ro/p", S_IFIFO | 0644, 0))).isEqualTo(Errno.EACCES);
        assertThat(ap(new Request.Mknod(ALICE, "/noexec/p", S_IFIFO | 0644, 0))).isEqualTo(Errno.EACCES);
        Attr p = mknod(ALICE, "/open/p", S_IFIFO | 0620, 0);
        assertThat(p.uid()).isEqualTo(1000);
        assertThat(p.gid()).isEqualTo(1000);
        assertThat(mknod(ALICE, "/open/s", S_IFSOCK | 0777, 0).type()).isEqualTo(FileType.SOCKET);
        assertThat(ap(new Request.Mknod(ALICE, "/open/c", S_IFCHR | 0666, DEV_NULL)))
                .isEqualTo(Errno.EPERM);
        assertThat(ap(new Request.Mknod(ALICE, "/open/b", S_IFBLK | 0660, LOOP0)))
                .isEqualTo(Errno.EPERM);
        // a set-group-ID directory lends its group, as for create
        b.mkdir("/g", 02777);
        b.apply(new Request.SetAttr(ROOT, "/g", Request.SetAttr.GID, 0, 0, 77, 0, 0));
        assertThat(mknod(ALICE, "/g/p", S_IFIFO | 0644, 0).gid()).isEqualTo(77);
        assertThat(mknod(ROOT, "/g/c", S_IFCHR | 0600, DEV_NULL).gid()).isEqualTo(77);
    }

    @Test
    void renameLinkChmodChownAndUnlinkTreatThemAsFiles() {
        long c = mknod(ROOT, "/c", S_IFCHR | 0666, DEV_NULL).inode();
        b.mkdir("/d");
        assertThat(ap(new Request.Rename(ROOT, "/c", "/d/c", 0))).isEqualTo(Errno.OK);
        assertThat(b.statErrno("/c")).isEqualTo(Errno.ENOENT);
        Attr moved = b.stat("/d/c");
        assertThat(moved.inode()).isEqualTo(c);
        assertThat(moved.rdev()).isEqualTo(DEV_NULL);
        Attr linked = attr(b.apply(new Request.Link(ROOT, "/d/c", "/c2")));
        assertThat(linked.nlink()).isEqualTo(2);
        assertThat(linked.rdev()).isEqualTo(DEV_NULL);
        assertThat(b.stat("/c2").inode()).isEqualTo(c);
        Attr chmod = attr(b.apply(new Request.SetAttr(ROOT, "/c2", Request.SetAttr.MODE, 0600, 0, 0, 0, 0)));
        assertThat(chmod.stMode()).isEqualTo(S_IFCHR | 0600);
        assertThat(chmod.rdev()).isEqualTo(DEV_NULL);
        Attr chown = attr(
                b.apply(new Request.SetAttr(ROOT, "/c2", Request.SetAttr.UID | Request.SetAttr.GID, 0, 5, 6, 0, 0)));
        assertThat(chown.uid()).isEqualTo(5);
        assertThat(chown.gid()).isEqualTo(6);
        assertThat(chown.type()).isEqualTo(FileType.CHARACTER_DEVICE);
        // a file renamed over a FIFO replaces it; a FIFO renamed over a directory is refused
        long fifo = mknod(ROOT, "/fifo", S_IFIFO | 0644, 0).inode();
        assertThat(ap(new Request.Rename(ROOT, "/fifo", "/d", 0))).isEqualTo(Errno.EISDIR);
        b.create("/f");
        assertThat(ap(new Request.Rename(ROOT, "/f", "/fifo", 0))).isEqualTo(Errno.OK);
        assertThat(b.stat("/fifo").type()).isEqualTo(FileType.FILE);
        assertThat(errno(b.query(new Request.GetAttrByInode(fifo)))).isEqualTo(Errno.ENOENT);
        // unlinking both names frees the inode
        assertThat(attr(b.apply(new Request.Unlink(ROOT, "/d/c", false))).nlink())
                .isEqualTo(1);
        assertThat(attr(b.apply(new Request.Unlink(ROOT, "/c2", false))).nlink())
                .isZero();
        assertThat(errno(b.query(new Request.GetAttrByInode(c)))).isEqualTo(Errno.ENOENT);
        assertThat(ap(new Request.Rmdir(ROOT, "/d"))).isEqualTo(Errno.OK);
    }

    @Test
    void readWriteAndTruncateOfASpecialFileAreRefusedWithEinval() {
        long p = mknod(ROOT, "/p", S_IFIFO | 0666, 0).inode();
        long c = mknod(ROOT, "/c", S_IFCHR | 0666, DEV_NULL).inode();
        for (long id : new long[] {p, c}) {
            assertThat(ap(TestBrick.write(ROOT, id, 0, new byte[] {1, 2, 3}))).isEqualTo(Errno.EINVAL);
            assertThat(ap(new Request.Truncate(ROOT, id, 10))).isEqualTo(Errno.EINVAL);
            Response r = b.query(new Request.Read(id, 0, 10));
            assertThat(errno(r)).isEqualTo(Errno.EINVAL);
            assertThat(((Response.Error) r).message()).contains("special file");
            assertThat(attr(b.query(new Request.GetAttrByInode(id))).size()).isZero();
        }
        assertThat(errno(b.query(new Request.ReadLink("/p")))).isEqualTo(Errno.EINVAL);
    }

    @Test
    void xattrsOnASpecialFileAndTheyGoWithIt() {
        long s = mknod(ROOT, "/s", S_IFSOCK | 0644, 0).inode();
        assertThat(ap(new Request.SetXattr(ROOT, "/s", "user.k", new byte[] {1}, 0)))
                .isEqualTo(Errno.OK);
        assertThat(b.query(new Request.GetXattr("/s", "user.k"))).isInstanceOf(Response.Data.class);
        assertThat(ap(new Request.Unlink(ROOT, "/s", false))).isEqualTo(Errno.OK);
        assertThat(errno(b.query(new Request.GetAttrByInode(s)))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void theDigestCoversTypeModeAndDeviceNumber() throws IOException {
        try (TestBrick x = new TestBrick(tmp.resolve("x"));
                TestBrick y = new TestBrick(tmp.resolve("y"))) {
            x.apply(new Request.Mknod(ROOT, "/n", S_IFCHR | 0666, DEV_NULL));
            y.apply(new Request.Mknod(ROOT, "/n", S_IFCHR | 0666, DEV_NULL));
            assertThat(y.digest()).isEqualTo(x.digest());
            try (TestBrick z = new TestBrick(tmp.resolve("z"));
                    TestBrick blk = new TestBrick(tmp.resolve("blk"));
                    TestBrick fifo = new TestBrick(tmp.resolve("fifo"))) {
                z.apply(new Request.Mknod(ROOT, "/n", S_IFCHR | 0666, 0x105)); // another minor
                blk.apply(new Request.Mknod(ROOT, "/n", S_IFBLK | 0666, DEV_NULL)); // another type
                fifo.apply(new Request.Mknod(ROOT, "/n", S_IFIFO | 0666, 0));
                assertThat(z.digest().sha256()).isNotEqualTo(x.digest().sha256());
                assertThat(blk.digest().sha256()).isNotEqualTo(x.digest().sha256());
                assertThat(fifo.digest().sha256()).isNotEqualTo(x.digest().sha256());
                assertThat(blk.digest().sha256()).isNotEqualTo(fifo.digest().sha256());
            }
        }
    }

    @Test
    void specialFilesSurviveReopenAndASnapshotRoundTrip() throws IOException {
        Attr fifo = mknod(ROOT, "/fifo", S_IFIFO | 0640, 0);
        Attr chr = mknod(ROOT, "/null", S_IFCHR | 0666, DEV_NULL);
        Attr blk = mknod(ROOT, "/loop0", S_IFBLK | 0660, LOOP0);
        Attr sock = mknod(ROOT, "/sock", S_IFSOCK | 0755, 0);
        Response.Digest before = b.digest();
        b.reopen();
        assertThat(b.digest()).isEqualTo(before);
        assertThat(b.stat("/loop0")).isEqualTo(blk);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        b.brick.writeSnapshot(out);
        try (TestBrick other = new TestBrick(tmp.resolve("other"))) {
            other.create("/unrelated");
            other.brick.restoreSnapshot(new ByteArrayInputStream(out.toByteArray()));
            assertThat(other.digest()).isEqualTo(before);
            assertThat(other.stat("/fifo")).isEqualTo(fifo);
            assertThat(other.stat("/null")).isEqualTo(chr);
            assertThat(other.stat("/loop0")).isEqualTo(blk);
            assertThat(other.stat("/sock")).isEqualTo(sock);
            assertThat(other.statErrno("/unrelated")).isEqualTo(Errno.ENOENT);
        }
    }

    @Test
    void theInodeRecordOfOrdinaryFilesIsUnchanged() {
        Node f = new Node(FileType.FILE, 0644, 1, 0, 0, 5);
        assertThat(f.encode()).hasSize(Node.ENCODED_BYTES);
        Node c = new Node(FileType.CHARACTER_DEVICE, 0644, 1, 0, 0, 5);
        c.rdev = DEV_NULL;
        byte[] enc = c.encode();
        assertThat(enc).hasSize(Node.SPECIAL_ENCODED_BYTES);
        Node back = Node.decode(enc);
        assertThat(back.toAttr(9)).isEqualTo(c.toAttr(9));
        // version 2 is for special files only, version 1 for the others
        byte[] wrong = enc.clone();
        wrong[1] = (byte) FileType.FILE.code();
        Assertions.assertThatThrownBy(() -> Node.decode(wrong)).isInstanceOf(IllegalStateException.class);
    }
}
