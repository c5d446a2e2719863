package io.holdfast.storage;

import static io.holdfast.storage.BrickState.ROOT;
import static io.holdfast.storage.Lookup.decodeDent;
import static io.holdfast.storage.Lookup.dentValue;
import static io.holdfast.storage.Lookup.locate;
import static io.holdfast.storage.Lookup.locateNew;
import static io.holdfast.storage.Lookup.locateRemoval;
import static io.holdfast.storage.Lookup.mustNode;
import static io.holdfast.storage.Lookup.node;
import static io.holdfast.storage.Lookup.putNode;
import static io.holdfast.storage.Lookup.resolve;
import static io.holdfast.storage.Lookup.resolveFollowing;
import static io.holdfast.storage.Lookup.split;
import static io.holdfast.storage.Permissions.killSetId;
import static io.holdfast.storage.Permissions.may;
import static io.holdfast.storage.Permissions.requireSticky;
import static io.holdfast.storage.Permissions.requireWrite;
import static io.holdfast.storage.Permissions.writableNode;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.storage.Lookup.Dent;
import io.holdfast.storage.Lookup.Loc;
import io.holdfast.storage.Lookup.Removal;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.rocksdb.RocksIterator;

/**
 * The namespace of a brick: inodes and their attributes, directory entries, symbolic links,
 * extended attributes and orphans; the mutations that change them (mkdir, create, symlink,
 * mknod, link, unlink, rmdir, rename, setattr, xattrs, dropping an orphan) with their POSIX
 * permission checks, and the queries that read them. Paths are walked by {@link Lookup};
 * file content is {@link ContentStore}'s.
 *
 * <p>Mutations decide their outcome from the entry and the state only, so every member gives
 * the same answer; a POSIX error is a {@link Fail}. Not thread-safe: mutations run under the
 * apply lock's write lock, queries under its read lock.
 */
final class Namespace {
    /** Most hard links of one inode (as ext4). */
    static final int MAX_LINKS = 65_000;

    private static final byte[] EMPTY = new byte[0];

    private final BrickState state;

    Namespace(BrickState state) {
        this.state = state;
    }

    Response mkdir(Txn t, long ts, Request.Mkdir m) throws Fail, IOException {
        Caller c = m.caller();
        Loc l = locateNew(t, c, m.path());
        Node parent = l.parentNode();
        if (parent.nlink >= MAX_LINKS) {
            throw new Fail(Errno.EMLINK, "too many subdirectories in parent of " + m.path());
        }
        int mode = m.mode() & 07777;
        int gid = c.gid();
        if ((parent.mode & 02000) != 0) {
            gid = parent.gid;
            mode |= 02000;
        }
        long id = allocate(t);
        Node n = new Node(FileType.DIRECTORY, mode, 2, c.uid(), gid, ts);
        putNode(t, id, n);
        t.put(Keys.dent(l.parent(), l.name()), dentValue(id, FileType.DIRECTORY));
        ChangeLog.named(t, id, l.parent(), l.name());
        parent.nlink++;
        touch(parent, ts);
        putNode(t, l.parent(), parent);
        return new Response.AttrReply(n.toAttr(id));
    }

    Response create(Txn t, long ts, Request.Create m) throws Fail, IOException {
        Caller c = m.caller();
        List<String> parts = split(m.path());
        if (parts.isEmpty()) {
            throw new Fail(m.exclusive() ? Errno.EEXIST : Errno.EISDIR, "/ is a directory");
        }
        Loc l = locate(t, c, parts, m.path());
        if (l.dent() != null) {
            if (m.exclusive()) {
                throw new Fail(Errno.EEXIST, m.path() + " exists");
            }
            Node n = mustNode(t, l.dent().id());
            if (n.isDir()) {
                throw new Fail(Errno.EISDIR, m.path() + " is a directory");
            }
            return new Response.AttrReply(n.toAttr(l.dent().id()));
        }
        requireWrite(c, l.parentNode(), m.path());
        if (m.inode() == 0) {
            return new Response.AttrReply(newEntry(t, ts, c, l, FileType.FILE, m.mode() & 07777, 0));
        }
        // written back with the number the client chose (its range never meets the counter's) and
        // stamped at the client's time (within bounds), which it predicted
        if (!Request.Create.clientInode(m.inode())) {
            throw new Fail(Errno.EINVAL, "inode " + Long.toHexString(m.inode()) + " is not in the client range");
        }
        if (t.get(Keys.inode(m.inode())) != null) {
            throw new Fail(Errno.EEXIST, "inode " + Long.toHexString(m.inode()) + " exists");
        }
        count(t, 1);
        return new Response.AttrReply(newEntry(
                t,
                m.changeTime(0, ts),
                m.changeTime(l.parentNode().ctimeNanos, ts),
                c,
                l,
                FileType.FILE,
                m.mode() & 07777,
                0,
                0,
                m.inode()));
    }

    Response symlink(Txn t, long ts, Request.Symlink m) throws Fail, IOException {
        Caller c = m.caller();
        String target = Objects.requireNonNull(m.target(), "target");
        byte[] tb = target.getBytes(StandardCharsets.UTF_8);
        if (tb.length == 0 || target.indexOf('\0') >= 0) {
            throw new Fail(Errno.EINVAL, "invalid symbolic link target for " + m.path());
        }
        if (tb.length > Limits.PATH_MAX) {
            throw new Fail(Errno.ENAMETOOLONG, "symbolic link target longer than " + Limits.PATH_MAX);
        }
        Loc l = locateNew(t, c, m.path());
        Attr a = newEntry(t, ts, c, l, FileType.SYMLINK, 0777, tb.length);
        t.put(Keys.id(Keys.SYMLINK, a.inode()), tb);
        return new Response.AttrReply(a);
    }

    /**
     * POSIX {@code mknod(2)}, as Linux decides it: type bits {@code S_IFREG} or none make an
     * empty regular file; {@code S_IFIFO} and {@code S_IFSOCK} anyone who may write the parent may
     * create; {@code S_IFCHR} and {@code S_IFBLK} only root (Linux needs {@code CAP_MKNOD}),
     * keeping {@code rdev}; the other types give EPERM ({@code S_IFDIR}) or EINVAL. The mode is
     * used as given (the client applied its umask); a set-group-ID parent lends its group.
     */
    Response mknod(Txn t, long ts, Request.Mknod m) throws Fail, IOException {
        Caller c = m.caller();
        int mode = m.mode();
        if ((mode & ~(FileType.S_IFMT | 07777)) != 0) {
            throw new Fail(Errno.EINVAL, String.format("mode 0%o of %s has unknown bits", mode, m.path()));
        }
        int format = mode & FileType.S_IFMT;
        FileType type;
        if (format == 0) {
            type = FileType.FILE;
        } else {
            try {
                type = FileType.fromFormatBits(format);
            } catch (IllegalArgumentException e) {
                throw new Fail(Errno.EINVAL, String.format("unknown file type bits 0%o for %s", format, m.path()));
            }
        }
        if (type == FileType.DIRECTORY) {
            throw new Fail(Errno.EPERM, "mknod cannot make a directory: " + m.path());
        }
        if (type == FileType.SYMLINK) {
            throw new Fail(Errno.EINVAL, "mknod cannot make a symbolic link: " + m.path());
        }
        Loc l = locateNew(t, c, m.path());
        if (type.isDevice() && c.uid() != 0) {
            throw new Fail(Errno.EPERM, "only root may make the device node " + m.path());
        }
        Attr a = newEntry(t, ts, c, l, type, mode & 07777, 0, type.isDevice() ? m.rdev() : 0);
        return new Response.AttrReply(a);
    }

    /** Creates a file or symlink entry named by {@code l}; the caller checked permissions. */
    private Attr newEntry(Txn t, long ts, Caller c, Loc l, FileType type, int mode, long size) throws IOException {
        return newEntry(t, ts, c, l, type, mode, size, 0);
    }

    /** Creates a non-directory entry named by {@code l}, numbered by the counter; the caller checked permissions. */
    private Attr newEntry(Txn t, long ts, Caller c, Loc l, FileType type, int mode, long size, long rdev)
            throws IOException {
        return newEntry(t, ts, ts, c, l, type, mode, size, rdev, allocate(t));
    }

    /**
     * Creates a non-directory entry named by {@code l} as inode {@code id} (counted), with its times at
     * {@code ts} and the parent's modification and change time at {@code parentTs}.
     */
    private Attr newEntry(
            Txn t, long ts, long parentTs, Caller c, Loc l, FileType type, int mode, long size, long rdev, long id)
            throws IOException {
        Node parent = l.parentNode();
        int gid = (parent.mode & 02000) != 0 ? parent.gid : c.gid();
        Node n = new Node(type, mode, 1, c.uid(), gid, ts);
        n.size = size;
        n.rdev = rdev;
        putNode(t, id, n);
        t.put(Keys.dent(l.parent(), l.name()), dentValue(id, type));
        ChangeLog.named(t, id, l.parent(), l.name());
        touch(parent, parentTs);
        putNode(t, l.parent(), parent);
        return n.toAttr(id);
    }

    Response link(Txn t, long ts, Request.Link m) throws Fail, IOException {
        Caller c = m.caller();
        List<String> src = split(m.existing());
        List<String> dst = split(m.path());
        if (src.isEmpty()) {
            throw new Fail(Errno.EPERM, "cannot link a directory: /");
        }
        Loc s = locate(t, c, src, m.existing());
        if (s.dent() == null) {
            throw new Fail(Errno.ENOENT, m.existing() + " does not exist");
        }
        if (dst.isEmpty()) {
            throw new Fail(Errno.EEXIST, "/ exists");
        }
        Loc d = locate(t, c, dst, m.path());
        if (d.dent() != null) {
            throw new Fail(Errno.EEXIST, m.path() + " exists");
        }
        Node n = mustNode(t, s.dent().id());
        if (n.isDir()) {
            throw new Fail(Errno.EPERM, "cannot link a directory: " + m.existing());
        }
        requireWrite(c, d.parentNode(), m.path());
        if (n.nlink >= MAX_LINKS) {
            throw new Fail(Errno.EMLINK, m.existing() + " has " + n.nlink + " links");
        }
        t.put(Keys.dent(d.parent(), d.name()), dentValue(s.dent().id(), n.type));
        ChangeLog.named(t, s.dent().id(), d.parent(), d.name());
        Node parent = mustNode(t, d.parent());
        touch(parent, ts);
        putNode(t, d.parent(), parent);
        n = mustNode(t, s.dent().id());
        n.nlink++;
        n.ctimeNanos = ts;
        putNode(t, s.dent().id(), n);
        return new Response.AttrReply(n.toAttr(s.dent().id()));
    }

    Response unlink(Txn t, long ts, Request.Unlink m) throws Fail, IOException {
        Caller c = m.caller();
        Removal r = locateRemoval(t, c, m.path(), Errno.EISDIR, "/ is a directory");
        Loc l = r.loc();
        long id = r.id();
        Node n = r.node();
        if (m.expectInode() != 0 && id != m.expectInode()) {
            throw new Fail(Errno.ESTALE, m.path() + " is inode " + id + " now, not " + m.expectInode());
        }
        if (n.isDir()) {
            throw new Fail(Errno.EISDIR, m.path() + " is a directory");
        }
        t.delete(Keys.dent(l.parent(), l.name()));
        Node parent = l.parentNode();
        // written back, the entry is stamped at the client's time (within bounds), which it predicted
        touch(parent, m.changeTime(parent.ctimeNanos, ts));
        putNode(t, l.parent(), parent);
        n.nlink--;
        n.ctimeNanos = m.changeTime(n.ctimeNanos, ts);
        if (n.nlink > 0) {
            putNode(t, id, n);
        } else if (m.keepOrphan()) {
            putNode(t, id, n);
            t.put(Keys.id(Keys.ORPHAN, id), EMPTY);
        } else {
            deleteInode(t, id, n);
        }
        return new Response.AttrReply(n.toAttr(id));
    }

    Response rmdir(Txn t, long ts, Request.Rmdir m) throws Fail, IOException {
        Caller c = m.caller();
        Removal r = locateRemoval(t, c, m.path(), Errno.EBUSY, "cannot remove /");
        Loc l = r.loc();
        long id = r.id();
        Node n = r.node();
        if (m.expectInode() != 0 && id != m.expectInode()) {
            throw new Fail(Errno.ESTALE, m.path() + " is inode " + id + " now, not " + m.expectInode());
        }
        if (!n.isDir()) {
            throw new Fail(Errno.ENOTDIR, m.path() + " is not a directory");
        }
        if (!isEmptyDir(t, id)) {
            throw new Fail(Errno.ENOTEMPTY, m.path() + " is not empty");
        }
        t.delete(Keys.dent(l.parent(), l.name()));
        Node parent = l.parentNode();
        parent.nlink--;
        touch(parent, m.changeTime(parent.ctimeNanos, ts));
        putNode(t, l.parent(), parent);
        deleteInode(t, id, n);
        return new Response.Ok();
    }

    Response rename(Txn t, long ts, Request.Rename m) throws Fail, IOException {
        Caller c = m.caller();
        if ((m.flags() & ~Request.Rename.NOREPLACE) != 0) {
            throw new Fail(Errno.EINVAL, "unknown rename flags " + m.flags());
        }
        List<String> from = split(m.from());
        List<String> to = split(m.to());
        if (from.isEmpty() || to.isEmpty()) {
            throw new Fail(Errno.EBUSY, "cannot rename / or rename onto /");
        }
        Loc s = locate(t, c, from, m.from());
        if (s.dent() == null) {
            throw new Fail(Errno.ENOENT, m.from() + " does not exist");
        }
        Loc d = locate(t, c, to, m.to());
        if (d.dent() != null && (m.flags() & Request.Rename.NOREPLACE) != 0) {
            throw new Fail(Errno.EEXIST, m.to() + " exists");
        }
        long sid = s.dent().id();
        if (m.expectInode() != 0 && sid != m.expectInode()) {
            throw new Fail(Errno.ESTALE, m.from() + " is inode " + sid + " now, not " + m.expectInode());
        }
        Node sn = mustNode(t, sid);
        if (sn.isDir() && to.size() > from.size() && to.subList(0, from.size()).equals(from)) {
            throw new Fail(Errno.EINVAL, "cannot move " + m.from() + " into itself");
        }
        if (d.dent() != null && d.dent().id() == sid) {
            return new Response.Ok(); // same inode: rename(2) does nothing
        }
        requireWrite(c, s.parentNode(), m.from());
        requireWrite(c, d.parentNode(), m.to());
        requireSticky(c, s.parentNode(), sn, m.from());
        Node dn = null;
        if (d.dent() != null) {
            dn = mustNode(t, d.dent().id());
            requireSticky(c, d.parentNode(), dn, m.to());
            if (sn.isDir() && !dn.isDir()) {
                throw new Fail(Errno.ENOTDIR, m.to() + " is not a directory");
            }
            if (!sn.isDir() && dn.isDir()) {
                throw new Fail(Errno.EISDIR, m.to() + " is a directory");
            }
            if (dn.isDir() && !isEmptyDir(t, d.dent().id())) {
                throw new Fail(Errno.ENOTEMPTY, m.to() + " is not empty");
            }
        }
        boolean moveDir = sn.isDir() && s.parent() != d.parent();
        if (moveDir && !may(c, sn, 2)) {
            throw new Fail(Errno.EACCES, "no write permission on " + m.from() + " to move it");
        }
        if (moveDir && dn == null && d.parentNode().nlink >= MAX_LINKS) {
            throw new Fail(Errno.EMLINK, "too many subdirectories in parent of " + m.to());
        }
        t.delete(Keys.dent(s.parent(), s.name()));
        t.put(Keys.dent(d.parent(), d.name()), dentValue(sid, sn.type));
        ChangeLog.named(t, sid, d.parent(), d.name());
        if (dn != null) {
            long did = d.dent().id();
            if (dn.isDir()) {
                deleteInode(t, did, dn);
                Node p = mustNode(t, d.parent());
                p.nlink--;
                putNode(t, d.parent(), p);
            } else {
                dn.nlink--;
                dn.ctimeNanos = ts;
                if (dn.nlink == 0) {
                    deleteInode(t, did, dn);
                } else {
                    putNode(t, did, dn);
                }
            }
        }
        if (sn.isDir()) {
            Node p = mustNode(t, s.parent());
            p.nlink--;
            putNode(t, s.parent(), p);
            p = mustNode(t, d.parent());
            p.nlink++;
            putNode(t, d.parent(), p);
        }
        // written back, the entry is stamped at the client's time (within bounds), which it predicted
        for (long pid : new long[] {s.parent(), d.parent()}) {
            Node p = mustNode(t, pid);
            touch(p, m.changeTime(p.ctimeNanos, ts));
            putNode(t, pid, p);
        }
        sn = mustNode(t, sid);
        sn.ctimeNanos = m.changeTime(sn.ctimeNanos, ts);
        putNode(t, sid, sn);
        return new Response.AttrReply(sn.toAttr(sid));
    }

    Response setAttr(Txn t, long ts, Request.SetAttr m) throws Fail, IOException {
        Caller c = m.caller();
        int mask = m.mask();
        int known = Request.SetAttr.MODE
                | Request.SetAttr.UID
                | Request.SetAttr.GID
                | Request.SetAttr.ATIME
                | Request.SetAttr.MTIME
                | Request.SetAttr.ATIME_NOW
                | Request.SetAttr.MTIME_NOW;
        if ((mask & ~known) != 0) {
            throw new Fail(Errno.EINVAL, "unknown setattr mask bits " + (mask & ~known));
        }
        long id = resolve(t, c, m.path());
        if (m.expectInode() != 0 && id != m.expectInode()) {
            throw new Fail(Errno.ESTALE, m.path() + " is inode " + id + " now, not " + m.expectInode());
        }
        Node n = mustNode(t, id);
        boolean root = c.uid() == 0;
        boolean owner = root || c.uid() == n.uid;
        if ((mask & Request.SetAttr.MODE) != 0 && !owner) {
            throw new Fail(Errno.EPERM, "only the owner may chmod " + m.path());
        }
        if ((mask & Request.SetAttr.UID) != 0 && !root && !(m.uid() == n.uid && c.uid() == n.uid)) {
            throw new Fail(Errno.EPERM, "only root may change the owner of " + m.path());
        }
        if ((mask & Request.SetAttr.GID) != 0 && !root && !(c.uid() == n.uid && c.inGroup(m.gid()))) {
            throw new Fail(Errno.EPERM, "may not change the group of " + m.path() + " to " + m.gid());
        }
        boolean atimeNow = (mask & Request.SetAttr.ATIME_NOW) != 0;
        boolean mtimeNow = (mask & Request.SetAttr.MTIME_NOW) != 0;
        boolean atimeSet = (mask & Request.SetAttr.ATIME) != 0 && !atimeNow;
        boolean mtimeSet = (mask & Request.SetAttr.MTIME) != 0 && !mtimeNow;
        if ((atimeSet || mtimeSet) && !owner) {
            throw new Fail(Errno.EPERM, "only the owner may set explicit times of " + m.path());
        }
        if ((atimeNow || mtimeNow) && !owner && !may(c, n, 2)) {
            throw new Fail(Errno.EACCES, "no write permission to touch " + m.path());
        }
        if ((mask & Request.SetAttr.UID) != 0) {
            n.uid = m.uid();
        }
        if ((mask & Request.SetAttr.GID) != 0) {
            n.gid = m.gid();
        }
        if ((mask & (Request.SetAttr.UID | Request.SetAttr.GID)) != 0 && n.type == FileType.FILE) {
            killSetId(n);
        }
        if ((mask & Request.SetAttr.MODE) != 0) {
            int mode = m.mode() & 07777;
            if (!root && !c.inGroup(n.gid)) {
                mode &= ~02000;
            }
            n.mode = mode;
        }
        long now = m.changeTime(n.ctimeNanos, ts);
        if (atimeNow) {
            n.atimeNanos = now;
        } else if (atimeSet) {
            n.atimeNanos = m.atimeNanos();
        }
        if (mtimeNow) {
            n.mtimeNanos = now;
        } else if (mtimeSet) {
            n.mtimeNanos = m.mtimeNanos();
        }
        if (mask != 0) {
            n.ctimeNanos = now;
        }
        putNode(t, id, n);
        return new Response.AttrReply(n.toAttr(id));
    }

    Response setXattr(Txn t, long ts, Request.SetXattr m) throws Fail, IOException {
        Caller c = m.caller();
        byte[] name = xattrName(m.name());
        byte[] value = Objects.requireNonNull(m.value(), "value");
        if (value.length > Limits.MAX_XATTR_VALUE_BYTES) {
            throw new Fail(Errno.ERANGE, "xattr value of " + value.length + " bytes is too large");
        }
        int flags = m.flags();
        if ((flags & ~(Request.SetXattr.CREATE | Request.SetXattr.REPLACE)) != 0
                || flags == (Request.SetXattr.CREATE | Request.SetXattr.REPLACE)) {
            throw new Fail(Errno.EINVAL, "invalid setxattr flags " + flags);
        }
        long id = resolve(t, c, m.path());
        Node n = writableNode(t, c, id, m.path());
        byte[] key = Keys.xattr(id, name);
        boolean exists = t.get(key) != null;
        if (exists && (flags & Request.SetXattr.CREATE) != 0) {
            throw new Fail(Errno.EEXIST, "xattr " + m.name() + " exists on " + m.path());
        }
        if (!exists && (flags & Request.SetXattr.REPLACE) != 0) {
            throw new Fail(Errno.ENODATA, "no xattr " + m.name() + " on " + m.path());
        }
        if (!exists && countXattrs(t, id) >= Limits.MAX_XATTR_NAMES) {
            throw new Fail(Errno.ENOSPC, "too many xattrs on " + m.path());
        }
        t.put(key, value.clone());
        n.ctimeNanos = ts;
        putNode(t, id, n);
        return new Response.Ok();
    }

    Response removeXattr(Txn t, long ts, Request.RemoveXattr m) throws Fail, IOException {
        Caller c = m.caller();
        byte[] name = xattrName(m.name());
        long id = resolve(t, c, m.path());
        Node n = writableNode(t, c, id, m.path());
        byte[] key = Keys.xattr(id, name);
        if (t.get(key) == null) {
            throw new Fail(Errno.ENODATA, "no xattr " + m.name() + " on " + m.path());
        }
        t.delete(key);
        n.ctimeNanos = ts;
        putNode(t, id, n);
        return new Response.Ok();
    }

    Response dropOrphan(Txn t, Request.DropOrphan m) throws Fail, IOException {
        long id = m.inode();
        if (t.get(Keys.id(Keys.ORPHAN, id)) == null) {
            throw new Fail(Errno.ENOENT, "inode " + id + " is not an orphan");
        }
        deleteInode(t, id, mustNode(t, id));
        return new Response.Ok();
    }

    private static void touch(Node dirNode, long ts) {
        dirNode.mtimeNanos = ts;
        dirNode.ctimeNanos = ts;
    }

    Response getAttr(Request.GetAttr q) throws Fail, IOException {
        List<String> parts = split(q.path());
        long id = ROOT;
        if (!parts.isEmpty()) {
            Loc l = locate(state.kv, null, parts, q.path());
            if (l.dent() == null) {
                throw new Fail(Errno.ENOENT, q.path() + " does not exist");
            }
            id = l.dent().id();
            if (q.followSymlinks() && l.dent().type() == FileType.SYMLINK) {
                id = resolveFollowing(state.kv, parts, q.path());
            }
        }
        return new Response.AttrReply(mustNode(state.kv, id).toAttr(id));
    }

    Response readDir(Request.ReadDir q) throws Fail, IOException {
        List<DirEntry> entries = new ArrayList<>();
        boolean more = listPage(q.path(), q.after(), q.maxEntries(), entries);
        return new Response.DirPage(entries, more);
    }

    /** {@link #readDir} with each entry's attributes, read from the same state. */
    Response readDirPlus(Request.ReadDirPlus q) throws Fail, IOException {
        List<DirEntry> entries = new ArrayList<>();
        boolean more = listPage(q.path(), q.after(), q.maxEntries(), entries);
        List<Attr> attrs = new ArrayList<>(entries.size());
        for (DirEntry e : entries) {
            attrs.add(mustNode(state.kv, e.inode()).toAttr(e.inode()));
        }
        return new Response.DirPlusPage(entries, attrs, more);
    }

    /**
     * Adds to {@code entries} the names of directory {@code path} after {@code after} (null or
     * empty: from the first), in key order, at most {@code maxEntries} (and
     * {@link Limits#MAX_DIR_PAGE_ENTRIES}); returns whether more follow.
     */
    private boolean listPage(String path, String after, int maxEntries, List<DirEntry> entries)
            throws Fail, IOException {
        if (maxEntries <= 0) {
            throw new Fail(Errno.EINVAL, "maxEntries must be positive: " + maxEntries);
        }
        long id = resolve(state.kv, null, path);
        if (!mustNode(state.kv, id).isDir()) {
            throw new Fail(Errno.ENOTDIR, path + " is not a directory");
        }
        int limit = Math.min(maxEntries, Limits.MAX_DIR_PAGE_ENTRIES);
        byte[] prefix = Keys.id(Keys.DENT, id);
        byte[] from = after == null ? EMPTY : after.getBytes(StandardCharsets.UTF_8);
        try (RocksIterator it = state.db.newIterator()) {
            byte[] start = Keys.dent(id, from);
            it.seek(start);
            if (from.length > 0 && it.isValid() && Arrays.equals(it.key(), start)) {
                it.next();
            }
            for (; it.isValid() && Keys.startsWith(it.key(), prefix); it.next()) {
                if (entries.size() == limit) {
                    return true;
                }
                byte[] k = it.key();
                Dent d = decodeDent(it.value());
                entries.add(new DirEntry(new String(k, 9, k.length - 9, StandardCharsets.UTF_8), d.id(), d.type()));
            }
        }
        return false;
    }

    Response getAttrByInode(Request.GetAttrByInode x) throws Fail, IOException {
        Node n = node(state.kv, x.inode());
        if (n == null) {
            throw new Fail(Errno.ENOENT, "no inode " + x.inode());
        }
        return new Response.AttrReply(n.toAttr(x.inode()));
    }

    Response readLink(Request.ReadLink x) throws Fail, IOException {
        long id = resolve(state.kv, null, x.path());
        byte[] target = state.kv.get(Keys.id(Keys.SYMLINK, id));
        if (target == null) {
            throw new Fail(Errno.EINVAL, x.path() + " is not a symbolic link");
        }
        return new Response.Text(new String(target, StandardCharsets.UTF_8));
    }

    Response getXattr(Request.GetXattr x) throws Fail, IOException {
        byte[] name = xattrName(x.name());
        long id = resolve(state.kv, null, x.path());
        byte[] v = state.kv.get(Keys.xattr(id, name));
        if (v == null) {
            throw new Fail(Errno.ENODATA, "no xattr " + x.name() + " on " + x.path());
        }
        return new Response.Data(v, Checksums.crc32c(v));
    }

    Response listXattr(Request.ListXattr x) throws Fail, IOException {
        long id = resolve(state.kv, null, x.path());
        List<String> names = new ArrayList<>();
        byte[] prefix = Keys.id(Keys.XATTR, id);
        try (RocksIterator it = state.db.newIterator()) {
            for (it.seek(prefix); it.isValid() && Keys.startsWith(it.key(), prefix); it.next()) {
                byte[] k = it.key();
                names.add(new String(k, 9, k.length - 9, StandardCharsets.UTF_8));
            }
        }
        return new Response.Names(names);
    }

    /** statvfs(3): the data directory's file system, and the volume's inode count. */
    Response statFs() throws IOException {
        FileStore fs = Files.getFileStore(state.dir);
        return new Response.FsStats(fs.getTotalSpace(), fs.getUsableSpace(), metaLong(state.kv, Keys.INODE_COUNT));
    }

    private static byte[] xattrName(String name) throws Fail {
        byte[] b = Objects.requireNonNull(name, "name").getBytes(StandardCharsets.UTF_8);
        if (b.length == 0 || name.indexOf('\0') >= 0) {
            throw new Fail(Errno.EINVAL, "invalid xattr name");
        }
        if (b.length > Limits.MAX_XATTR_NAME_BYTES) {
            throw new Fail(Errno.ERANGE, "xattr name longer than " + Limits.MAX_XATTR_NAME_BYTES + " bytes");
        }
        return b;
    }

    /** Whether directory {@code id} has no entries, with {@code t}'s changes (earlier mutations of its batch). */
    private boolean isEmptyDir(Txn t, long id) {
        return t.countWithPrefix(state.db, Keys.id(Keys.DENT, id), 1) == 0;
    }

    private int countXattrs(Txn t, long id) {
        return t.countWithPrefix(state.db, Keys.id(Keys.XATTR, id), Limits.MAX_XATTR_NAMES + 1);
    }

    private static long metaLong(Kv kv, byte[] key) throws IOException {
        byte[] v = kv.get(key);
        if (v == null) {
            throw new HoldfastException(Errno.EIO, "brick metadata key missing");
        }
        return Keys.long8(v);
    }

    private static long allocate(Txn t) throws IOException {
        long id = metaLong(t, Keys.NEXT_INODE);
        t.put(Keys.NEXT_INODE, Keys.long8(id + 1));
        count(t, 1);
        return id;
    }

    /** Moves the brick's inode count by {@code delta}. */
    private static void count(Txn t, long delta) throws IOException {
        t.put(Keys.INODE_COUNT, Keys.long8(metaLong(t, Keys.INODE_COUNT) + delta));
    }

    private static void deleteInode(Txn t, long id, Node n) throws IOException {
        t.delete(Keys.inode(id));
        count(t, -1);
        if (n.type == FileType.FILE) {
            ContentStore.dropContent(t, id, n);
        } else if (n.type == FileType.SYMLINK) {
            t.delete(Keys.id(Keys.SYMLINK, id));
        }
        t.deleteRange(Keys.id(Keys.XATTR, id), Keys.id(Keys.XATTR, id + 1));
        t.delete(Keys.id(Keys.ORPHAN, id));
        t.delete(Keys.id(Keys.PARENT, id));
    }
}
