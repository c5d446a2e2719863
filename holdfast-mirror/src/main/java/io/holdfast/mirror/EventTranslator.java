package io.holdfast.mirror;

import io.holdfast.mirror.FanotifyEvents.Event;
import io.holdfast.mirror.FanotifyEvents.Handle;
import io.holdfast.mirror.FanotifyEvents.Info;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.Change.Kind;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Turns fanotify events of a whole file system into {@link Change}s of one directory tree: keeps
 * the events inside the root, names them by path relative to it ("/a/b" for ROOT/a/b, "/" for the
 * root itself), and drops the rest.
 *
 * <p>Directory names: an event names a directory by file handle. The translator keeps a bounded
 * map from directory handle to absolute path, <em>maintained by the events themselves</em>: a
 * directory created, renamed or removed (seen through the event's target file id) updates it in
 * event order, including every cached descendant of a renamed or removed directory. A handle not
 * in the map is resolved by {@code resolver} (open_by_handle_at + readlink in production), which
 * gives its name <em>now</em>, at read time: for a directory renamed after the event was queued
 * but before it was read, that is the newer name. Once known, the map follows later renames in
 * event order.
 *
 * <p>An event whose directory cannot be resolved (removed before the event was read and never
 * seen being made) is dropped and counted in {@link #unresolved()}; its consequence (the removal)
 * arrives as a later event of a directory that still exists or is known.
 *
 * <p>Not thread-safe: one reader thread owns it.
 */
final class EventTranslator {
    private final String root;
    private final Function<Handle, String> resolver;
    private final int maxCached;
    private final LinkedHashMap<Handle, String> dirs;
    private long unresolved;

    /**
     * @param root the watched directory's absolute, real path (no symbolic links, no trailing slash
     *     unless it is "/")
     * @param resolver the current absolute path of a directory handle, or null if it no longer has
     *     one
     * @param maxCached most directory handles remembered, at least 1
     */
    EventTranslator(String root, Function<Handle, String> resolver, int maxCached) {
        if (maxCached < 1) {
            throw new IllegalArgumentException("cache of " + maxCached + " directories");
        }
        this.root = root;
        this.resolver = resolver;
        this.maxCached = maxCached;
        this.dirs = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Handle, String> eldest) {
                return size() > EventTranslator.this.maxCached;
            }
        };
    }

    /** Events dropped because their directory had no name any more. */
    long unresolved() {
        return unresolved;
    }

    /** Directory handles currently remembered. */
    int cached() {
        return dirs.size();
    }

    /**
     * The changes {@code event} made inside the root, in the order they happened (several bits of
     * one merged event: create, write, attributes, delete), possibly none.
     *
     * @throws IOException if the event moved or removed the root itself (capture cannot go on)
     */
    List<Change> translate(Event event) throws IOException {
        long mask = event.mask();
        boolean dir = (mask & NotifyNative.FAN_ONDIR) != 0;
        Info target = event.info(FanotifyEvents.INFO_FID);
        long inode = target == null ? 0 : target.handle().inode();
        List<Change> out = new ArrayList<>(2);
        if ((mask & NotifyNative.FAN_RENAME) != 0) {
            rename(event, dir, target, inode, out);
            return out;
        }
        Info named = event.info(FanotifyEvents.INFO_DFID_NAME);
        if (named == null) {
            return out;
        }
        String parent = dirPath(named.handle());
        if (parent == null) {
            unresolved++;
            return out;
        }
        String abs = ".".equals(named.name()) ? parent : join(parent, named.name());
        String rel = relative(abs);
        if ((mask & NotifyNative.FAN_CREATE) != 0) {
            if (dir && target != null) {
                remember(target.handle(), abs);
            }
            add(out, dir ? Kind.MKDIR : Kind.CREATE, inode, rel);
        }
        if ((mask & (NotifyNative.FAN_MODIFY | NotifyNative.FAN_CLOSE_WRITE)) != 0 && !dir) {
            if (rel != null) {
                out.add(new Change(Kind.WRITE, inode, rel, null, 0, 0));
            }
        }
        if ((mask & NotifyNative.FAN_ATTRIB) != 0) {
            add(out, Kind.SETATTR, inode, rel);
        }
        if ((mask & NotifyNative.FAN_DELETE) != 0) {
            if (dir) {
                checkRootSurvives(abs, "removed");
                forget(abs);
            }
            add(out, dir ? Kind.RMDIR : Kind.UNLINK, inode, rel);
        }
        return out;
    }

    private void rename(Event event, boolean dir, Info target, long inode, List<Change> out) throws IOException {
        Info from = event.info(FanotifyEvents.INFO_OLD_DFID_NAME);
        Info to = event.info(FanotifyEvents.INFO_NEW_DFID_NAME);
        if (from == null || to == null) {
            return;
        }
        String fromDir = dirPath(from.handle());
        String toDir = dirPath(to.handle());
        if (fromDir == null || toDir == null) {
            unresolved++;
            return;
        }
        String oldAbs = join(fromDir, from.name());
        String newAbs = join(toDir, to.name());
        if (dir) {
            checkRootSurvives(oldAbs, "moved");
            moveCached(oldAbs, newAbs);
            if (target != null) {
                remember(target.handle(), newAbs);
            }
        }
        String oldRel = relative(oldAbs);
        String newRel = relative(newAbs);
        if (oldRel != null && newRel != null) {
            out.add(new Change(Kind.RENAME, inode, newRel, oldRel, 0, 0));
        } else if (newRel != null) {
            out.add(Change.of(dir ? Kind.MKDIR : Kind.CREATE, inode, newRel));
        } else if (oldRel != null) {
            out.add(Change.of(dir ? Kind.RMDIR : Kind.UNLINK, inode, oldRel));
        }
    }

    private static void add(List<Change> out, Kind kind, long inode, String rel) {
        if (rel != null) {
            out.add(Change.of(kind, inode, rel));
        }
    }

    private void checkRootSurvives(String abs, String how) throws IOException {
        if (root.equals(abs) || root.startsWith(abs.equals("/") ? "/" : abs + "/")) {
            throw new IOException("the watched directory " + root + " was " + how + " (through " + abs + ")");
        }
    }

    private String dirPath(Handle h) {
        String known = dirs.get(h);
        if (known != null) {
            return known;
        }
        String now = resolver.apply(h);
        if (now != null) {
            remember(h, now);
        }
        return now;
    }

    private void remember(Handle h, String abs) {
        dirs.put(h, abs);
    }

    /** Forgets {@code abs} and every cached directory under it. */
    private void forget(String abs) {
        String prefix = abs + "/";
        dirs.values().removeIf(p -> p.equals(abs) || p.startsWith(prefix));
    }

    /** Renames {@code oldAbs} and every cached directory under it to live under {@code newAbs}. */
    private void moveCached(String oldAbs, String newAbs) {
        String prefix = oldAbs + "/";
        // Replace the directories now at newAbs (a rename replaces an empty directory there) first.
        forget(newAbs);
        List<Map.Entry<Handle, String>> moved = new ArrayList<>();
        for (Iterator<Map.Entry<Handle, String>> it = dirs.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Handle, String> e = it.next();
            String p = e.getValue();
            if (p.equals(oldAbs)) {
                moved.add(Map.entry(e.getKey(), newAbs));
            } else if (p.startsWith(prefix)) {
                moved.add(Map.entry(e.getKey(), newAbs + p.substring(oldAbs.length())));
            }
        }
        for (Map.Entry<Handle, String> e : moved) {
            dirs.put(e.getKey(), e.getValue());
        }
    }

    private static String join(String dir, String name) {
        return dir.equals("/") ? "/" + name : dir + "/" + name;
    }

    /** {@code abs} relative to the root as an absolute volume-style path, or null if outside. */
    String relative(String abs) {
        if (abs.equals(root)) {
            return "/";
        }
        if (root.equals("/")) {
            return abs;
        }
        if (abs.length() > root.length() && abs.startsWith(root) && abs.charAt(root.length()) == '/') {
            return abs.substring(root.length());
        }
        return null;
    }
}
