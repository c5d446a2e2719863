package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static io.holdfast.storage.TestBrick.attr;
import static io.holdfast.storage.TestBrick.errno;
import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Request.Rename;
import io.holdfast.protocol.Response;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BrickNamespaceTest extends BrickTestBase {
    @Test
    void rootExistsAsDirectory0755() {
        Attr r = b.stat("/");
        assertThat(r.inode()).isEqualTo(1);
        assertThat(r.type()).isEqualTo(FileType.DIRECTORY);
        assertThat(r.mode()).isEqualTo(0755);
        assertThat(r.nlink()).isEqualTo(2);
        assertThat(r.uid()).isZero();
        assertThat(b.brick.appliedIndex()).isZero();
    }

    @Test
    void mkdirAndCreate() {
        Attr d = b.mkdir("/d", 0177777);
        assertThat(d.mode()).isEqualTo(07777);
        assertThat(d.nlink()).isEqualTo(2);
        Attr root = b.stat("/");
        assertThat(root.nlink()).isEqualTo(3);
        assertThat(root.mtimeNanos()).isEqualTo(b.timeNanos);
        assertThat(root.ctimeNanos()).isEqualTo(b.timeNanos);
        assertThat(ap(new Request.Mkdir(ROOT, "/d", 0755))).isEqualTo(Errno.EEXIST);
        assertThat(ap(new Request.Mkdir(ROOT, "/", 0755))).isEqualTo(Errno.EEXIST);
        assertThat(ap(new Request.Mkdir(ROOT, "/x/y", 0755))).isEqualTo(Errno.ENOENT);
        Attr f = b.create("/d/f");
        assertThat(f.inode()).isGreaterThan(d.inode());
        assertThat(f.nlink()).isEqualTo(1);
        assertThat(ap(new Request.Mkdir(ROOT, "/d/f/g", 0755))).isEqualTo(Errno.ENOTDIR);
        assertThat(ap(new Request.Create(ROOT, "/d/f", 0644, true))).isEqualTo(Errno.EEXIST);
        assertThat(attr(b.apply(new Request.Create(ROOT, "/d/f", 0600, false)))).isEqualTo(f);
        assertThat(ap(new Request.Create(ROOT, "/d", 0644, false))).isEqualTo(Errno.EISDIR);
        assertThat(ap(new Request.Create(ROOT, "relative", 0644, false))).isEqualTo(Errno.EINVAL);
        assertThat(ap(new Request.Create(ROOT, "/a/../b", 0644, false))).isEqualTo(Errno.EINVAL);
        assertThat(ap(new Request.Create(ROOT, "/" + "n".repeat(256), 0644, false)))
                .isEqualTo(Errno.ENAMETOOLONG);
        assertThat(b.statErrno("/nope")).isEqualTo(Errno.ENOENT);
        assertThat(b.statErrno("/d/f/x")).isEqualTo(Errno.ENOTDIR);
    }

    @Test
    void statFsCountsInodes() {
        b.mkdir("/d");
        b.create("/d/f");
        Response.FsStats s = (Response.FsStats) b.query(new Request.StatFs());
        assertThat(s.files()).isEqualTo(3);
        assertThat(s.totalBytes()).isPositive();
    }

    @Test
    void setgidDirectoryIsInherited() {
        b.mkdir("/g", 02775);
        b.apply(new Request.SetAttr(ROOT, "/g", Request.SetAttr.GID, 0, 0, 77, 0, 0));
        Attr sub = attr(b.apply(new Request.Mkdir(new Caller(0, 5, new int[0]), "/g/s", 0755)));
        assertThat(sub.gid()).isEqualTo(77);
        assertThat(sub.mode() & 02000).isNotZero();
        Attr f = attr(b.apply(new Request.Create(new Caller(0, 5, new int[0]), "/g/f", 0644, true)));
        assertThat(f.gid()).isEqualTo(77);
    }

    @Test
    void hardLinksAndUnlink() {
        long f = b.create("/f").inode();
        b.write(f, 0, "data".getBytes());
        Attr l = attr(b.apply(new Request.Link(ROOT, "/f", "/g")));
        assertThat(l.inode()).isEqualTo(f);
        assertThat(l.nlink()).isEqualTo(2);
        assertThat(b.stat("/g").inode()).isEqualTo(f);
        assertThat(ap(new Request.Link(ROOT, "/f", "/g"))).isEqualTo(Errno.EEXIST);
        assertThat(ap(new Request.Link(ROOT, "/nope", "/h"))).isEqualTo(Errno.ENOENT);
        b.mkdir("/d");
        assertThat(ap(new Request.Link(ROOT, "/d", "/d2"))).isEqualTo(Errno.EPERM);
        Attr u = attr(b.apply(new Request.Unlink(ROOT, "/f", false)));
        assertThat(u.nlink()).isEqualTo(1);
        assertThat(b.read(f, 0, 10)).isEqualTo("data".getBytes());
        assertThat(ap(new Request.Unlink(ROOT, "/f", false))).isEqualTo(Errno.ENOENT);
        assertThat(ap(new Request.Unlink(ROOT, "/d", false))).isEqualTo(Errno.EISDIR);
        assertThat(ap(new Request.Unlink(ROOT, "/", false))).isEqualTo(Errno.EISDIR);
        assertThat(attr(b.apply(new Request.Unlink(ROOT, "/g", false))).nlink()).isZero();
        assertThat(errno(b.query(new Request.GetAttrByInode(f)))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void unlinkNamingTheInodeItExpectsIsStampedAtTheClientsTime() {
        b.mkdir("/d");
        long f = b.create("/d/f").inode();
        long g = b.create("/d/g").inode();
        Attr before = b.stat("/d");
        // another file under the name it expects: refused, nothing changes
        assertThat(ap(new Request.Unlink(ROOT, "/d/f", false, g, 0))).isEqualTo(Errno.ESTALE);
        assertThat(b.stat("/d/f").inode()).isEqualTo(f);
        assertThat(b.stat("/d")).isEqualTo(before);
        assertThat(ap(new Request.Unlink(ROOT, "/d/nope", false, f, 0))).isEqualTo(Errno.ENOENT);
        // the client's time, within the bounds around the entry's, stamps the parent and the inode
        b.apply(new Request.Link(ROOT, "/d/f", "/d/f2"));
        long client = b.timeNanos + 500_000_000L; // the client's clock leads the entry's by 0.5 s
        Attr u = attr(b.apply(new Request.Unlink(ROOT, "/d/f", false, f, client)));
        assertThat(u.nlink()).isEqualTo(1);
        assertThat(u.ctimeNanos()).isEqualTo(client);
        Attr d = b.stat("/d");
        assertThat(d.mtimeNanos()).isEqualTo(client);
        assertThat(d.ctimeNanos()).isEqualTo(client);
        // a client clock behind the inode's change time never moves it back
        b.apply(new Request.Link(ROOT, "/d/f2", "/d/f3"));
        long linked = b.stat("/d/f3").ctimeNanos();
        b.apply(new Request.Unlink(ROOT, "/d/f3", false, f, linked - 2_000_000_000L));
        assertThat(b.stat("/d/f2").ctimeNanos()).isEqualTo(linked);
        assertThat(b.stat("/d").mtimeNanos()).isEqualTo(linked);
        // a client time too far from the entry's: the entry's time, as for any unlink
        b.timeNanos += 20_000_000_000L;
        b.apply(new Request.Unlink(ROOT, "/d/f2", false, f, b.timeNanos - 11_000_000_000L));
        assertThat(b.stat("/d").mtimeNanos()).isEqualTo(b.timeNanos);
        assertThat(errno(b.query(new Request.GetAttrByInode(f)))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void createWithAClientChosenInodeIsStampedAtTheClientsTime() {
        b.mkdir("/tmp");
        b.apply(new Request.SetAttr(ROOT, "/tmp", Request.SetAttr.MODE | Request.SetAttr.GID, 02775, 0, 7, 0, 0));
        long files = ((Response.FsStats) b.query(new Request.StatFs())).files();
        long chosen = Request.Create.CLIENT_INODE_BIT | 0x1234_5678L;
        long client = b.timeNanos + 500_000_000L;
        Attr a = attr(b.apply(new Request.Create(ROOT, "/tmp/m", 0640, true, chosen, client)));
        assertThat(a.inode()).isEqualTo(chosen);
        assertThat(a.mode()).isEqualTo(0640);
        assertThat(a.gid()).as("a set-group-ID parent lends its group").isEqualTo(7);
        assertThat(a.atimeNanos()).isEqualTo(client);
        assertThat(a.mtimeNanos()).isEqualTo(client);
        assertThat(a.ctimeNanos()).isEqualTo(client);
        assertThat(b.stat("/tmp").mtimeNanos()).isEqualTo(client);
        assertThat(b.stat("/tmp").ctimeNanos()).isEqualTo(client);
        assertThat(b.stat("/tmp/m")).isEqualTo(a);
        assertThat(attr(b.query(new Request.GetAttrByInode(chosen)))).isEqualTo(a);
        assertThat(((Response.FsStats) b.query(new Request.StatFs())).files()).isEqualTo(files + 1);
        // the name exists, or the number does: refused, nothing changes
        Attr tmp = b.stat("/tmp");
        assertThat(ap(new Request.Create(ROOT, "/tmp/m", 0600, true, chosen + 1, client)))
                .isEqualTo(Errno.EEXIST);
        assertThat(ap(new Request.Create(ROOT, "/tmp/n", 0600, true, chosen, client)))
                .isEqualTo(Errno.EEXIST);
        assertThat(errno(b.query(new Request.GetAttr("/tmp/n", false)))).isEqualTo(Errno.ENOENT);
        assertThat(b.stat("/tmp")).isEqualTo(tmp);
        // a client time too far from the entry's: the entry's time
        b.timeNanos += 20_000_000_000L;
        Attr late = attr(
                b.apply(new Request.Create(ROOT, "/tmp/o", 0600, true, chosen + 2, b.timeNanos - 11_000_000_000L)));
        assertThat(late.ctimeNanos()).isEqualTo(b.timeNanos);
        // the volume's own numbers go on from its counter, never into the client range
        assertThat(b.create("/tmp/p").inode()).isLessThan(Request.Create.CLIENT_INODE_BIT);
        b.apply(new Request.Unlink(ROOT, "/tmp/m", false));
        assertThat(errno(b.query(new Request.GetAttrByInode(chosen)))).isEqualTo(Errno.ENOENT);
        assertThat(((Response.FsStats) b.query(new Request.StatFs())).files()).isEqualTo(files + 2);
    }

    @Test
    void renameNamingTheInodeItExpectsIsStampedAtTheClientsTime() {
        b.mkdir("/tmp");
        b.mkdir("/new");
        long f = b.create("/tmp/f").inode();
        long g = b.create("/tmp/g").inode();
        Attr tmp = b.stat("/tmp");
        Attr fresh = b.stat("/new");
        // another file under the name it expects: refused, nothing changes
        assertThat(ap(new Request.Rename(ROOT, "/tmp/f", "/new/f", 0, g, 0))).isEqualTo(Errno.ESTALE);
        assertThat(b.stat("/tmp/f").inode()).isEqualTo(f);
        assertThat(errno(b.query(new Request.GetAttr("/new/f", false)))).isEqualTo(Errno.ENOENT);
        assertThat(b.stat("/tmp")).isEqualTo(tmp);
        assertThat(b.stat("/new")).isEqualTo(fresh);
        assertThat(ap(new Request.Rename(ROOT, "/tmp/nope", "/new/f", 0, f, 0))).isEqualTo(Errno.ENOENT);
        // the client's time, within the bounds around the entry's, stamps the inode and both parents
        long client = b.timeNanos + 500_000_000L;
        Attr moved = attr(b.apply(new Request.Rename(ROOT, "/tmp/f", "/new/f", 0, f, client)));
        assertThat(moved.inode()).isEqualTo(f);
        assertThat(moved.ctimeNanos()).isEqualTo(client);
        for (String dir : new String[] {"/tmp", "/new"}) {
            assertThat(b.stat(dir).mtimeNanos()).as(dir).isEqualTo(client);
            assertThat(b.stat(dir).ctimeNanos()).as(dir).isEqualTo(client);
        }
        // a client clock behind the inode's change time never moves it back
        b.apply(new Request.SetAttr(ROOT, "/new/f", Request.SetAttr.MODE, 0600, 0, 0, 0, 0));
        long changed = b.stat("/new/f").ctimeNanos();
        b.apply(new Request.Rename(ROOT, "/new/f", "/new/h", 0, f, changed - 2_000_000_000L));
        assertThat(b.stat("/new/h").ctimeNanos()).isEqualTo(changed);
        // a client time too far from the entry's: the entry's time, as for any rename; an existing
        // target is replaced as rename(2) replaces it
        b.timeNanos += 20_000_000_000L;
        b.apply(new Request.Rename(ROOT, "/new/h", "/tmp/g", 0, f, b.timeNanos - 11_000_000_000L));
        assertThat(b.stat("/tmp/g").inode()).isEqualTo(f);
        assertThat(b.stat("/tmp/g").ctimeNanos()).isEqualTo(b.timeNanos);
        assertThat(b.stat("/new").mtimeNanos()).isEqualTo(b.timeNanos);
        assertThat(errno(b.query(new Request.GetAttrByInode(g)))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void rmdirNamingTheInodeItExpectsIsStampedAtTheClientsTime() {
        b.mkdir("/p");
        long d = b.mkdir("/p/d").inode();
        long e = b.mkdir("/p/e").inode();
        Attr before = b.stat("/p");
        assertThat(ap(new Request.Rmdir(ROOT, "/p/d", e, 0))).isEqualTo(Errno.ESTALE);
        assertThat(b.stat("/p")).isEqualTo(before);
        assertThat(b.stat("/p/d").inode()).isEqualTo(d);
        long client = b.timeNanos + 500_000_000L;
        assertThat(ap(new Request.Rmdir(ROOT, "/p/d", d, client))).isEqualTo(Errno.OK);
        Attr p = b.stat("/p");
        assertThat(p.nlink()).isEqualTo(before.nlink() - 1);
        assertThat(p.mtimeNanos()).isEqualTo(client);
        assertThat(p.ctimeNanos()).isEqualTo(client);
        assertThat(b.statErrno("/p/d")).isEqualTo(Errno.ENOENT);
        assertThat(ap(new Request.Rmdir(ROOT, "/p/d", d, 0))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void rmdir() {
        b.mkdir("/d");
        b.mkdir("/d/e");
        b.create("/f");
        assertThat(b.stat("/d").nlink()).isEqualTo(3);
        assertThat(ap(new Request.Rmdir(ROOT, "/d"))).isEqualTo(Errno.ENOTEMPTY);
        assertThat(ap(new Request.Rmdir(ROOT, "/f"))).isEqualTo(Errno.ENOTDIR);
        assertThat(ap(new Request.Rmdir(ROOT, "/"))).isEqualTo(Errno.EBUSY);
        assertThat(ap(new Request.Rmdir(ROOT, "/x"))).isEqualTo(Errno.ENOENT);
        assertThat(ap(new Request.Rmdir(ROOT, "/d/e"))).isEqualTo(Errno.OK);
        assertThat(b.stat("/d").nlink()).isEqualTo(2);
        assertThat(ap(new Request.Rmdir(ROOT, "/d"))).isEqualTo(Errno.OK);
        assertThat(b.stat("/").nlink()).isEqualTo(2);
    }

    @Test
    void renameCases() {
        long a = b.create("/a").inode();
        long c = b.create("/c").inode();
        b.apply(new Request.Link(ROOT, "/c", "/c2"));
        // file over file: the replaced inode loses a link
        assertThat(ap(new Rename(ROOT, "/a", "/c", 0))).isEqualTo(Errno.OK);
        assertThat(b.stat("/c").inode()).isEqualTo(a);
        assertThat(b.statErrno("/a")).isEqualTo(Errno.ENOENT);
        assertThat(b.stat("/c2").nlink()).isEqualTo(1);
        assertThat(b.stat("/c2").inode()).isEqualTo(c);
        // onto a hard link of the same inode: no-op
        b.apply(new Request.Link(ROOT, "/c", "/same"));
        assertThat(ap(new Rename(ROOT, "/c", "/same", 0))).isEqualTo(Errno.OK);
        assertThat(b.stat("/c").nlink()).isEqualTo(2);
        assertThat(b.stat("/same").inode()).isEqualTo(a);
        // NOREPLACE
        assertThat(ap(new Rename(ROOT, "/c", "/c2", Rename.NOREPLACE))).isEqualTo(Errno.EEXIST);
        assertThat(ap(new Rename(ROOT, "/c", "/new", Rename.NOREPLACE))).isEqualTo(Errno.OK);
        // directories
        b.mkdir("/d1");
        b.mkdir("/d2");
        b.mkdir("/full");
        b.create("/full/x");
        assertThat(ap(new Rename(ROOT, "/d1", "/full", 0))).isEqualTo(Errno.ENOTEMPTY);
        assertThat(ap(new Rename(ROOT, "/new", "/d2", 0))).isEqualTo(Errno.EISDIR);
        assertThat(ap(new Rename(ROOT, "/d1", "/new", 0))).isEqualTo(Errno.ENOTDIR);
        assertThat(ap(new Rename(ROOT, "/d1", "/d1/sub", 0))).isEqualTo(Errno.EINVAL);
        assertThat(ap(new Rename(ROOT, "/", "/z", 0))).isEqualTo(Errno.EBUSY);
        assertThat(ap(new Rename(ROOT, "/d1", "/", 0))).isEqualTo(Errno.EBUSY);
        assertThat(ap(new Rename(ROOT, "/nope", "/z", 0))).isEqualTo(Errno.ENOENT);
        int rootLinks = b.stat("/").nlink(); // 2 + d1, d2, full
        assertThat(rootLinks).isEqualTo(5);
        long d2 = b.stat("/d2").inode();
        assertThat(ap(new Rename(ROOT, "/d1", "/d2", 0))).isEqualTo(Errno.OK); // over empty dir
        assertThat(b.stat("/d2").inode()).isNotEqualTo(d2);
        assertThat(errno(b.query(new Request.GetAttrByInode(d2)))).isEqualTo(Errno.ENOENT);
        assertThat(b.stat("/").nlink()).isEqualTo(4);
        // move a directory into another: parent link counts follow
        assertThat(ap(new Rename(ROOT, "/d2", "/full/d2", 0))).isEqualTo(Errno.OK);
        assertThat(b.stat("/").nlink()).isEqualTo(3);
        assertThat(b.stat("/full").nlink()).isEqualTo(3);
        assertThat(b.stat("/full").mtimeNanos()).isEqualTo(b.timeNanos);
    }

    @Test
    void symlinksReadlinkAndFollow() {
        b.mkdir("/d");
        long f = b.create("/d/f").inode();
        Attr s = attr(b.apply(new Request.Symlink(ROOT, "/d/rel", "f")));
        assertThat(s.type()).isEqualTo(FileType.SYMLINK);
        assertThat(s.size()).isEqualTo(1);
        b.apply(new Request.Symlink(ROOT, "/abs", "/d/f"));
        b.apply(new Request.Symlink(ROOT, "/chain", "d/../abs"));
        b.apply(new Request.Symlink(ROOT, "/viadir", "d/rel"));
        b.apply(new Request.Symlink(ROOT, "/loop1", "loop2"));
        b.apply(new Request.Symlink(ROOT, "/loop2", "loop1"));
        b.apply(new Request.Symlink(ROOT, "/dangling", "nothing"));
        assertThat(b.query(new Request.ReadLink("/d/rel"))).isEqualTo(new Response.Text("f"));
        assertThat(errno(b.query(new Request.ReadLink("/d/f")))).isEqualTo(Errno.EINVAL);
        assertThat(b.stat("/abs").type()).isEqualTo(FileType.SYMLINK);
        for (String p : List.of("/d/rel", "/abs", "/chain", "/viadir")) {
            assertThat(attr(b.query(new Request.GetAttr(p, true))).inode())
                    .as(p)
                    .isEqualTo(f);
        }
        assertThat(errno(b.query(new Request.GetAttr("/loop1", true)))).isEqualTo(Errno.ELOOP);
        assertThat(errno(b.query(new Request.GetAttr("/dangling", true)))).isEqualTo(Errno.ENOENT);
        // not followed inside paths
        b.apply(new Request.Symlink(ROOT, "/dl", "d"));
        assertThat(b.statErrno("/dl/f")).isEqualTo(Errno.ENOTDIR);
        assertThat(ap(new Request.Symlink(ROOT, "/abs", "x"))).isEqualTo(Errno.EEXIST);
    }

    @Test
    void readDirPagesInNameOrder() {
        b.mkdir("/d");
        for (String n : List.of("c", "a", "é", "b", "B")) {
            b.create("/d/" + n);
        }
        Response.DirPage p1 = (Response.DirPage) b.query(new Request.ReadDir("/d", "", 2));
        assertThat(p1.entries()).extracting(DirEntry::name).containsExactly("B", "a");
        assertThat(p1.more()).isTrue();
        Response.DirPage p2 = (Response.DirPage) b.query(new Request.ReadDir("/d", "a", 10));
        assertThat(p2.entries()).extracting(DirEntry::name).containsExactly("b", "c", "é");
        assertThat(p2.more()).isFalse();
        assertThat(p2.entries().get(0).type()).isEqualTo(FileType.FILE);
        assertThat(errno(b.query(new Request.ReadDir("/d", "", 0)))).isEqualTo(Errno.EINVAL);
        assertThat(errno(b.query(new Request.ReadDir("/d/a", "", 10)))).isEqualTo(Errno.ENOTDIR);
        assertThat(((Response.DirPage) b.query(new Request.ReadDir("/", "", 10))).entries())
                .containsExactly(new DirEntry("d", b.stat("/d").inode(), FileType.DIRECTORY));
    }

    /**
     * A listing with attributes pages as the plain listing does, and each entry's attributes are
     * what {@code lstat} answers: a symbolic link's own, a device's number.
     */
    @Test
    void readDirPlusGivesEachEntrysLstat() {
        b.mkdir("/d");
        for (String n : List.of("c", "a", "b")) {
            b.create("/d/" + n);
        }
        b.mkdir("/d/sub");
        b.apply(new Request.Symlink(ROOT, "/d/l", "a"));
        b.apply(new Request.Mknod(ROOT, "/d/n", 0020000 | 0660, 0x103));
        b.apply(new Request.Link(ROOT, "/d/a", "/d/h"));
        List<DirEntry> names = new ArrayList<>();
        String after = "";
        for (boolean more = true; more; ) {
            Response.DirPlusPage page = (Response.DirPlusPage) b.query(new Request.ReadDirPlus("/d", after, 3));
            Response.DirPage plain = (Response.DirPage) b.query(new Request.ReadDir("/d", after, 3));
            assertThat(page.withoutAttributes())
                    .as("the plain page after '%s'", after)
                    .isEqualTo(plain);
            for (int i = 0; i < page.entries().size(); i++) {
                String path = "/d/" + page.entries().get(i).name();
                assertThat(page.attrs().get(i)).as(path).isEqualTo(b.stat(path));
            }
            names.addAll(page.entries());
            more = page.more();
            after = page.entries().getLast().name();
        }
        assertThat(names).extracting(DirEntry::name).containsExactly("a", "b", "c", "h", "l", "n", "sub");
        assertThat(b.stat("/d/n").rdev()).isEqualTo(0x103);
        assertThat(b.stat("/d/h").nlink()).isEqualTo(2);
        assertThat(errno(b.query(new Request.ReadDirPlus("/d", "", 0)))).isEqualTo(Errno.EINVAL);
        assertThat(errno(b.query(new Request.ReadDirPlus("/d/a", "", 10)))).isEqualTo(Errno.ENOTDIR);
        assertThat(errno(b.query(new Request.ReadDirPlus("/none", "", 10)))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void xattrs() {
        b.create("/f");
        byte[] v = {1, 2};
        assertThat(ap(new Request.SetXattr(ROOT, "/f", "user.b", v, 0))).isEqualTo(Errno.OK);
        assertThat(ap(new Request.SetXattr(ROOT, "/f", "user.a", new byte[0], Request.SetXattr.CREATE)))
                .isEqualTo(Errno.OK);
        assertThat(ap(new Request.SetXattr(ROOT, "/f", "user.a", v, Request.SetXattr.CREATE)))
                .isEqualTo(Errno.EEXIST);
        assertThat(ap(new Request.SetXattr(ROOT, "/f", "user.c", v, Request.SetXattr.REPLACE)))
                .isEqualTo(Errno.ENODATA);
        assertThat(ap(new Request.SetXattr(ROOT, "/f", "u".repeat(256), v, 0))).isEqualTo(Errno.ERANGE);
        assertThat(ap(new Request.SetXattr(ROOT, "/f", "user.big", new byte[65537], 0)))
                .isEqualTo(Errno.ERANGE);
        assertThat(b.query(new Request.GetXattr("/f", "user.b"))).isEqualTo(new Response.Data(v, Checksums.crc32c(v)));
        assertThat(errno(b.query(new Request.GetXattr("/f", "user.zz")))).isEqualTo(Errno.ENODATA);
        assertThat(b.query(new Request.ListXattr("/f"))).isEqualTo(new Response.Names(List.of("user.a", "user.b")));
        assertThat(ap(new Request.RemoveXattr(ROOT, "/f", "user.a"))).isEqualTo(Errno.OK);
        assertThat(ap(new Request.RemoveXattr(ROOT, "/f", "user.a"))).isEqualTo(Errno.ENODATA);
        assertThat(b.query(new Request.ListXattr("/f"))).isEqualTo(new Response.Names(List.of("user.b")));
        assertThat(errno(b.query(new Request.ListXattr("/nope")))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void setAttrChangesFieldsInMask() {
        b.create("/f");
        Attr a = attr(b.apply(new Request.SetAttr(
                ROOT,
                "/f",
                Request.SetAttr.MODE
                        | Request.SetAttr.UID
                        | Request.SetAttr.GID
                        | Request.SetAttr.ATIME
                        | Request.SetAttr.MTIME,
                0600,
                10,
                20,
                111,
                222)));
        assertThat(a.mode()).isEqualTo(0600);
        assertThat(a.uid()).isEqualTo(10);
        assertThat(a.gid()).isEqualTo(20);
        assertThat(a.atimeNanos()).isEqualTo(111);
        assertThat(a.mtimeNanos()).isEqualTo(222);
        assertThat(a.ctimeNanos()).isEqualTo(b.timeNanos);
        Attr n = attr(b.apply(
                new Request.SetAttr(ROOT, "/f", Request.SetAttr.ATIME_NOW | Request.SetAttr.MTIME_NOW, 0, 0, 0, 0, 0)));
        assertThat(n.atimeNanos()).isEqualTo(b.timeNanos);
        assertThat(n.mtimeNanos()).isEqualTo(b.timeNanos);
        assertThat(n.mode()).isEqualTo(0600);
    }
}
