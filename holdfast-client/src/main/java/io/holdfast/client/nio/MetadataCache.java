package io.holdfast.client.nio;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;

/**
 * A client's cache of query answers (attributes, negative lookups, directory pages, symbolic link
 * targets, extended attributes) used only while the client holds the volume's read lease
 * ({@link LeaseKeeper}): the leader then holds every other client's mutation until this cache was
 * dropped, so an answer from here is never older than a mutation another client has completed.
 *
 * <h2>This client's own mutations</h2>
 *
 * Each is seen twice, when sent ({@link #begin}) and when answered ({@link #end}), and each time
 * the {@linkplain #generation() generation} moves: an answer to a query sent before may describe
 * the volume before the mutation and is not stored ({@link #put}). (A written-back removal whose
 * effect the cache took when it began, {@link #beginUnlink}, and that was applied as expected
 * leaves the generation and the cache as they are when answered.) Both times the same answers
 * are dropped, chosen when it is sent:
 *
 * <ul>
 *   <li>data ({@code Write}, {@code Truncate}, {@code Fallocate}, {@code DropOrphan}): the inode's
 *       attributes under every name (answers are indexed by the inode they describe);
 *   <li>attributes ({@code SetAttr}, {@code SetXattr}, {@code RemoveXattr}) of a path: its answers
 *       and its inode's, every extended attribute answer; everything if the path's inode is not
 *       known here (another name of it may be cached);
 *   <li>names ({@code Create}, {@code Mkdir}, {@code Symlink}, {@code Mknod}, {@code Link},
 *       {@code Unlink}, {@code Rmdir}, {@code Rename}): the answers about the paths (a negative
 *       one among them), their parents (attributes and directory pages) and the inodes involved;
 *       everything when a directory is renamed, or an inode that changes is not known here.
 *       Path-keyed answers are about that exact path: the volume resolves them without following
 *       symbolic links (a link among the parents answers ENOTDIR, which is not cached, and the
 *       client resolves it to the real path), so no other path names the same entry. An empty
 *       directory's removal leaves no answer below it that could still be true but negative ones.
 * </ul>
 *
 * <p>When the answer comes, no mutation this client sent later was answered first and nothing was
 * dropped for another client meanwhile (so nothing else can have changed the same entries after
 * it), what the answer says is kept instead of asked again: the new attributes of a created,
 * linked, changed or written inode; a negative answer for a removed or renamed name; and for a
 * name created in or unlinked from a directory whose attributes were cached, the directory's new
 * attributes, which follow from the answer: the entry's change time is the log entry's one
 * timestamp, which POSIX makes the parent's new modification and change time, and a new
 * subdirectory adds one link. The parent's attributes (and whether a name existed) are taken when
 * the mutation is sent, so only when no other mutation of this client was in flight then.
 *
 * <p>A mutation is sent without waiting for the writes and mutations sent before it: the Raft
 * client's ordered stream applies them in the order sent, so its answer describes the volume
 * after all of them.
 *
 * <h2>Complete directories</h2>
 *
 * A directory this client created is known to be empty; while only this client changes its names
 * (another client's change drops the whole cache) every name created, linked, removed or renamed
 * in it is noted with its inode and type, so a lookup of a name not among them is answered "does
 * not exist" without a round trip (the lookup before every create), and a listing of it is
 * answered from memory, paged as the volume pages it. A directory's names stop being known when
 * a change to them failed without an answer, overlapped another change of this client, or was
 * refused (an EEXIST says the cache was wrong). At most {@link #MAX_COMPLETE_DIRECTORIES}
 * directories of at most {@link #MAX_COMPLETE_NAMES} names each are kept.
 *
 * <p>{@code stat} that follows symbolic links is answered from {@code stat} without following
 * when the path is not a link ({@link #followable}). Not cached: file content (read through the
 * open file's channel), file-system statistics, anything but the queries named above. Bounded to
 * {@link #MAX_ENTRIES} answers, least recently used dropped first.
 *
 * <p>Thread-safe (one lock).
 */
final class MetadataCache {
    /** Names in the order of their UTF-8 bytes, which is the brick's key order. */
    private static final Comparator<String> UTF8_ORDER =
            (x, y) -> Arrays.compareUnsigned(x.getBytes(StandardCharsets.UTF_8), y.getBytes(StandardCharsets.UTF_8));

    private static final int EMPTY_CRC = Checksums.crc32c(new byte[0]);

    /** The most answers kept. */
    static final int MAX_ENTRIES = 200_000;
    /** The most directories whose every name is known ({@link #complete}). */
    static final int MAX_COMPLETE_DIRECTORIES = 4096;
    /** The most names kept for one complete directory: a larger one is no longer complete here. */
    static final int MAX_COMPLETE_NAMES = 100_000;

    private record Entry(Response response, String path, long inode) {}

    private final BooleanSupplier leaseValid;
    private final LinkedHashMap<Request.Query, Entry> entries = new LinkedHashMap<>(1024, 0.75f, true);
    /** Sorted, so the answers below a path are found together ({@link #dropBelow}). */
    private final TreeMap<String, Set<Request.Query>> byPath = new TreeMap<>();

    private final Map<Long, Set<Request.Query>> byInode = new HashMap<>();
    private final Set<Request.Query> xattrs = new HashSet<>();
    /**
     * Directories whose every name this client knows (it created them empty and saw every change
     * to their names since), by path, in insertion order: a name not among them does not exist.
     */
    private final LinkedHashMap<String, TreeMap<String, DirEntry>> complete = new LinkedHashMap<>();

    private long generation;
    /** Mutations begun so far: each {@link Change} has its number. */
    private long begun;
    /** The highest number of a mutation answered so far. */
    private long highestEnded;
    /** Inodes with changes of this client begun and not ended, and how many. */
    private final Map<Long, Integer> busy = new HashMap<>();
    /** The names of inodes with data changes on their way, while no name changed since. */
    private final Map<Long, Set<String>> pendingPaths = new HashMap<>();
    /**
     * Directories in which changes of this client that the cache has not taken yet (not written
     * back) are begun and not ended, and how many: their names may differ from what the cache
     * holds once those are applied.
     */
    private final Map<String, Integer> busyDirectories = new HashMap<>();
    /** Changes begun and not ended that may change names anywhere (a directory's rename). */
    private int busyEverywhere;
    /** Changes begun and not ended whose effect the cache did not take when they began. */
    private int unpredicted;
    /**
     * Of those, the stand-ins for bytes buffered in a channel ({@link #beginBuffered}): no answer
     * ever comes for one, so nothing learned meanwhile can lack its effect; a change begun beside
     * one is not overlapped by it.
     */
    private int standIns;
    /** Times everything was dropped. */
    private long clears;
    /**
     * The attributes predicted for a file whose data changes of this client are on their way or
     * buffered, all stamped at the client's time ({@link Request.Write#clientNanos}), with any
     * written-back attribute changes after them: what the volume will answer once it has applied
     * them all, by inode. {@code stat} of one of the file's names is answered from here while its
     * other answers are dropped for those changes; kept until the last change to the inode ends
     * ({@link #busy}), an unstamped data change begins, or everything is dropped.
     */
    private final Map<Long, Attr> predictedData = new HashMap<>();

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
        if (!leaseValid.getAsBoolean()) {
            misses++;
            return null;
        }
        if (e == null && q instanceof Request.GetAttr g && !"/".equals(g.path())) {
            TreeMap<String, DirEntry> names = complete.get(parentOf(g.path()));
            if (names != null && !names.containsKey(nameOf(g.path()))) {
                hits++;
                return new Response.Error(Errno.ENOENT, g.path() + " does not exist");
            }
        }
        if (e == null && q instanceof Request.GetAttr g && !predictedData.isEmpty()) {
            long inode = dataOnItsWay(g.path());
            Attr p = inode >= 0 ? predictedData.get(inode) : null;
            if (p != null) {
                hits++;
                return new Response.AttrReply(p);
            }
        }
        if (e == null && q instanceof Request.ReadDir r && r.maxEntries() > 0 && complete.containsKey(r.path())) {
            hits++;
            return page(complete.get(r.path()), r);
        }
        if (e == null) {
            misses++;
            return null;
        }
        hits++;
        return e.response();
    }

    /**
     * A listing of a complete directory, as the volume pages it: the names after {@code after} in
     * the order of their UTF-8 bytes (the brick's key order), at most {@code maxEntries} (and
     * {@link Limits#MAX_DIR_PAGE_ENTRIES}) of them, and whether more follow.
     */
    private static Response.DirPage page(TreeMap<String, DirEntry> names, Request.ReadDir r) {
        int limit = Math.min(r.maxEntries(), Limits.MAX_DIR_PAGE_ENTRIES);
        Iterable<DirEntry> from = r.after() == null || r.after().isEmpty()
                ? names.values()
                : names.tailMap(r.after(), false).values();
        List<DirEntry> entries = new ArrayList<>();
        for (DirEntry d : from) {
            if (entries.size() == limit) {
                return new Response.DirPage(entries, true);
            }
            entries.add(d);
        }
        return new Response.DirPage(entries, false);
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
        if (r instanceof Response.Error err
                && !(err.errno() == Errno.ENOENT || (err.errno() == Errno.ENODATA && q instanceof Request.GetXattr))) {
            return;
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
        store(q, r, path, inode);
        if (q instanceof Request.ReadDir d
                && (d.after() == null || d.after().isEmpty())
                && r instanceof Response.DirPage page
                && !page.more()
                && page.entries().size() <= MAX_COMPLETE_NAMES) {
            // every name of the directory, answered with no change of this client in between: its
            // names are known until one changes without this client seeing its answer
            completeDirectory(d.path());
            TreeMap<String, DirEntry> names = complete.get(d.path());
            for (DirEntry e : page.entries()) {
                names.put(e.name(), e);
            }
        }
    }

    /** Keeps an answer about {@code path} (null if none) and {@code inode} (-1 if none). */
    private void store(Request.Query q, Response r, String path, long inode) {
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
        clears++;
        predictedData.clear();
        entries.clear();
        byPath.clear();
        byInode.clear();
        xattrs.clear();
        complete.clear();
    }

    /**
     * Notes a mutation of this client about to be sent: drops what it changes (see the class
     * comment) and moves the generation. Pass the result to {@link #end} once it is answered.
     */
    synchronized Change begin(Request.Mutation m) {
        return begin(m, false);
    }

    /**
     * {@link #begin}, for a written-back mutation whose effect the cache takes at once when
     * {@code predicted} (it then counts for no directory as busy: the cache holds its names).
     */
    private Change begin(Request.Mutation m, boolean predicted) {
        generation++;
        Change c = touched(m);
        c.predicted = predicted;
        // changes on their way whose effect the cache has not taken (a written-back change's is
        // taken when it begins; one refused moves clears, so nothing begun before learns after it)
        boolean unforeseen = unpredicted - standIns > 0;
        if (!predicted) {
            busy(c, 1);
        } else {
            // an answer to one of those may be learned before this one's: it predates this change
            // and may describe what this change moves without knowing it (see end)
            c.overlapped = unforeseen;
        }
        drop(c);
        boolean data = m instanceof Request.Write || m instanceof Request.Truncate || m instanceof Request.Fallocate;
        switch (m) {
            // a data change whose attributes cannot be predicted: stamped at the entry's time
            case Request.Write w when w.clientNanos() == 0 && w.data().length > 0 -> predictedData.remove(w.inode());
            case Request.Truncate t -> predictedData.remove(t.inode());
            case Request.Fallocate f -> predictedData.remove(f.inode());
            default -> {}
        }
        if (!data && !(m instanceof Request.SetAttr)) {
            // a name may change: paths are carried only between data and attribute changes
            pendingPaths.clear();
        }
        for (long i : c.inodes) {
            busy.merge(i, 1, Integer::sum);
            if (data) {
                // an earlier data change on its way dropped the inode's named answers: its names
                // are still the inode's, and this change's answer may be kept under them
                Set<String> carried = pendingPaths.computeIfAbsent(i, k -> new HashSet<>());
                c.inodePaths.addAll(carried);
                carried.addAll(c.inodePaths);
            }
        }
        if (unforeseen) {
            // what it saw of the parent and the name may predate a change still in flight
            c.parentBefore = null;
            c.fromParentBefore = null;
            c.absentBefore = false;
        }
        c.number = ++begun;
        c.clears = clears;
        return c;
    }

    /**
     * The inode that volume path {@code path} named when this client's data changes to it, still
     * on their way, began (no name has changed since), or -1 if no such change is on its way: the
     * file's attributes are then unknown until they are answered, but not which file it is.
     */
    synchronized long inodeWithDataOnItsWay(String path) {
        return dataOnItsWay(path);
    }

    private long dataOnItsWay(String path) {
        for (Map.Entry<Long, Set<String>> e : pendingPaths.entrySet()) {
            if (e.getValue().contains(path)) {
                return e.getKey();
            }
        }
        return -1;
    }

    /**
     * Notes the answer to a mutation {@link #begin} saw sent: drops again what it changes (answers
     * to queries sent meanwhile may predate it) and moves the generation. When no mutation sent
     * later was answered first and nothing was dropped for another client in between, the
     * answer's own facts are kept (see the class comment).
     *
     * @param answer the volume's answer, or null when the mutation failed without one (its effect
     *     is then unknown)
     */
    synchronized void end(Change c, Response answer) {
        // a mutation sent later and answered first may have changed what this answer describes
        boolean alone = c.clears == clears && highestEnded < c.number;
        highestEnded = Math.max(highestEnded, c.number);
        // applied as predicted: what the cache took when it began is what the volume did, and a
        // query sent since began after the volume applied it (a miss waits for the writes begun
        // before it), so its answer may be kept: the generation stays
        // (a rename answers Ok when it did nothing: the target named the same inode by then)
        // (a rename or create answers the inode's attributes: they must be the ones predicted, which
        // they are unless the client's clock was off by more than the volume's bounds)
        boolean asPredicted = c.predicted
                && answer != null
                && !(answer instanceof Response.Error)
                && !(c.mutation instanceof Request.Rename && !(answer instanceof Response.AttrReply))
                && (c.predictedAttr == null
                        || (answer instanceof Response.AttrReply r && r.attr().equals(c.predictedAttr)));
        if (!asPredicted || c.overlapped) {
            // not applied as taken; or begun while changes it could not foresee were on their way,
            // whose answers, learned meanwhile, lack its effect (a parent's times it could not
            // predict, a hard link's count): its names stay as taken, what it touched goes
            generation++;
            drop(c);
        }
        if (c.predicted && !asPredicted) {
            // changes begun since saw its effect in the cache (a parent's link count, a name):
            // none of them may learn from what it saw
            clears++;
        }
        boolean last = true;
        for (long i : c.inodes) {
            if (busy.computeIfPresent(i, (k, n) -> n == 1 ? null : n - 1) == null) {
                pendingPaths.remove(i);
                predictedData.remove(i); // the answers are in: the last one was learned, or is asked
            } else {
                last = false;
            }
        }
        if (!c.predicted) {
            busy(c, -1);
        }
        if (c.standIn) {
            standIns--;
        }
        if (asPredicted) {
            if (last && c.mutation instanceof Request.Write && answer instanceof Response.AttrReply r) {
                // its begin dropped the file's answers (the prediction stood for them meanwhile);
                // no later change to it is on its way, whose prediction would be newer
                refresh(c, r.attr());
            }
            return;
        }
        if (answer instanceof Response.AttrReply r && busy.containsKey(r.attr().inode())) {
            // another change of this client to the inode is still on its way (a write sent later
            // but answered later, data not sent yet): the answer may lack it
            alone = false;
        }
        if (c.predicted || !alone || answer == null || answer instanceof Response.Error) {
            // overlapped by another change, of unknown effect, refused (which says a name thought
            // absent exists, or the reverse), or written back and not applied as the cache took it:
            // the names of the directories it touches are not known
            for (String d : c.directories) {
                complete.remove(d);
            }
            return;
        }
        learn(c, answer);
    }

    /**
     * Begins the stand-in for bytes a channel buffers for file {@code inode} before sending them
     * ({@link #begin} of an empty write: the file's answers are dropped until the bytes are sent,
     * the prediction of {@link #predictWrite} standing for them). {@link #end} it, with no answer,
     * once the write carrying the bytes has begun.
     */
    synchronized Change beginBuffered(Caller caller, long inode) {
        Change c = begin(new Request.Write(caller, inode, 0, new byte[0], EMPTY_CRC), false);
        c.standIn = true;
        standIns++;
        return c;
    }

    /**
     * Begins a written-back attribute change ({@link #begin}) whose effect the cache takes at once:
     * {@code predicted}, the attributes the volume will answer (see {@link #predict}). {@link #end}
     * keeps them if the answer is exactly that, and drops them (and what the change touches) if not.
     */
    synchronized Change beginSetAttr(Request.SetAttr m, Attr predicted) {
        Change c = begin(m, true);
        c.predictedAttr = predicted;
        predict(c, m.path(), predicted);
        return c;
    }

    /**
     * Begins a data write stamped at the client's time ({@link #begin}): predicted, with the
     * attributes {@link #predictWrite} kept for it as the answer expected, if there are any; else
     * as an unpredicted change. {@link #end} keeps the file's attributes if the answer is exactly
     * that.
     */
    synchronized Change beginWrite(Request.Write w) {
        Attr expected = w.clientNanos() != 0 ? predictedData.get(w.inode()) : null;
        if (expected == null) {
            return begin(w, false);
        }
        Change c = begin(w, true);
        c.predictedAttr = expected;
        return c;
    }

    /**
     * Keeps {@code predicted} as the attributes of {@code path} (and its inode) right after
     * {@link #begin} of a written-back mutation {@code c}: what the volume will answer if it applies
     * the mutation as expected. {@link #end} replaces it with the answer, or drops it.
     */
    synchronized void predict(Change c, String path, Attr predicted) {
        // the attributes it starts from are cached ones, which include the predictions of changes
        // still on their way, or were read after every earlier change was answered
        known(path, predicted);
        predictedData.computeIfPresent(predicted.inode(), (i, before) -> predicted);
    }

    /**
     * The attributes of file {@code inode} as this client will see them once its changes on their
     * way are applied: the prediction for its stamped data changes ({@link #predictWrite}), else a
     * cached answer about it, else null.
     */
    synchronized Attr attrOf(long inode) {
        Attr p = predictedData.get(inode);
        if (p != null) {
            return p;
        }
        for (Request.Query q : byInode.getOrDefault(inode, Set.of())) {
            if (entries.get(q) instanceof Entry e && e.response() instanceof Response.AttrReply a) {
                return a.attr();
            }
        }
        return null;
    }

    /**
     * Predicts what a write of bytes up to {@code end} stamped at {@code clientNanos} by {@code
     * caller} leaves file {@code inode} with, from {@link #attrOf} (the volume's rule,
     * ContentStore.write: the size grows to {@code end}, the modification and change time become
     * {@code max(change time, clientNanos)}, a caller other than root clears set-user-ID and
     * set-group-ID if group-executable), and keeps it for {@code stat} until the write's change
     * ends. Call before the write's change begins, while the attributes are still cached; without
     * them (or without the lease) nothing is predicted and {@code stat} waits for the answer.
     */
    synchronized void predictWrite(long inode, long end, long clientNanos, Caller caller) {
        Attr a = leaseValid.getAsBoolean() ? attrOf(inode) : null;
        if (a == null || a.type() != FileType.FILE) {
            predictedData.remove(inode);
            return;
        }
        int mode = a.mode();
        if (caller.uid() != 0) {
            mode &= ~04000;
            if ((mode & 010) != 0) {
                mode &= ~02000;
            }
        }
        long time = Request.SetAttr.changeTime(clientNanos, a.ctimeNanos(), clientNanos);
        predictedData.put(
                inode,
                new Attr(
                        inode,
                        a.type(),
                        mode,
                        a.nlink(),
                        a.uid(),
                        a.gid(),
                        Math.max(a.size(), end),
                        a.atimeNanos(),
                        time,
                        time,
                        a.rdev()));
    }

    /**
     * Begins a written-back unlink ({@link #begin}) and takes what the volume will do if it applies
     * it as expected: the name is gone (also from its complete directory), and the directory's
     * modification and change time become {@code max(its change time, m.clientNanos())}, the
     * time the volume stamps on it ({@link Request.Unlink#changeTime}; the client's time within
     * its bounds) when its attributes are known here. {@link #end} keeps that if the answer is a
     * success, and drops it (and everything it touches) if not.
     */
    synchronized Change beginUnlink(Request.Unlink m) {
        Attr parent = knownAttr(parentOf(m.path()));
        Change c = begin(m, true);
        removed(m.path());
        touchParentAt(parent, m.path(), m.clientNanos(), 0);
        return c;
    }

    /**
     * Begins a written-back rmdir of a directory this cache knows to be empty ({@link #isEmpty}):
     * as {@link #beginUnlink}, and the parent loses the link the directory's {@code ..} gave it.
     */
    synchronized Change beginRmdir(Request.Rmdir m) {
        Attr parent = knownAttr(parentOf(m.path()));
        Change c = begin(m, true);
        removed(m.path());
        complete.remove(m.path());
        touchParentAt(parent, m.path(), m.clientNanos(), -1);
        return c;
    }

    /**
     * Begins a written-back rename of a file (not a directory) whose attributes the cache holds, to
     * a name it knows to be absent ({@link #knownAbsent}), and takes what the volume will do if it
     * applies it as expected: the source name is gone and the target names the inode (also in
     * complete directories), whose change time, and both parents' modification and change times
     * when known here, become {@code max(their change time, m.clientNanos())}, the time the volume
     * stamps ({@link Request.Rename#changeTime}). {@link #end} keeps that if the answer is a success,
     * and drops it (and everything it touches) if not.
     *
     * @param from the attributes the cache held for {@code m.from()} when the caller decided
     * @return null, having begun nothing, if the cache no longer holds {@code from} for the source,
     *     or no longer knows the target absent (another thread of this client changed them since)
     */
    synchronized Change beginRename(Request.Rename m, Attr from) {
        if (!from.equals(knownAttr(m.from())) || from.type() == FileType.DIRECTORY || !knownAbsent(m.to())) {
            return null;
        }
        String fromParent = parentOf(m.from());
        String toParent = parentOf(m.to());
        Attr fromParentAttr = knownAttr(fromParent);
        Attr toParentAttr = knownAttr(toParent);
        Change c = begin(m, true);
        removed(m.from());
        Attr moved = new Attr(
                from.inode(),
                from.type(),
                from.mode(),
                from.nlink(),
                from.uid(),
                from.gid(),
                from.size(),
                from.atimeNanos(),
                from.mtimeNanos(),
                Math.max(from.ctimeNanos(), m.clientNanos()),
                from.rdev());
        c.predictedAttr = moved;
        named(m.to(), moved);
        known(m.to(), moved);
        if (!fromParent.equals(toParent)) {
            touchParentAt(fromParentAttr, m.from(), m.clientNanos(), 0);
        }
        touchParentAt(toParentAttr, m.to(), m.clientNanos(), 0);
        return c;
    }

    /**
     * Begins a written-back create of a file numbered by the client ({@link Request.Create#inode}) at
     * a name this cache knows to be absent ({@link #knownAbsent}) in a directory whose attributes it
     * holds, and takes what the volume will do if it applies it as expected: the name exists with
     * {@code predicted} (also in its complete directory), and the directory's modification and change
     * time become {@code max(its change time, m.clientNanos())} ({@link Request.Create#changeTime}).
     * {@link #end} keeps that if the answer is a success, and drops it (and everything it touches) if
     * not.
     *
     * @param predicted the new file's attributes, as the volume will answer them
     * @param parent the directory's attributes the prediction was made from (its group, when
     *     set-group-ID)
     * @return null, having begun nothing, if the name is no longer known absent or the directory's
     *     attributes changed (another thread of this client changed them since)
     */
    synchronized Change beginCreate(Request.Create m, Attr predicted, Attr parent) {
        String dir = parentOf(m.path());
        if (!knownAbsent(m.path()) || !parent.equals(knownAttr(dir))) {
            return null;
        }
        Change c = begin(m, true);
        c.predictedAttr = predicted;
        known(m.path(), predicted);
        named(m.path(), predicted);
        touchParentAt(parent, m.path(), m.clientNanos(), 0);
        return c;
    }

    /**
     * Whether {@code path} is known not to exist, while the lease holds: a negative answer (a
     * change of this client that names it drops that when it begins), or a name absent from its
     * complete directory while no change of this client that the cache has not taken yet is on its
     * way in that directory.
     */
    synchronized boolean knownAbsent(String path) {
        if (!leaseValid.getAsBoolean() || busyEverywhere > 0) {
            return false;
        }
        Entry e = knownEntry(path);
        if (e != null) {
            return e.response() instanceof Response.Error err && err.errno() == Errno.ENOENT;
        }
        String parent = parentOf(path);
        return !busyDirectories.containsKey(parent) && absent(path);
    }

    /** Counts {@code c}'s directories as busy ({@code delta} 1) or no longer ({@code -1}). */
    private void busy(Change c, int delta) {
        unpredicted += delta;
        if (c.everything) {
            busyEverywhere += delta;
        }
        for (String d : c.directories) {
            busyDirectories.merge(d, delta, (a, b) -> a + b == 0 ? null : a + b);
        }
    }

    /**
     * Whether {@code directory} is known to have no names: a complete directory (see the class
     * comment) with none left, while the lease holds.
     */
    synchronized boolean isEmpty(String directory) {
        TreeMap<String, DirEntry> names = complete.get(directory);
        return names != null && names.isEmpty() && leaseValid.getAsBoolean();
    }

    /** What a mutation changes: the answers to drop, and what {@link #learn} needs afterwards. */
    static final class Change {
        final Request.Mutation mutation;
        final Set<String> paths = new HashSet<>();
        final Set<Long> inodes = new HashSet<>();
        /** Directories whose names the mutation changes. */
        final Set<String> directories = new HashSet<>();
        /**
         * Paths whose answers below are dropped too: a name created there turns "does not exist"
         * below it into "not a directory", a directory removed there may have had answers below.
         */
        final Set<String> below = new HashSet<>();

        boolean everything;
        /** Written back: the cache took its effect when it began ({@link #beginUnlink}). */
        boolean predicted;
        /** Predicted, and begun while changes whose effect the cache had not taken were on their way. */
        boolean overlapped;
        /** The attributes a predicted rename or create will answer, if applied as predicted. */
        Attr predictedAttr;
        /**
         * A rename whose answer teaches nothing here: one that does nothing (the two names are the
         * same, or name the same inode), or of a directory or a name not known here.
         */
        boolean opaque;
        /** A stand-in for bytes buffered in a channel ({@link #beginBuffered}). */
        boolean standIn;

        boolean allDirectories;
        boolean allXattrs;
        /** The paths whose attributes were cached for the inode whose data changes. */
        final Set<String> inodePaths = new HashSet<>();
        /** The parent's attributes before a name is created or removed in it, when known. */
        Attr parentBefore;
        /** A rename's source parent's attributes before, when known. */
        Attr fromParentBefore;
        /** Whether the name created was known to be absent. */
        boolean absentBefore;

        /** Its number among the mutations begun. */
        long number;
        /** {@link #clears} when it was begun. */
        long clears;

        Change(Request.Mutation mutation) {
            this.mutation = mutation;
        }
    }

    private Change touched(Request.Mutation m) {
        Change c = new Change(m);
        switch (m) {
            case Request.Write w -> data(c, w.inode());
            case Request.Truncate t -> data(c, t.inode());
            case Request.Fallocate f -> data(c, f.inode());
            case Request.DropOrphan d -> c.inodes.add(d.inode());
            case Request.ScrubMark s -> {}
            case Request.Batch b -> c.everything = true; // this file system sends each mutation's change alone
            case Request.SetAttr s -> attributes(c, s.path(), s.expectInode());
            case Request.SetXattr s -> attributes(c, s.path(), 0);
            case Request.RemoveXattr s -> attributes(c, s.path(), 0);
            case Request.Create x -> name(c, x.path(), true);
            case Request.Mkdir x -> name(c, x.path(), true);
            case Request.Symlink x -> name(c, x.path(), true);
            case Request.Mknod x -> name(c, x.path(), true);
            case Request.Link l -> {
                changed(c, l.existing(), 0);
                name(c, l.path(), true);
            }
            case Request.Unlink u -> {
                changed(c, u.path(), u.expectInode());
                name(c, u.path(), false);
            }
            case Request.Rmdir r -> {
                changed(c, r.path(), r.expectInode());
                name(c, r.path(), false);
                c.directories.add(r.path());
            }
            case Request.Rename r -> {
                Attr from = knownAttr(r.from());
                if (from == null || from.type() == FileType.DIRECTORY) {
                    c.everything = true; // every path below it changes
                    c.opaque = true;
                } else {
                    Entry to = knownEntry(r.to());
                    c.opaque = r.from().equals(r.to()) || (to != null && to.inode() == from.inode());
                    changed(c, r.from(), 0);
                    if (!absent(r.to())) {
                        changed(c, r.to(), 0);
                    }
                    name(c, r.from(), false);
                    c.fromParentBefore = c.parentBefore;
                    c.parentBefore = null;
                    name(c, r.to(), false);
                }
            }
        }
        return c;
    }

    /** An inode's data (and so its size and times) changes; its names stay. */
    private void data(Change c, long inode) {
        c.inodes.add(inode);
        for (Request.Query q : byInode.getOrDefault(inode, Set.of())) {
            if (q instanceof Request.GetAttr g) {
                c.inodePaths.add(g.path());
            }
        }
    }

    /**
     * An inode's attributes change through {@code path}: the one it names here, else
     * {@code expectInode} (the one a written-back change names; 0 if none).
     */
    private void attributes(Change c, String path, long expectInode) {
        Attr a = knownAttr(path);
        if (a == null && expectInode == 0) {
            c.everything = true; // its other names' answers are not known here
            return;
        }
        c.paths.add(path);
        c.inodes.add(a != null ? a.inode() : expectInode);
        c.allXattrs = true;
    }

    /**
     * The inode that {@code path} names changes (its link count): all its names' answers go. Which
     * inode: the one cached for the path, and {@code expectInode} (the one a written-back removal
     * names, 0 if none), whose answers are indexed by it whatever name they came under.
     */
    private void changed(Change c, String path, long expectInode) {
        if (expectInode != 0) {
            c.inodes.add(expectInode);
        }
        Entry e = knownEntry(path);
        if (e == null && expectInode == 0) {
            c.everything = true; // an inode with possibly other names cached, not known here
        } else if (e != null && e.inode() >= 0) {
            c.inodes.add(e.inode());
        }
    }

    /** A name is created ({@code created}) or removed in its parent directory. */
    private void name(Change c, String path, boolean created) {
        String parent = parentOf(path);
        c.paths.add(path);
        c.paths.add(parent);
        c.below.add(path);
        c.directories.add(parent);
        Attr pa = knownAttr(parent);
        if (pa == null) {
            c.allDirectories = true; // the parent's attributes may be cached by inode alone
        } else {
            c.inodes.add(pa.inode());
            c.parentBefore = pa;
        }
        if (created) {
            c.absentBefore = absent(path);
        }
    }

    /** Whether {@code path} is known not to exist: a negative answer, or absent from a complete directory. */
    private boolean absent(String path) {
        Entry e = knownEntry(path);
        if (e != null) {
            return e.inode() < 0;
        }
        TreeMap<String, DirEntry> names = complete.get(parentOf(path));
        return names != null && !names.containsKey(nameOf(path));
    }

    private void drop(Change c) {
        if (c.everything) {
            clear();
            return;
        }
        for (String p : c.paths) {
            dropPath(p);
        }
        for (String p : c.below) {
            dropBelow(p);
        }
        for (long i : c.inodes) {
            dropInode(i);
        }
        if (c.allDirectories) {
            dropDirectories();
        }
        if (c.allXattrs) {
            dropAll(xattrs);
        }
    }

    /** Keeps what a mutation's answer says, when no other change of this client interleaved with it. */
    private void learn(Change c, Response answer) {
        Attr a = answer instanceof Response.AttrReply r ? r.attr() : null;
        switch (c.mutation) {
            case Request.Write w -> refresh(c, a);
            case Request.Truncate t -> refresh(c, a);
            case Request.Fallocate f -> refresh(c, a);
            case Request.SetAttr s -> known(s.path(), a);
            case Request.Create x -> created(c, x.path(), a, x.exclusive() || c.absentBefore, false);
            case Request.Mkdir x -> created(c, x.path(), a, true, true);
            case Request.Symlink x -> created(c, x.path(), a, true, false);
            case Request.Mknod x -> created(c, x.path(), a, true, false);
            case Request.Link l -> {
                known(l.existing(), a);
                created(c, l.path(), a, true, false);
            }
            case Request.Unlink u -> {
                removed(u.path());
                touchParent(c.parentBefore, u.path(), a == null ? -1 : a.ctimeNanos(), 0);
            }
            case Request.Rmdir r -> {
                removed(r.path());
                complete.remove(r.path());
            }
            case Request.Rename r -> {
                if (c.opaque || a == null) {
                    return; // a rename that did nothing answers Ok
                }
                removed(r.from());
                named(r.to(), a);
                known(r.to(), a);
                if (!parentOf(r.from()).equals(parentOf(r.to()))) {
                    touchParent(c.fromParentBefore, r.from(), a.ctimeNanos(), 0);
                }
                touchParent(c.parentBefore, r.to(), a.ctimeNanos(), 0);
            }
            default -> {}
        }
    }

    /** A data change's answer: the inode's new attributes, under the names it was cached by. */
    private void refresh(Change c, Attr a) {
        if (a == null) {
            return;
        }
        store(new Request.GetAttrByInode(a.inode()), new Response.AttrReply(a), null, a.inode());
        for (String path : c.inodePaths) {
            store(new Request.GetAttr(path, false), new Response.AttrReply(a), path, a.inode());
        }
    }

    /** {@code path} now has attributes {@code a} (nothing is kept if null). */
    private void known(String path, Attr a) {
        if (a != null) {
            store(new Request.GetAttr(path, false), new Response.AttrReply(a), path, a.inode());
            store(new Request.GetAttrByInode(a.inode()), new Response.AttrReply(a), null, a.inode());
        }
    }

    /**
     * A name now exists with attributes {@code a}, so it is among its directory's names whether or
     * not it was known to be absent before (a create that may have opened an existing file);
     * when {@code isNew} it did not exist before, so its parent's modification and change times
     * became the entry's change time (one timestamp per log entry; POSIX: creating an entry
     * updates the parent's st_ctime and st_mtime) and, for a directory, its link count grew by one.
     */
    private void created(Change c, String path, Attr a, boolean isNew, boolean directory) {
        known(path, a);
        if (a == null) {
            return;
        }
        named(path, a);
        if (!isNew) {
            return;
        }
        if (directory) {
            completeDirectory(path);
        }
        touchParent(c.parentBefore, path, a.ctimeNanos(), directory ? 1 : 0);
    }

    /** {@code path} no longer exists. */
    private void removed(String path) {
        store(new Request.GetAttr(path, false), new Response.Error(Errno.ENOENT, path + " does not exist"), path, -1);
        TreeMap<String, DirEntry> names = complete.get(parentOf(path));
        if (names != null) {
            names.remove(nameOf(path));
        }
    }

    /** {@code path} now names the inode {@code a}: noted if its directory is complete here. */
    private void named(String path, Attr a) {
        String parent = parentOf(path);
        TreeMap<String, DirEntry> names = complete.get(parent);
        if (names == null) {
            return;
        }
        if (names.size() >= MAX_COMPLETE_NAMES) {
            complete.remove(parent);
        } else {
            String name = nameOf(path);
            names.put(name, new DirEntry(name, a.inode(), a.type()));
        }
    }

    /**
     * The parent of {@code path}, whose attributes were {@code p} (nothing is kept if null), was
     * touched by a written-back change made at {@code clientNanos}: at {@code max(its change time,
     * clientNanos)}, the time the volume stamps (the client's time within its bounds), with its link
     * count moved by {@code links}.
     */
    private void touchParentAt(Attr p, String path, long clientNanos, int links) {
        touchParent(p, path, p == null ? -1 : Math.max(p.ctimeNanos(), clientNanos), links);
    }

    /**
     * The parent of {@code path}, whose attributes were {@code p} (nothing is kept if null), was
     * touched at {@code ts} with its link count moved by {@code links}.
     */
    private void touchParent(Attr p, String path, long ts, int links) {
        if (p == null || ts < 0) {
            return;
        }
        known(
                parentOf(path),
                new Attr(
                        p.inode(),
                        p.type(),
                        p.mode(),
                        p.nlink() + links,
                        p.uid(),
                        p.gid(),
                        p.size(),
                        p.atimeNanos(),
                        ts,
                        ts,
                        p.rdev()));
    }

    /** Notes that this client knows every name in {@code directory}: it just created it, empty. */
    private void completeDirectory(String directory) {
        if (complete.size() >= MAX_COMPLETE_DIRECTORIES) {
            complete.remove(complete.keySet().iterator().next());
        }
        complete.put(directory, new TreeMap<>(UTF8_ORDER));
    }

    /**
     * The cache's statistics (a miss: an answer looked for and not found, or found without a
     * lease), with the lease keeper's {@code drops} and whether its lease is {@code valid}.
     */
    synchronized CacheStats stats(long drops, boolean valid) {
        return new CacheStats(hits, misses, entries.size(), drops, valid);
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

    private void dropBelow(String path) {
        String prefix = "/".equals(path) ? "/" : path + "/";
        // '/' + 1 is '0': every key that starts with the prefix sorts before prefix-with-'0'
        String end = prefix.substring(0, prefix.length() - 1) + '0';
        for (Set<Request.Query> qs : List.copyOf(byPath.subMap(prefix, end).values())) {
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

    private static String nameOf(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    /** The parent of absolute volume path {@code path} ({@code "/"} for a name in the root). */
    static String parentOf(String path) {
        int slash = path.lastIndexOf('/');
        return slash <= 0 ? "/" : path.substring(0, slash);
    }
}
