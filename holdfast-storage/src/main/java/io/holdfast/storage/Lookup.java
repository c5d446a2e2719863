package io.holdfast.storage;

import static io.holdfast.storage.BrickState.ROOT;
import static io.holdfast.storage.Permissions.may;
import static io.holdfast.storage.Permissions.requireSticky;
import static io.holdfast.storage.Permissions.requireWrite;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.PathNames;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Finding names in a brick's namespace: inode records and directory entries as stored
 * ({@code I} and {@code D} keys, see {@link Keys}), and walking a path to the entry it names,
 * with or without following symbolic links, checking search permission on the way when a caller
 * is given. Pure functions of what a {@link Kv} reads, so they give the same answer on every
 * member; outcomes such as {@code ENOENT} or {@code ENOTDIR} are {@link Fail}s.
 */
final class Lookup {
    /** Most symbolic links followed while resolving one path (Linux MAXSYMLINKS). */
    static final int MAX_SYMLINK_HOPS = 40;

    private Lookup() {}

    /** A directory entry's value: the child's inode and type. */
    record Dent(long id, FileType type) {}

    /**
     * Where a path's last component is: its parent directory (inode and node), its name, and its entry (null if
     * absent).
     */
    record Loc(long parent, Node parentNode, byte[] name, Dent dent) {}

    static byte[] dentValue(long id, FileType type) {
        return ByteBuffer.allocate(9).putLong(id).put((byte) type.code()).array();
    }

    static Dent decodeDent(byte[] v) {
        ByteBuffer b = ByteBuffer.wrap(v);
        return new Dent(b.getLong(), FileType.fromCode(b.get()));
    }

    static Node node(Kv kv, long id) throws IOException {
        byte[] v = kv.get(Keys.inode(id));
        return v == null ? null : Node.decode(v);
    }

    static Node mustNode(Kv kv, long id) throws Fail, IOException {
        Node n = node(kv, id);
        if (n == null) {
            throw new Fail(Errno.ENOENT, "no inode " + id);
        }
        return n;
    }

    static void putNode(Txn t, long id, Node n) {
        t.put(Keys.inode(id), n.encode());
    }

    static Dent lookup(Kv kv, long dirId, byte[] name) throws IOException {
        byte[] v = kv.get(Keys.dent(dirId, name));
        return v == null ? null : decodeDent(v);
    }

    static List<String> split(String path) throws Fail {
        try {
            return PathNames.split(path);
        } catch (HoldfastException e) {
            throw new Fail(e.errno(), Fail.detail(e));
        }
    }

    /**
     * Walks to the parent of the last component of {@code parts} (non-empty) checking that
     * each directory is one and, if {@code c} is non-null, searchable by {@code c}; returns
     * the parent and the last component's entry (null if absent). Symlinks are not followed.
     */
    static Loc locate(Kv kv, Caller c, List<String> parts, String path) throws Fail, IOException {
        long dirId = ROOT;
        for (int i = 0; ; i++) {
            Node dn = mustNode(kv, dirId);
            if (!dn.isDir()) {
                throw new Fail(Errno.ENOTDIR, "a component of " + path + " is not a directory");
            }
            if (c != null && !may(c, dn, 1)) {
                throw new Fail(Errno.EACCES, "no search permission on a component of " + path);
            }
            byte[] name = parts.get(i).getBytes(StandardCharsets.UTF_8);
            Dent d = lookup(kv, dirId, name);
            if (i == parts.size() - 1) {
                return new Loc(dirId, dn, name, d);
            }
            if (d == null) {
                throw new Fail(Errno.ENOENT, "a component of " + path + " does not exist");
            }
            dirId = d.id();
        }
    }

    /**
     * Where a new entry {@code path} goes: EEXIST if it (or /) exists; {@code c} must be allowed
     * to write its parent.
     */
    static Loc locateNew(Kv kv, Caller c, String path) throws Fail, IOException {
        List<String> parts = split(path);
        if (parts.isEmpty()) {
            throw new Fail(Errno.EEXIST, "/ exists");
        }
        Loc l = locate(kv, c, parts, path);
        if (l.dent() != null) {
            throw new Fail(Errno.EEXIST, path + " exists");
        }
        requireWrite(c, l.parentNode(), path);
        return l;
    }

    /** An existing entry to remove: where it is, its inode and node. */
    record Removal(Loc loc, long id, Node node) {}

    /**
     * The existing entry {@code path} names, which {@code c} may remove from its parent (write
     * permission, sticky bit); {@code rootErrno} and {@code rootMessage} for {@code /}, ENOENT if
     * it does not exist.
     */
    static Removal locateRemoval(Kv kv, Caller c, String path, Errno rootErrno, String rootMessage)
            throws Fail, IOException {
        List<String> parts = split(path);
        if (parts.isEmpty()) {
            throw new Fail(rootErrno, rootMessage);
        }
        Loc l = locate(kv, c, parts, path);
        if (l.dent() == null) {
            throw new Fail(Errno.ENOENT, path + " does not exist");
        }
        requireWrite(c, l.parentNode(), path);
        long id = l.dent().id();
        Node n = mustNode(kv, id);
        requireSticky(c, l.parentNode(), n, path);
        return new Removal(l, id, n);
    }

    /** The inode a path names (no symlink following); ENOENT if it does not exist. */
    static long resolve(Kv kv, Caller c, String path) throws Fail, IOException {
        List<String> parts = split(path);
        if (parts.isEmpty()) {
            return ROOT;
        }
        Loc l = locate(kv, c, parts, path);
        if (l.dent() == null) {
            throw new Fail(Errno.ENOENT, path + " does not exist");
        }
        return l.dent().id();
    }

    /** Resolves a path following every symbolic link, intermediate and final. */
    static long resolveFollowing(Kv kv, List<String> parts, String path) throws Fail, IOException {
        ArrayDeque<String> todo = new ArrayDeque<>(parts);
        ArrayList<Long> stack = new ArrayList<>(List.of(ROOT));
        int hops = 0;
        while (!todo.isEmpty()) {
            String name = todo.pollFirst();
            if (name.isEmpty() || name.equals(".")) {
                continue;
            }
            Node cur = mustNode(kv, stack.getLast());
            if (!cur.isDir()) {
                throw new Fail(Errno.ENOTDIR, "a component of " + path + " is not a directory");
            }
            if (name.equals("..")) {
                if (stack.size() > 1) {
                    stack.removeLast();
                }
                continue;
            }
            byte[] nb = name.getBytes(StandardCharsets.UTF_8);
            if (nb.length > Limits.NAME_MAX) {
                throw new Fail(Errno.ENAMETOOLONG, "name in symbolic link target too long: " + path);
            }
            Dent d = lookup(kv, stack.getLast(), nb);
            if (d == null) {
                throw new Fail(Errno.ENOENT, "a component of " + path + " does not exist");
            }
            if (d.type() == FileType.SYMLINK) {
                if (++hops > MAX_SYMLINK_HOPS) {
                    throw new Fail(Errno.ELOOP, "too many symbolic links resolving " + path);
                }
                byte[] tb = kv.get(Keys.id(Keys.SYMLINK, d.id()));
                if (tb == null || tb.length == 0) {
                    throw new Fail(Errno.ENOENT, "empty symbolic link in " + path);
                }
                String target = new String(tb, StandardCharsets.UTF_8);
                String[] comps = target.split("/", -1);
                for (int i = comps.length - 1; i >= 0; i--) {
                    todo.addFirst(comps[i]);
                }
                if (target.startsWith("/")) {
                    stack.clear();
                    stack.add(ROOT);
                }
                continue;
            }
            stack.add(d.id());
        }
        return stack.getLast();
    }
}
