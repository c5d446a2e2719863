package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A bounded set of {@link ReadView}s of one brick, one per applied index, for one purpose (the
 * scrub marks today; a consumer that needs views for another purpose, such as shipping changes
 * or taking a snapshot without stopping applies, keeps a registry of its own, with its own bound).
 *
 * <p>Bound: when a pin makes more than {@code max} views held, the oldest views that no reader
 * has open are released until {@code max} are held; views being read are never released this
 * way, so while more than {@code max} are open at once, more are held.
 *
 * <p>Thread-safe: {@link #pin} runs under the apply lock's write lock; the others from any
 * thread. The views are guarded by this registry's own lock; a snapshot is released only while
 * the database cannot close ({@link BrickState#dbLifetime}, or the apply lock).
 */
final class ReadViews {
    private final BrickState state;
    private final String what;
    private final int max;
    /** The views held, by index; guarded by itself. */
    private final TreeMap<Long, ReadView> views = new TreeMap<>();

    /**
     * A registry of at most {@code max} views (see the bound above).
     *
     * @param what what a view stands for, for messages (e.g. "scrub mark")
     */
    ReadViews(BrickState state, String what, int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max must be positive: " + max);
        }
        this.state = state;
        this.what = what;
        this.max = max;
    }

    String what() {
        return what;
    }

    /**
     * Pins the state as it is now as the view at {@code index}, then keeps the bound. Called by
     * apply with the write lock held and the database open, right after entry {@code index}'s
     * batch is written (so the state is exactly the one after it).
     */
    void pin(long index) {
        synchronized (views) {
            views.put(index, new ReadView(this, state, index, state.db.getSnapshot()));
            while (views.size() > max) {
                Map.Entry<Long, ReadView> oldest = null;
                for (Map.Entry<Long, ReadView> e : views.entrySet()) {
                    if (!e.getValue().inUse) {
                        oldest = e;
                        break;
                    }
                }
                if (oldest == null) {
                    break;
                }
                // the removed view, not oldest.getValue(): removing an inner node of a TreeMap moves its
                // successor's key and value into that node's entry
                ReadView evicted = views.remove(oldest.getKey());
                state.db.releaseSnapshot(evicted.snapshot);
            }
        }
    }

    /** The indexes of the views held, oldest first. */
    List<Long> indexes() {
        synchronized (views) {
            return List.copyOf(views.keySet());
        }
    }

    /**
     * Claims the view at {@code index} for one reader; closing it releases it.
     *
     * @throws HoldfastException {@link Errno#ENOENT} if no view is held at that index, or another
     *     reader has it open
     */
    ReadView open(long index) throws HoldfastException {
        synchronized (views) {
            ReadView v = views.get(index);
            if (v == null || v.inUse) {
                throw new HoldfastException(
                        Errno.ENOENT, "no state held for " + what + " " + index + " (held: " + views.keySet() + ")");
            }
            v.inUse = true;
            return v;
        }
    }

    /** Whether {@code v} is still held. */
    boolean holds(ReadView v) {
        synchronized (views) {
            return views.get(v.index()) == v;
        }
    }

    /** Releases the view at {@code index}, open or not, if one is held. */
    void release(long index) {
        state.dbLifetime.readLock().lock();
        try {
            synchronized (views) {
                ReadView v = views.remove(index);
                if (v != null && state.db != null) {
                    state.db.releaseSnapshot(v.snapshot);
                }
            }
        } finally {
            state.dbLifetime.readLock().unlock();
        }
    }

    /** Releases {@code v} if it is still held (and not, say, a later view pinned at the same index). */
    void release(ReadView v) {
        state.dbLifetime.readLock().lock();
        try {
            synchronized (views) {
                if (views.get(v.index()) == v) {
                    views.remove(v.index());
                    if (state.db != null) {
                        state.db.releaseSnapshot(v.snapshot);
                    }
                }
            }
        } finally {
            state.dbLifetime.readLock().unlock();
        }
    }

    /** Releases every view; run before the database closes, under {@link BrickState#dbLifetime}'s write lock. */
    void releaseAll() {
        synchronized (views) {
            for (ReadView v : views.values()) {
                if (state.db != null) {
                    state.db.releaseSnapshot(v.snapshot);
                }
            }
            views.clear();
        }
    }
}
