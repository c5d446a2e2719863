package io.holdfast.georep;

import io.holdfast.common.FileInfo;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * One reverse pass: plans the delta from the promoted copy back to the old primary and applies it
 * (see {@link Failover#reverse} for the rules). Single use, one thread.
 */
final class ReversePass {
    /** Operations between two progress records when they can be redone harmlessly. */
    static final int PROGRESS_EVERY = 256;

    private final ChangeSource feed;
    private final Path primaryRoot;
    private final Path copyRoot;
    private final GeoOptions options;
    private final Path stateDir;
    /** The copy as the last {@link #plan} found it (the next baseline). */
    private Manifest scanned;
    /** Names after the planned renames → names before them (the primary's names while planning). */
    private Renames inverse = new Renames();

    /** Test hook: runs before each operation is applied, with its number. */
    interface OpHook {
        void before(int op) throws IOException;
    }

    OpHook beforeOp = op -> {};

    ReversePass(ChangeSource feed, Path primaryRoot, Path copyRoot, GeoOptions options) {
        this.feed = feed;
        this.primaryRoot = primaryRoot;
        this.copyRoot = copyRoot;
        this.options = options;
        this.stateDir = copyRoot.resolve(StateFile.DIR);
    }

    // ---- planning

    /** Plans a pass from the baseline {@code p} names. Reads the copy, the feed and the primary; writes nothing. */
    ReversePlan plan(StateFile.Promoted p) throws IOException {
        Manifest baseline = Manifest.read(stateDir.resolve(p.baseline()));
        Manifest now = Manifest.scan(copyRoot);
        scanned = now;
        inverse = new Renames();
        String next = Manifest.fileName(Long.parseLong(p.baseline().substring(Manifest.PREFIX.length())) + 1);

        // the old primary's changes since the base index, in its (the baseline's) names
        Set<String> primaryChanged = new HashSet<>();
        long primaryIndex = primaryChangesFromFeed(p.baseIndex(), primaryChanged);
        String primarySource = "feed";
        if (primaryIndex < 0) {
            primarySource = "tree";
            primaryChanged.clear();
            primaryIndex = feed.changes(p.baseIndex(), 1, 0).appliedIndex();
            primaryChangesFromTree(baseline, primaryChanged);
        }

        Map<String, Manifest.Entry> base = baseline.entries();
        Map<String, Manifest.Entry> cur = now.entries();

        // renames at the copy: one name of an inode in the baseline, one other name now, the new name
        // new, the same birth time (else a new entry that was given a deleted one's inode number)
        Map<Long, List<String>> baseByInode = byInode(base);
        Map<Long, List<String>> curByInode = byInode(cur);
        List<String[]> candidates = new ArrayList<>();
        for (Map.Entry<Long, List<String>> e : curByInode.entrySet()) {
            List<String> was = baseByInode.get(e.getKey());
            if (e.getValue().size() != 1 || was == null || was.size() != 1) {
                continue;
            }
            String from = was.getFirst();
            String to = e.getValue().getFirst();
            if (!from.equals(to)
                    && !base.containsKey(to)
                    && !cur.containsKey(from)
                    && base.get(from).type() == cur.get(to).type()
                    && base.get(from).btime() == cur.get(to).btime()) {
                candidates.add(new String[] {from, to});
            }
        }
        candidates.sort(Comparator.<String[]>comparingInt(c -> depth(c[1])).thenComparing(c -> c[1]));
        Renames renames = new Renames();
        Set<String> renamedTo = new HashSet<>();
        List<ReversePlan.Op> ops = new ArrayList<>();
        List<ReverseReport.Conflict> conflicts = new ArrayList<>();
        Set<String> taken = new HashSet<>();
        String suffix = ReverseReport.CONFLICT_SUFFIX + p.baseIndex();
        Set<String> puts = new HashSet<>();
        Set<String> handled = new HashSet<>();
        for (String[] c : candidates) {
            String from = renames.map(c[0]);
            String to = c[1];
            renamedTo.add(to);
            if (from.equals(to)) {
                continue; // moved with its directory
            }
            if (primaryChanged.contains(to)) {
                FileInfo pt = TargetSync.stat(primaryNow(to));
                if (pt != null) {
                    String copy = copyName(to, suffix, taken);
                    ops.add(new ReversePlan.Op(ReversePlan.Kind.MOVE_ASIDE, to, copy));
                    conflicts.add(new ReverseReport.Conflict(
                            "/" + to, "renamed from /" + c[0], describe("created", pt), "/" + copy));
                }
            }
            if (!base.get(c[0]).isDirectory() && primaryChanged.contains(c[0])) {
                // the primary changed the file the copy renamed: the copy's version goes to the new
                // name, the primary's stays beside the old name
                handled.add(c[0]);
                FileInfo pf = TargetSync.stat(primary(c[0]));
                boolean same = pf != null && sameContent(primary(c[0]), pf, copy(to));
                if (pf == null) {
                    conflicts.add(new ReverseReport.Conflict("/" + c[0], "renamed to /" + to, "deleted", null));
                } else if (!same) {
                    String copy = copyName(from, suffix, taken);
                    ops.add(new ReversePlan.Op(ReversePlan.Kind.MOVE_ASIDE, from, copy));
                    conflicts.add(new ReverseReport.Conflict(
                            "/" + c[0], "renamed to /" + to, describe("changed", pf), "/" + copy));
                }
                if (!same) {
                    ops.add(new ReversePlan.Op(ReversePlan.Kind.PUT, to, ""));
                    puts.add(to);
                    continue;
                }
            }
            ops.add(new ReversePlan.Op(ReversePlan.Kind.RENAME, from, to));
            renames.add(from, to);
        }

        inverse = renames.inverse();
        // the baseline and the primary's changes in the names after the renames
        Map<String, Manifest.Entry> was = new LinkedHashMap<>();
        for (Map.Entry<String, Manifest.Entry> e : base.entrySet()) {
            was.put(renames.map(e.getKey()), e.getValue());
        }
        Set<String> changed = new HashSet<>();
        Set<String> changedBelow = new HashSet<>();
        for (String path : primaryChanged) {
            String m = renames.map(path);
            changed.add(m);
            for (String a = TargetSync.parent(m); !a.isEmpty(); a = TargetSync.parent(a)) {
                changedBelow.add(a);
            }
        }

        // deletes: what the baseline had and the copy has not (the topmost of a deleted subtree)
        List<ReversePlan.Op> deletes = new ArrayList<>();
        for (Map.Entry<String, Manifest.Entry> e : was.entrySet()) {
            String path = e.getKey();
            String parent = TargetSync.parent(path);
            if (cur.containsKey(path) || !(parent.isEmpty() || cur.containsKey(parent)) || handled.contains(path)) {
                continue;
            }
            if (changed.contains(path) || changedBelow.contains(path)) {
                FileInfo pt = TargetSync.stat(primaryNow(path));
                if (pt != null) {
                    String copy = copyName(path, suffix, taken);
                    deletes.add(new ReversePlan.Op(ReversePlan.Kind.MOVE_ASIDE, path, copy));
                    conflicts.add(
                            new ReverseReport.Conflict("/" + path, "deleted", describe("changed", pt), "/" + copy));
                    continue;
                }
            }
            deletes.add(new ReversePlan.Op(ReversePlan.Kind.DELETE, path, ""));
        }
        ops.addAll(deletes);

        // puts: new or changed at the copy, parents first (the walk's order)
        for (Map.Entry<String, Manifest.Entry> e : cur.entrySet()) {
            String path = e.getKey();
            Manifest.Entry now1 = e.getValue();
            Manifest.Entry then = was.get(path);
            String how;
            if (then == null) {
                how = "new";
            } else if (then.type() != now1.type()) {
                how = "type changed";
            } else if (renamedTo.contains(path) ? !then.sameLook(now1) : !then.unchanged(now1)) {
                how = renamedTo.contains(path) ? "renamed from a changed name, modified" : "modified";
            } else {
                continue;
            }
            if (puts.contains(path)) {
                continue;
            }
            if (changed.contains(path) || (!now1.isDirectory() && changedBelow.contains(path))) {
                FileInfo pt = TargetSync.stat(primaryNow(path));
                if (pt == null) {
                    if (then != null) {
                        conflicts.add(new ReverseReport.Conflict("/" + path, how, "deleted", null));
                    }
                } else if (!(pt.isDirectory() && now1.isDirectory())
                        && !sameContent(primaryNow(path), pt, copy(path))) {
                    String copy = copyName(path, suffix, taken);
                    ops.add(new ReversePlan.Op(ReversePlan.Kind.MOVE_ASIDE, path, copy));
                    conflicts.add(new ReverseReport.Conflict(
                            "/" + path, how, describe(then == null ? "created" : "changed", pt), "/" + copy));
                }
            }
            ops.add(new ReversePlan.Op(ReversePlan.Kind.PUT, path, ""));
        }
        conflicts.sort(Comparator.comparing(ReverseReport.Conflict::path));
        return new ReversePlan(
                p.baseIndex(), p.baseline(), next, primaryIndex, primarySource, primaryChanged.size(), ops, conflicts);
    }

    /** Writes the next baseline (the copy as the last {@link #plan} found it) for {@code plan}. */
    void writeNextBaseline(ReversePlan plan) throws IOException {
        scanned.write(stateDir.resolve(plan.next()), options.fsync());
    }

    /**
     * Adds the paths the feed names after {@code after} to {@code out}; returns the applied index
     * read, or -1 if the feed cannot tell (history trimmed, or a change it could not place).
     */
    private long primaryChangesFromFeed(long after, Set<String> out) throws IOException {
        long position = after;
        while (true) {
            Response.ChangePage page = feed.changes(position, Request.Changes.MAX_RECORDS, 0);
            if (page.resyncNeeded(position)) {
                return -1;
            }
            for (ChangeRecord r : page.records()) {
                for (Change c : r.changes()) {
                    if (c.path() == null) {
                        return -1; // a write the volume could not name
                    }
                    for (String name : c.from() == null ? new String[] {c.path()} : new String[] {c.path(), c.from()}) {
                        String rel = TargetSync.relative(name);
                        if (rel == null) {
                            return -1;
                        }
                        if (!rel.isEmpty() && !TargetSync.ignored(rel)) {
                            out.add(rel);
                        }
                    }
                }
            }
            long next = page.next(position);
            if (!page.more() || next == position) {
                return Math.max(next, page.appliedIndex());
            }
            position = next;
        }
    }

    /** Adds every path where the primary's tree differs from the baseline (no inodes: another file system). */
    private void primaryChangesFromTree(Manifest baseline, Set<String> out) throws IOException {
        Map<String, Manifest.Entry> primary = Manifest.scan(primaryRoot).entries();
        for (Map.Entry<String, Manifest.Entry> e : primary.entrySet()) {
            Manifest.Entry b = baseline.entries().get(e.getKey());
            if (b == null || !sameAcross(b, e.getValue())) {
                out.add(e.getKey());
            }
        }
        for (String path : baseline.entries().keySet()) {
            if (!primary.containsKey(path)) {
                out.add(path);
            }
        }
    }

    /** Whether two entries of different trees look equal: type, permission bits, size, time, link. */
    private static boolean sameAcross(Manifest.Entry a, Manifest.Entry b) {
        return a.mode() == b.mode()
                && (a.isDirectory() || a.size() == b.size())
                && a.mtime() == b.mtime()
                && Objects.equals(a.link(), b.link());
    }

    private static Map<Long, List<String>> byInode(Map<String, Manifest.Entry> entries) {
        Map<Long, List<String>> out = new HashMap<>();
        for (Map.Entry<String, Manifest.Entry> e : entries.entrySet()) {
            if (e.getValue().inode() >= 0) {
                out.computeIfAbsent(e.getValue().inode(), k -> new ArrayList<>(1))
                        .add(e.getKey());
            }
        }
        return out;
    }

    private static String describe(String what, FileInfo now) {
        return what + " since the split, now a " + now.typeName();
    }

    /** A name for the primary's version of {@code path} that neither side has, nor another conflict copy. */
    private String copyName(String path, String suffix, Set<String> taken) throws IOException {
        String base = path + suffix;
        String name = base;
        for (int k = 2;
                taken.contains(name)
                        || TargetSync.stat(primaryNow(name)) != null
                        || TargetSync.stat(copy(name)) != null;
                k++) {
            name = base + "-" + k;
        }
        taken.add(name);
        return name;
    }

    /** Whether primary entry {@code p} (stat {@code pi}) and copy entry {@code c} have equal type and content. */
    private boolean sameContent(Path p, FileInfo pi, Path c) throws IOException {
        FileInfo ci = TargetSync.stat(c);
        if (ci == null || ci.type() != pi.type()) {
            return false;
        }
        if (pi.isRegularFile()) {
            return pi.size() == ci.size() && Arrays.equals(digest(p), digest(c));
        }
        if (pi.isSymbolicLink()) {
            return Files.readSymbolicLink(p)
                    .toString()
                    .equals(Files.readSymbolicLink(c).toString());
        }
        return pi.rdev() == ci.rdev();
    }

    private static byte[] digest(Path p) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(p)) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                md.update(buf, 0, n);
            }
        }
        return md.digest();
    }

    private Path primary(String rel) {
        return TargetSync.at(primaryRoot, rel);
    }

    /** Primary entry {@code rel} (a name after the planned renames) as named at the primary while planning. */
    private Path primaryNow(String rel) {
        return primary(inverse.map(rel));
    }

    private Path copy(String rel) {
        return TargetSync.at(copyRoot, rel);
    }

    private static int depth(String rel) {
        return rel.split("/").length;
    }

    /** The old primary's applied index now (at least {@code atLeast}): where the next pass starts. */
    long appliedIndexAfter(long atLeast) throws IOException {
        return Math.max(atLeast, feed.changes(atLeast, 1, 0).appliedIndex());
    }

    // ---- applying

    /**
     * Applies {@code plan} at the primary from operation {@code from} on, recording progress at the
     * copy; returns the counters.
     */
    Counters apply(ReversePlan plan, int from) throws IOException {
        Counters counters = new Counters();
        TargetSync sync = new TargetSync(copyRoot, primaryRoot, options, counters, () -> {});
        Path progress = stateDir.resolve(ReversePlan.PROGRESS);
        try {
            applyOps(plan, from, sync, progress);
        } catch (IOException | RuntimeException e) {
            sync.abandon(); // copies still running for this attempt: wait, drop their temporary names
            throw e;
        }
        return counters;
    }

    private void applyOps(ReversePlan plan, int from, TargetSync sync, Path progress) throws IOException {
        List<ReversePlan.Op> ops = plan.ops();
        if (from > 0) {
            // a pass killed before left temporary names where its copies were under way
            Set<String> dirs = new TreeSet<>();
            for (ReversePlan.Op op : ops) {
                dirs.add(TargetSync.parent(op.path()));
                if (op.other() != null) {
                    dirs.add(TargetSync.parent(op.other()));
                }
            }
            for (String dir : dirs) {
                sync.sweepTemporaries(dir);
            }
        }
        for (int i = from; i < ops.size(); i++) {
            beforeOp.before(i);
            ReversePlan.Op op = ops.get(i);
            boolean redoable = true;
            try {
                switch (op.kind()) {
                    case MOVE_ASIDE -> moveAside(op.path(), op.other());
                    case RENAME -> {
                        redoable = false;
                        if (!sync.renameTarget(op.path(), op.other())) {
                            sync.sync(
                                    op.other(),
                                    Files.isDirectory(copy(op.other())) ? TargetSync.Mode.ATTRS : TargetSync.Mode.TREE,
                                    null);
                        }
                    }
                    case DELETE -> sync.deleteTarget(op.path());
                    case PUT -> {
                        FileInfo c = TargetSync.stat(copy(op.path()));
                        sync.sync(
                                op.path(),
                                c != null && c.isDirectory() ? TargetSync.Mode.ATTRS : TargetSync.Mode.TREE,
                                null);
                    }
                }
            } catch (IOException | UnsupportedOperationException e) {
                if (op.kind() == ReversePlan.Kind.MOVE_ASIDE || !TargetSync.lasting(e)) {
                    // never skipped: the entry the DR version replaces next would be lost
                    throw e;
                }
                sync.skipped(op.path(), e);
            }
            if (!redoable || (i + 1) % PROGRESS_EVERY == 0) {
                sync.flush(); // the deferred copies land before the progress that counts them done
                ReversePlan.recordProgress(progress, plan.next(), i + 1, options.fsync());
            }
        }
        sync.finishDirectories();
        ReversePlan.recordProgress(progress, plan.next(), ops.size(), options.fsync());
    }

    private void moveAside(String path, String copy) throws IOException {
        if (TargetSync.stat(primary(copy)) != null || TargetSync.stat(primary(path)) == null) {
            return; // done before (the copy's name is taken only by this move), or nothing to keep
        }
        Files.move(primary(path), primary(copy), StandardCopyOption.ATOMIC_MOVE);
        if (options.fsync()) {
            StateFile.forceDirectory(primary(TargetSync.parent(path)));
        }
    }

    /** Renames in the order they are applied, mapping a name before them to the name after them. */
    static final class Renames {
        private final List<String[]> list = new ArrayList<>();
        /** From name → indexes in {@link #list}, ascending. */
        private final Map<String, List<Integer>> byFrom = new HashMap<>();

        /** The renames undone: each one's new name back to its old, last first. */
        Renames inverse() {
            Renames r = new Renames();
            for (int i = list.size() - 1; i >= 0; i--) {
                r.add(list.get(i)[1], list.get(i)[0]);
            }
            return r;
        }

        void add(String from, String to) {
            byFrom.computeIfAbsent(from, k -> new ArrayList<>()).add(list.size());
            list.add(new String[] {from, to});
        }

        /** {@code path} after the renames (each applied to it, or to a directory above it, in order). */
        String map(String path) {
            if (list.isEmpty()) {
                return path;
            }
            String cur = path;
            int pos = 0;
            while (true) {
                int best = Integer.MAX_VALUE;
                String bestFrom = null;
                for (String a = cur; !a.isEmpty(); a = TargetSync.parent(a)) {
                    List<Integer> at = byFrom.get(a);
                    if (at != null) {
                        for (int idx : at) {
                            if (idx >= pos && idx < best) {
                                best = idx;
                                bestFrom = a;
                                break;
                            }
                        }
                    }
                }
                if (bestFrom == null) {
                    return cur;
                }
                cur = list.get(best)[1] + cur.substring(bestFrom.length());
                pos = best + 1;
            }
        }
    }
}
