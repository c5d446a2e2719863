package io.holdfast.server.admin;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Members' lag in seconds, derived by sampling.
 *
 * <p>Each group keeps a history of (time, commit index) samples, one whenever the commit index
 * seen at a sample has grown (at most {@value #HISTORY} per group, the oldest dropped first).
 * A follower whose match index is {@code m} lacks the entries after {@code m}; the oldest of
 * them was committed after the last sample with commit index {@code <= m} and no later than
 * the first sample with commit index {@code > m}. Its lag is the time since that first sample:
 * a lower bound, exact to the sampling period (the node samples every second, and whenever
 * its status or metrics are read). A follower that holds every committed entry has lag 0,
 * even if it is down (then the page shows it down, and its last contact grows). This is not
 * Ratis's last-RPC time, which says when the follower last answered, not how stale its data
 * is; that is shown separately as "last contact".
 *
 * <p>Not thread-safe: the caller serializes access.
 */
final class LagTracker {
    /** Samples kept per group. */
    static final int HISTORY = 1024;

    private final Map<UUID, History> groups = new HashMap<>();

    /** Records that the group's commit index was {@code commitIndex} at {@code nanos} (a monotonic clock). */
    void record(UUID group, long nanos, long commitIndex) {
        groups.computeIfAbsent(group, g -> new History()).add(nanos, commitIndex);
    }

    /**
     * The lag in seconds of a member that holds entries up to {@code matchIndex}, at
     * {@code nowNanos}, when the commit index is {@code commitIndex}; 0 if it holds them all.
     * If even the oldest kept sample is newer than {@code matchIndex}, the answer is the age of
     * that sample (the member lags at least that much).
     */
    double lagSeconds(UUID group, long matchIndex, long commitIndex, long nowNanos) {
        if (matchIndex >= commitIndex) {
            return 0;
        }
        History h = groups.get(group);
        if (h == null || h.size == 0) {
            return 0;
        }
        long firstNewer = h.firstTimeAbove(matchIndex);
        if (firstNewer == Long.MIN_VALUE) {
            return 0; // every sample is at or below matchIndex: the lag is below the sampling period
        }
        return Math.max(0, nowNanos - firstNewer) / 1e9;
    }

    /** Forgets groups not in {@code served}. */
    void retain(Set<UUID> served) {
        groups.keySet().retainAll(served);
    }

    /** A ring of samples, ascending in time and in commit index. */
    private static final class History {
        final long[] times = new long[HISTORY];
        final long[] commits = new long[HISTORY];
        int start;
        int size;

        void add(long nanos, long commit) {
            if (size > 0 && commits[index(size - 1)] >= commit) {
                return;
            }
            if (size == HISTORY) {
                start = (start + 1) % HISTORY;
                size--;
            }
            int i = index(size);
            times[i] = nanos;
            commits[i] = commit;
            size++;
        }

        /** The time of the oldest sample whose commit index is above {@code index}, or MIN_VALUE. */
        long firstTimeAbove(long index) {
            int lo = 0;
            int hi = size; // binary search for the first position with commit > index
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (commits[index(mid)] > index) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            return lo == size ? Long.MIN_VALUE : times[index(lo)];
        }

        private int index(int i) {
            return (start + i) % HISTORY;
        }
    }
}
