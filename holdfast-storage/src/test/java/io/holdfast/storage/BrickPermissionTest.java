package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static io.holdfast.storage.TestBrick.attr;
import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Request.SetAttr;
import org.junit.jupiter.api.Test;

class BrickPermissionTest extends BrickTestBase {
    static final Caller ALICE = new Caller(1000, 1000, new int[] {50});
    static final Caller BOB = new Caller(1001, 1001, new int[0]);

    private void chown(String path, int uid, int gid) {
        assertThat(ap(new SetAttr(ROOT, path, SetAttr.UID | SetAttr.GID, 0, uid, gid, 0, 0)))
                .isEqualTo(Errno.OK);
    }

    @Test
    void writeAndSearchPermissionOnParents() {
        assertThat(ap(new Request.Create(ALICE, "/f", 0644, true))).isEqualTo(Errno.EACCES);
        assertThat(ap(new Request.Mkdir(ALICE, "/d", 0755))).isEqualTo(Errno.EACCES);
        b.mkdir("/home", 0755);
        b.mkdir("/home/alice", 0700);
        chown("/home/alice", 1000, 1000);
        assertThat(ap(new Request.Create(ALICE, "/home/alice/f", 0644, true))).isEqualTo(Errno.OK);
        assertThat(b.stat("/home/alice/f").uid()).isEqualTo(1000);
        assertThat(b.stat("/home/alice/f").gid()).isEqualTo(1000);
        // bob has no search permission on /home/alice
        assertThat(ap(new Request.Create(BOB, "/home/alice/g", 0644, true))).isEqualTo(Errno.EACCES);
        assertThat(ap(new Request.Unlink(BOB, "/home/alice/f", false))).isEqualTo(Errno.EACCES);
        assertThat(ap(new Request.SetXattr(BOB, "/home/alice/f", "user.x", new byte[0], 0)))
                .isEqualTo(Errno.EACCES);
        // search but no write
        assertThat(ap(new SetAttr(ALICE, "/home/alice", SetAttr.MODE, 0555, 0, 0, 0, 0)))
                .isEqualTo(Errno.OK);
        assertThat(ap(new Request.Unlink(ALICE, "/home/alice/f", false))).isEqualTo(Errno.EACCES);
        assertThat(ap(new Request.Rename(ALICE, "/home/alice/f", "/home/alice/g", 0)))
                .isEqualTo(Errno.EACCES);
        assertThat(ap(new Request.Unlink(ROOT, "/home/alice/f", false))).isEqualTo(Errno.OK);
    }

    @Test
    void stickyDirectory() {
        b.mkdir("/tmp", 01777);
        assertThat(ap(new Request.Create(ALICE, "/tmp/a", 0644, true))).isEqualTo(Errno.OK);
        assertThat(ap(new Request.Create(ALICE, "/tmp/a2", 0644, true))).isEqualTo(Errno.OK);
        assertThat(ap(new Request.Mkdir(ALICE, "/tmp/ad", 0777))).isEqualTo(Errno.OK);
        assertThat(ap(new Request.Unlink(BOB, "/tmp/a", false))).isEqualTo(Errno.EPERM);
        assertThat(ap(new Request.Rmdir(BOB, "/tmp/ad"))).isEqualTo(Errno.EPERM);
        assertThat(ap(new Request.Rename(BOB, "/tmp/a", "/tmp/b", 0))).isEqualTo(Errno.EPERM);
        assertThat(ap(new Request.Create(BOB, "/tmp/b", 0644, true))).isEqualTo(Errno.OK);
        assertThat(ap(new Request.Rename(BOB, "/tmp/b", "/tmp/a", 0))).isEqualTo(Errno.EPERM); // target owned by alice
        assertThat(ap(new Request.Unlink(ALICE, "/tmp/a", false))).isEqualTo(Errno.OK);
        assertThat(ap(new Request.Unlink(ROOT, "/tmp/a2", false))).isEqualTo(Errno.OK);
    }

    @Test
    void chmodChownAndTimes() {
        b.mkdir("/pub", 0777);
        assertThat(ap(new Request.Create(ALICE, "/pub/f", 0644, true))).isEqualTo(Errno.OK);
        assertThat(ap(new SetAttr(BOB, "/pub/f", SetAttr.MODE, 0777, 0, 0, 0, 0)))
                .isEqualTo(Errno.EPERM);
        assertThat(ap(new SetAttr(ALICE, "/pub/f", SetAttr.UID, 0, 1001, 0, 0, 0)))
                .isEqualTo(Errno.EPERM);
        assertThat(ap(new SetAttr(ALICE, "/pub/f", SetAttr.GID, 0, 0, 51, 0, 0)))
                .isEqualTo(Errno.EPERM);
        assertThat(ap(new SetAttr(BOB, "/pub/f", SetAttr.GID, 0, 0, 1001, 0, 0)))
                .isEqualTo(Errno.EPERM);
        assertThat(attr(b.apply(new SetAttr(ALICE, "/pub/f", SetAttr.GID, 0, 0, 50, 0, 0)))
                        .gid())
                .isEqualTo(50);
        assertThat(attr(b.apply(new SetAttr(ROOT, "/pub/f", SetAttr.UID, 0, 1001, 0, 0, 0)))
                        .uid())
                .isEqualTo(1001);
        chown("/pub/f", 1000, 1000);
        // explicit times only by the owner; NOW by owner or writer
        assertThat(ap(new SetAttr(BOB, "/pub/f", SetAttr.MTIME, 0, 0, 0, 0, 5))).isEqualTo(Errno.EPERM);
        assertThat(ap(new SetAttr(BOB, "/pub/f", SetAttr.MTIME_NOW, 0, 0, 0, 0, 0)))
                .isEqualTo(Errno.EACCES);
        assertThat(ap(new SetAttr(ALICE, "/pub/f", SetAttr.MODE, 0666, 0, 0, 0, 0)))
                .isEqualTo(Errno.OK);
        assertThat(ap(new SetAttr(BOB, "/pub/f", SetAttr.MTIME_NOW | SetAttr.ATIME_NOW, 0, 0, 0, 0, 0)))
                .isEqualTo(Errno.OK);
        assertThat(ap(new SetAttr(ALICE, "/pub/f", SetAttr.MTIME, 0, 0, 0, 0, 5)))
                .isEqualTo(Errno.OK);
        assertThat(b.stat("/pub/f").mtimeNanos()).isEqualTo(5);
        // non-root chmod of a file whose group the caller is not in clears setgid
        chown("/pub/f", 1000, 77);
        assertThat(attr(b.apply(new SetAttr(ALICE, "/pub/f", SetAttr.MODE, 02755, 0, 0, 0, 0)))
                        .mode())
                .isEqualTo(0755);
        chown("/pub/f", 1000, 50);
        assertThat(attr(b.apply(new SetAttr(ALICE, "/pub/f", SetAttr.MODE, 02755, 0, 0, 0, 0)))
                        .mode())
                .isEqualTo(02755);
    }
}
