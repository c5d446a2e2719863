package io.holdfast.client.nio;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * A client's cache of query answers (attributes, negative lookups, directory pages, symbolic link
 * targets, extended attributes) used only while the client holds the volume's read lease
 * ({@link LeaseKeeper}): the leader then holds every other client's mutation until this cache was
 * dropped, so an answer from here is never older than a mutation another client has completed.
 *
 * <h2>This client's own mutations</h2>
 *
 * Each is applied to the cache twice, when sent and when answered ({@link #invalidate}), and each
 * time the {@linkplain #generation() generation} moves: an answer to a query sent before may
 * describe the volume before the mutation and is not stored ({@link #put}). What a mutation drops:
 *
 * <ul>
 *   <li>data ({@code Write}, {@code Truncate}, {@code Fallocate}, {@code DropOrphan}): the inode's
 *       attributes under every name (answers are indexed by the inode they describe);
 *   <li>attributes ({@code SetAttr}, {@code SetXattr}, {@code RemoveXattr}) of a path: its answers
 *       and its inode's, every extended attribute answer; everything if the path's inode is not
 *       known here (another name of it may be cached);
 *   <li>names ({@code Create}, {@code Mkdir}, {@code Symlink}, {@code Mknod}, {@code Link},
 *       {@code Unlink}, {@code Rmdir}, {@code Rename}): the answers about both paths (a negative
 *       one among them), their parents (attributes and directory pages) and the inodes involved;
 *       everything when a directory is renamed or removed, or an inode that changes is not known
 *       here. Path-keyed answers are about that exact path: the volume resolves them without
 *       following symbolic links (a link among the parents answers ENOTDIR, which is not cached,
 *       and the client resolves it to the real path), so no other path names the same entry.
 * </ul>
 *
 * <p>{@code stat} that follows symbolic links is answered from {@code stat} without following
 * when the path is not a link ({@link #followable}). Not cached: file content (read through the
 * open file's channel), file-system statistics, anything but the queries named above. Bounded to
 * {@link #MAX_ENTRIES} answers, least recently used dropped first.
 *
 * <p>Thread-safe (one lock).
 */
final class MetadataCache {
    /** The most answers kept. */
    static final int MAX_ENTRIES = 200_000;

    private record Entry(Response response, String path, long inode) {}

    private final BooleanSupplier leaseValid;
    private final LinkedHashMap<Request.Query, Entry> entries = new LinkedHashMap<>(1024, 0.75f, true);
    private final Map<String, Set<Request.Query>> byPath = new HashMap<>();
    private final Map<Long, Set<Request.Query>> byInode = new HashMap<>();
    private final Set<Request.Query> xattrs = new HashSet<>();
    private long generation;
    private long hits;
    private long misses;

    /** @param leaseValid whether the read lease holds now (answers are used only then) */
    MetadataCache(BooleanSupplier leaseValid) {
        this.leaseValid = leaseValid;
    }

    /** Whether answers to this query may be kept here. */
    static boolean cacheable(Request.Query q) {
        return switch (q) {
            case Request.GetAttr g -> !g.followSymlinks();
            case Request.GetAttrByInode g -> true;
            case Request.ReadDir r -> true;
            case Request.ReadLink r -> true;
            case Request.GetXattr g -> true;
            case Request.ListXattr l -> true;
            default -> false;
        };
    }

    /** The cached answer, or null (also while the lease does not hold). */
    synchronized Response get(Request.Query q) {
        if (q instanceof Request.GetAttr g && g.followSymlinks()) {
            // the same as without following, unless the path is a symbolic link
            Response r = get(new Request.GetAttr(g.path(), false));
            return followable(r) ? r : null;
        }
        if (!cacheable(q)) {
            return null;
        }
        Entry e = entries.get(q);
        if (e == null || !leaseValid.getAsBoolean()) {
            misses++;
            return null;
        }
        hits++;
        return e.response();
    }

    /**
     * Whether an answer to {@code stat} without following links is also the answer with following:
     * the path is not a symbolic link, or does not exist.
     */
    static boolean followable(Response withoutFollowing) {
        return withoutFollowing instanceof Response.AttrReply a
                ? a.attr().type() != FileType.SYMLINK
                : withoutFollowing instanceof Response.Error e && e.errno() == Errno.ENOENT;
    }

    /** The generation now: pass it to {@link #put} with the answer of a query sent after this call. */
    synchronized long generation() {
        return generation;
    }

    /**
     * Keeps an answer, unless the cache moved on since {@code generation} (a mutation or a lost
     * lease since the query was sent) or the lease does not hold. Only successful answers and
     * the negative ones ({@link Errno#ENOENT}, and {@link Errno#ENODATA} for an extended
     * attribute) are kept.
     */
    synchronized void put(Request.Query q, Response r, long generation) {
        if (generation != this.generation || !cacheable(q) || !leaseValid.getAsBoolean()) {
            return;
        }
        boolean negative = false;
        if (r instanceof Response.Error err) {
            negative = err.errno() == Errno.ENOENT || (err.errno() == Errno.ENODATA && q instanceof Request.GetXattr);
            if (!negative) {
                return;
            }
        }
        String path = switch (q) {
            case Request.GetAttr g -> g.path();
            case Request.ReadDir d -> d.path();
            case Request.ReadLink l -> l.path();
            case Request.GetXattr x -> x.path();
            case Request.ListXattr x -> x.path();
            default -> null;
        };
        long inode = q instanceof Request.GetAttrByInode g
                ? g.inode()
                : r instanceof Response.AttrReply a ? a.attr().inode() : -1;
        Entry e = new Entry(r, path, inode);
        remove(q);
        entries.put(q, e);
        if (path != null) {
            byPath.computeIfAbsent(path, k -> new HashSet<>()).add(q);
        }
        if (inode >= 0) {
            byInode.computeIfAbsent(inode, k -> new HashSet<>()).add(q);
        }
        if (q instanceof Request.GetXattr || q instanceof Request.ListXattr) {
            xattrs.add(q);
        }
        while (entries.size() > MAX_ENTRIES) {
            remove(entries.keySet().iterator().next());
        }
    }

    /** Drops everything and moves the generation (a lost lease, another client's change). */
    synchronized void clear() {
        generation++;
        entries.clear();
        byPath.clear();
        byInode.clear();
        xattrs.clear();
    }

    /** Drops what this client's mutation changes (see the class comment) and moves the generation. */
    synchronized void invalidate(Request.Mutation m) {
        generation++;
        switch (m) {
            case Request.Write w -> dropInode(w.inode());
            case Request.Truncate t -> dropInode(t.inode());
            case Request.Fallocate f -> dropInode(f.inode());
            case Request.DropOrphan d -> dropInode(d.inode());
            case Request.ScrubMark s -> {}
            case Request.SetAttr s -> attributes(s.path());
            case Request.SetXattr s -> attributes(s.path());
            case Request.RemoveXattr s -> attributes(s.path());
            case Request.Create c -> names(List.of(), c.path());
            case Request.Mkdir c -> names(List.of(), c.path());
            case Request.Symlink c -> names(List.of(), c.path());
            case Request.Mknod c -> names(List.of(), c.path());
            case Request.Link l -> names(List.of(l.existing()), l.path());
            case Request.Unlink u -> names(List.of(u.path()), null);
            case Request.Rmdir r -> clear();
            case Request.Rename r -> {
                Attr from = knownAttr(r.from());
                if (from == null || from.type() == FileType.DIRECTORY) {
                    clear(); // every path below it changes
                } else {
                    names(List.of(r.from(), r.to()), null);
                }
            }
        }
    }

    /**
     * The cache's statistics (a miss: an answer looked for and not found, or found without a
     * lease), with the lease keeper's {@code drops} and whether its lease is {@code valid}.
     */
    synchronized CacheStats stats(long drops, boolean valid) {
        return new CacheStats(hits, misses, entries.size(), drops, valid);
    }

    private void attributes(String path) {
        Attr a = knownAttr(path);
        if (a == null) {
            clear();
            return;
        }
        dropPath(path);
        dropInode(a.inode());
        dropAll(xattrs);
    }

    /**
     * Names created, removed or moved: {@code changed} name existing inodes that the operation
     * changes (whose other names must then go too), {@code created} a name that did not exist
     * (null if none).
     */
    private void names(List<String> changed, String created) {
        for (String p : changed) {
            Entry e = knownEntry(p);
            if (e == null) {
                clear(); // an inode with possibly other names cached, not known here
                return;
            }
            dropInode(e.inode()); // a negative answer has no inode (-1): nothing to drop
        }
        List<String> touched = new ArrayList<>(changed);
        if (created != null) {
            touched.add(created);
        }
        for (String p : touched) {
            dropPath(p);
            String parent = parentOf(p);
            Attr pa = knownAttr(parent);
            if (pa == null) {
                dropDirectories(); // the parent's attributes may be cached by inode alone
            } else {
                dropInode(pa.inode());
            }
            dropPath(parent);
        }
    }

    private Entry knownEntry(String path) {
        return entries.get(new Request.GetAttr(path, false));
    }

    private Attr knownAttr(String path) {
        Entry e = knownEntry(path);
        return e != null && e.response() instanceof Response.AttrReply a ? a.attr() : null;
    }

    private void dropDirectories() {
        for (Iterator<Map.Entry<Request.Query, Entry>> it = entries.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Request.Query, Entry> e = it.next();
            if (e.getValue().response() instanceof Response.AttrReply a
                    && a.attr().type() == FileType.DIRECTORY) {
                it.remove();
                unindex(e.getKey(), e.getValue());
            }
        }
    }

    private void dropPath(String path) {
        Set<Request.Query> qs = byPath.get(path);
        if (qs != null) {
            dropAll(qs);
        }
    }

    private void dropInode(long inode) {
        Set<Request.Query> qs = byInode.get(inode);
        if (qs != null) {
            dropAll(qs);
        }
    }

    private void dropAll(Set<Request.Query> qs) {
        for (Request.Query q : List.copyOf(qs)) {
            remove(q);
        }
    }

    private void remove(Request.Query q) {
        Entry e = entries.remove(q);
        if (e != null) {
            unindex(q, e);
        }
    }

    private void unindex(Request.Query q, Entry e) {
        if (e.path() != null) {
            Set<Request.Query> s = byPath.get(e.path());
            if (s != null && s.remove(q) && s.isEmpty()) {
                byPath.remove(e.path());
            }
        }
        if (e.inode() >= 0) {
            Set<Request.Query> s = byInode.get(e.inode());
            if (s != null && s.remove(q) && s.isEmpty()) {
                byInode.remove(e.inode());
            }
        }
        xattrs.remove(q);
    }

    private static String parentOf(String path) {
        int slash = path.lastIndexOf('/');
        return slash <= 0 ? "/" : path.substring(0, slash);
    }
}
