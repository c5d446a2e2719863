package io.holdfast.georep;

import io.holdfast.common.FileInfo;
import io.holdfast.georep.TargetSync.Mode;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.ChangeRecord;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Applies one page of the change feed to the target.
 *
 * <p>Design notes. Renames and deletes change the namespace, and later records of the page name
 * objects by their new names, so they are done at once, in order: a rename whose old name exists
 * at the target is one rename there (a directory keeps its contents and their inodes); otherwise
 * its new name is brought over from the source. Either way the new name is then compared with the
 * source at the end of the page (names, sizes and times of the subtree: no content travels unless
 * it differs), because the object the target held under the old name may not be the one the source
 * renamed: it may have been read from the source after this record (contents are read as they are
 * when a page ends), or the page is being redone after a crash, and the name now holds what a later
 * record put there. Every other change only marks its path dirty
 * (what the file is, its content, or its attributes) and the parent directory's attributes (its
 * times changed); later renames in the page move the marks under the old name to the new one,
 * later deletes drop them. At the end of the page every dirty path is brought over from the
 * source's current state ({@link TargetSync#sync}), parents before children, then the times of the
 * directories whose entries changed are set, deepest first.
 *
 * <p>A data change without a name (an inode whose name the volume did not know) is looked up in a
 * bounded map of inode numbers to their latest names seen in the feed; the name is used only if
 * the source still shows that inode under it. Otherwise, and for any name that is not a clean
 * absolute path, the page ends with a comparison of the whole tree.
 *
 * <p>Hard links. A change of a file with several names is one change of all of them, but the
 * feed names one; and since contents are read ahead of the records, a name may be gone at the
 * source (and then deleted at the target) before the records that changed the file through it
 * are applied. So a mark remembers the inode its changes named; when a marked name goes (a delete
 * in the page, or the source no longer has it) and the file is known to have other names (the
 * target file has several, the mark came from a LINK, or {@link TargetSync} remembers other names
 * of that source inode), those names are brought over instead; if none is known, the page ends
 * with a comparison of the whole tree. The same happens when a file with several names lost one
 * at the target because the source no longer had it ({@link TargetSync#takeLostLinkedName}), and,
 * on the last page of a catch-up, when a file brought over has fewer names at the target than at
 * the source ({@link TargetSync#fewerLinksThanSource}).
 *
 * <p>Not thread-safe; one per replicator.
 */
final class PageApplier {
    /** Most inode numbers whose latest name is remembered. */
    static final int MAX_INODE_NAMES = 1 << 16;

    /** What is to be brought over for one path. */
    private static final class Mark {
        Mode mode;
        String linkFrom;
        /** The source inode the changes named (0 if none did): to find its other names if this one goes. */
        long inode;

        /** The path the mark is at (kept up to date by renames). */
        String name;

        Mark(Mode mode, String name) {
            this.mode = mode;
            this.name = name;
        }
    }

    private final TargetSync sync;
    private final Runnable fullCompareStarted;

    private final Map<Long, String> inodeNames = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
            return size() > MAX_INODE_NAMES;
        }
    };

    private TreeMap<String, Mark> marks;
    private Set<Long> viaInodeNames;
    /** Inodes changed through a name that went, with other names they may have. */
    private Map<Long, Set<String>> orphaned;

    private boolean fullCompare;

    /**
     * @param fullCompareStarted called when a page ends with a comparison of the whole tree
     */
    PageApplier(TargetSync sync, Runnable fullCompareStarted) {
        this.sync = sync;
        this.fullCompareStarted = fullCompareStarted;
    }

    /**
     * Applies {@code records} in order.
     *
     * @param sweep also delete temporary names a crash may have left in the directories the page
     *     touches (the first page after a start redoes the page a crash interrupted)
     * @param caughtUp whether this is the last page the feed has now: then a file with several names
     *     that has fewer at the target than at the source makes the page end with a full comparison
     * @throws IOException if the source or target fail: the page is incomplete and must be applied
     *     again (every step is idempotent)
     */
    void apply(List<ChangeRecord> records, boolean sweep, boolean caughtUp) throws IOException {
        try {
            applyPage(records, sweep, caughtUp);
        } catch (IOException | RuntimeException e) {
            sync.abandon(); // copies still running for the failed attempt: wait, drop their temporary names
            throw e;
        }
    }

    private void applyPage(List<ChangeRecord> records, boolean sweep, boolean caughtUp) throws IOException {
        marks = new TreeMap<>();
        viaInodeNames = new HashSet<>();
        orphaned = new HashMap<>();
        fullCompare = false;
        for (ChangeRecord r : records) {
            for (Change c : r.changes()) {
                change(c);
            }
        }
        for (long inode : viaInodeNames) {
            String name = inodeNames.get(inode);
            FileInfo s = name == null ? null : TargetSync.stat(sync.src(name));
            if (s == null || s.inode() != inode) {
                fullCompare = true;
            }
        }
        if (sweep) {
            Set<String> dirs = new HashSet<>();
            for (String rel : marks.keySet()) {
                dirs.add(rel.isEmpty() ? "" : TargetSync.parent(rel));
            }
            for (String dir : dirs) {
                sync.sweepTemporaries(dir);
            }
        }
        if (!fullCompare) {
            sync.prefetch(marks.keySet()); // a remote source: its entries stated in parallel, not one round trip each
        }
        Set<String> trees = new HashSet<>();
        for (Map.Entry<String, Mark> e : marks.entrySet()) {
            String rel = e.getKey();
            if (fullCompare || (coveredBy(trees, rel) && e.getValue().linkFrom == null)) {
                continue; // a comparison of an ancestor brought it over (not a new hard link: it knows its peer)
            }
            Mark m = e.getValue();
            if (m.inode != 0
                    && (m.linkFrom != null
                            || sync.hasOtherLinks(rel)
                            || !sync.peersOf(m.inode).isEmpty())
                    && sync.sourceInode(rel) != m.inode) {
                orphan(m); // the name went, or names another file, at the source after the page's records
            }
            try {
                sync.sync(rel, m.mode, m.linkFrom);
            } catch (IOException | UnsupportedOperationException ex) {
                if (!TargetSync.lasting(ex)) {
                    throw ex;
                }
                sync.skipped(rel, ex);
            }
            if (e.getValue().mode == Mode.TREE) {
                trees.add(rel);
            }
        }
        for (Map.Entry<Long, Set<String>> o : orphaned.entrySet()) {
            long inode = o.getKey();
            boolean found = false;
            List<String> names = new ArrayList<>(o.getValue());
            names.addAll(sync.peersOf(inode));
            if (inodeNames.get(inode) != null) {
                names.add(inodeNames.get(inode));
            }
            for (String name : names) {
                FileInfo s = TargetSync.stat(sync.src(name));
                if (!fullCompare && s != null && s.inode() == inode) {
                    sync.sync(name, Mode.COPY, null);
                    found = true;
                }
            }
            if (!found) {
                fullCompare = true; // another name of that file changed, and none is known
            }
        }
        if (sync.takeLostLinkedName()) {
            fullCompare = true; // a name of a file with several was deleted ahead of the feed (see the class notes)
        }
        if (!fullCompare && caughtUp && sync.fewerLinksThanSource()) {
            fullCompare = true; // a hard link the names in the feed could not show (see the class notes)
        }
        if (fullCompare) {
            fullCompareStarted.run();
            sync.syncTree("");
        }
        sync.finishDirectories();
        marks = null;
    }

    private void orphan(Mark m) throws IOException {
        sync.beforeSplit(); // the target is about to lose what ties the file's names: record the need first
        Set<String> names = orphaned.computeIfAbsent(m.inode, k -> new HashSet<>());
        if (m.linkFrom != null) {
            names.add(m.linkFrom);
        }
    }

    private static boolean coveredBy(Set<String> trees, String rel) {
        for (String p = rel; !p.isEmpty(); ) {
            p = TargetSync.parent(p);
            if (trees.contains(p)) {
                return true;
            }
        }
        return false;
    }

    private void change(Change c) throws IOException {
        String p = c.path() == null ? null : TargetSync.relative(c.path());
        if (c.path() != null && p == null) {
            sync.skipped(c.path(), new IOException("change " + c.kind() + " of '" + c.path() + "': not a clean path"));
            fullCompare = true;
            return;
        }
        String f = null;
        if (c.from() != null) {
            f = TargetSync.relative(c.from());
            if (f == null) {
                sync.skipped(
                        c.from(), new IOException("change " + c.kind() + " from '" + c.from() + "': not a clean path"));
                fullCompare = true;
                return;
            }
        }
        if (p != null && TargetSync.ignored(p)) {
            return; // the source's own .holdfast-georep is not replicated
        }
        switch (c.kind()) {
            case RENAME -> {
                if (p.isEmpty() || f.isEmpty()) {
                    fullCompare = true; // no volume renames its root; compare rather than guess
                    return;
                }
                dropMarks(p);
                if (!TargetSync.ignored(f)) {
                    sync.renameTarget(f, p);
                }
                if (!TargetSync.ignored(f)) {
                    moveMarks(f, p);
                    markParent(f);
                    if (sync.existsAtTarget(f)) {
                        // not renamed here (its new parent is gone at the source by now), or both names of
                        // one file (rename(2) does nothing): compare what the old name holds
                        mark(f, Mode.TREE);
                    }
                }
                // TREE either way: if the rename was done here, a quick comparison (names, sizes, times)
                // of what moved, because the object the target had under the old name may not be the
                // one the source renamed (it may have been read ahead of this record, or this page is
                // being redone after a crash); if it was not, the new name is brought over.
                mark(p, Mode.TREE);
                markParent(p);
            }
            case UNLINK, RMDIR -> {
                dropMarks(p);
                if (!p.isEmpty()) {
                    sync.deleteTarget(p);
                }
                markParent(p);
                if (c.inode() != 0 && p.equals(inodeNames.get(c.inode()))) {
                    inodeNames.remove(c.inode());
                }
                return;
            }
            case MKDIR -> {
                mark(p, Mode.ATTRS);
                markParent(p);
            }
            case CREATE, SYMLINK, MKNOD -> {
                mark(p, Mode.COPY);
                markParent(p);
            }
            case LINK -> {
                Mark m = mark(p, Mode.ATTRS);
                m.linkFrom = TargetSync.ignored(f) ? null : f;
                markParent(p);
            }
            case SETATTR, SETXATTR, REMOVEXATTR -> mark(p, Mode.ATTRS);
            case WRITE, TRUNCATE, FALLOCATE -> {
                if (p == null) {
                    String known = inodeNames.get(c.inode());
                    if (known == null || c.inode() == 0) {
                        fullCompare = true;
                    } else {
                        viaInodeNames.add(c.inode());
                        mark(known, Mode.COPY).inode = c.inode();
                    }
                    return;
                }
                mark(p, Mode.COPY);
            }
        }
        if (c.inode() != 0) {
            inodeNames.put(c.inode(), p);
            Mark m = marks.get(p);
            if (m != null && c.kind() != Change.Kind.MKDIR) {
                m.inode = c.inode();
            }
        }
    }

    private Mark mark(String rel, Mode mode) {
        Mark m = marks.computeIfAbsent(rel, r -> new Mark(mode, r));
        if (mode.ordinal() > m.mode.ordinal()) {
            m.mode = mode;
        }
        return m;
    }

    private void markParent(String rel) {
        if (!rel.isEmpty()) {
            mark(TargetSync.parent(rel), Mode.ATTRS);
        }
    }

    private SortedMap<String, Mark> below(String rel) {
        return rel.isEmpty() ? marks.tailMap("", true) : marks.subMap(rel + "/", rel + "0");
    }

    private void dropMarks(String rel) throws IOException {
        List<Mark> dropped = new ArrayList<>();
        Mark self = marks.remove(rel);
        if (self != null) {
            dropped.add(self);
        }
        dropped.addAll(below(rel).values());
        below(rel).clear();
        for (Mark m : dropped) {
            if (m.inode != 0
                    && (m.linkFrom != null
                            || sync.hasOtherLinks(m.name)
                            || !sync.peersOf(m.inode).isEmpty())) {
                orphan(m); // changed through a name that goes: the file's other names need it
            }
        }
        for (Mark m : marks.values()) {
            if (m.linkFrom != null && (m.linkFrom.equals(rel) || m.linkFrom.startsWith(rel + "/"))) {
                m.linkFrom = null;
            }
        }
    }

    private void moveMarks(String from, String to) {
        Map<String, Mark> moved = new HashMap<>();
        Mark self = marks.remove(from);
        if (self != null) {
            moved.put(to, self);
        }
        SortedMap<String, Mark> under = below(from);
        for (Map.Entry<String, Mark> e : under.entrySet()) {
            moved.put(to + e.getKey().substring(from.length()), e.getValue());
        }
        under.clear();
        for (Map.Entry<String, Mark> e : moved.entrySet()) {
            Mark m = mark(e.getKey(), e.getValue().mode);
            if (e.getValue().linkFrom != null) {
                m.linkFrom = e.getValue().linkFrom;
            }
            if (e.getValue().inode != 0) {
                m.inode = e.getValue().inode;
            }
        }
        List<Mark> all = new ArrayList<>(marks.values());
        for (Mark m : all) {
            if (m.linkFrom != null && (m.linkFrom.equals(from) || m.linkFrom.startsWith(from + "/"))) {
                m.linkFrom = to + m.linkFrom.substring(from.length());
            }
        }
    }
}
