package io.holdfast.georep;

/**
 * A snapshot of a {@link GeoReplicator}'s state and counters. Immutable.
 *
 * @param session the session name (recorded in the target's state file)
 * @param phase what the replicator is doing
 * @param position the last feed index applied at the target and recorded there (0 before the first
 *     full synchronisation ended)
 * @param commitNanos commit time of the last record applied, nanoseconds since the epoch; after a
 *     full synchronisation the time it started (the recorded entry's own commit time is at or
 *     before it); 0 if unknown
 * @param feedIndex the feed's applied index as last seen (at least {@code position} once known)
 * @param lagSeconds now minus {@code commitNanos}, in seconds, while the feed holds entries not yet
 *     applied ({@code feedIndex > position}); 0 when caught up
 * @param lagEntries {@code feedIndex - position}, at least 0
 * @param filesCopied regular files whose content was copied to the target
 * @param bytesCopied bytes of content copied to the target
 * @param deletes entries deleted at the target (a directory with its contents counts once)
 * @param renames renames done at the target
 * @param links hard links made at the target
 * @param resyncs full synchronisations run (the first one included)
 * @param treeCompares pages that ended with a comparison of the whole tree (a data change of a file
 *     whose name the feed did not give and the replicator did not know, a name that is not a clean
 *     path, or a hard link the feed's names could not show)
 * @param errors failed attempts (retried) and entries skipped
 */
public record GeoStatus(
        String session,
        Phase phase,
        long position,
        long commitNanos,
        long feedIndex,
        double lagSeconds,
        long lagEntries,
        long filesCopied,
        long bytesCopied,
        long deletes,
        long renames,
        long links,
        long resyncs,
        long treeCompares,
        long errors) {

    /** What the replicator is doing. */
    public enum Phase {
        /** Not running. */
        IDLE,
        /** Comparing the whole tree. */
        FULL_SYNC,
        /** Applying the feed. */
        TAILING,
        /** Waiting before retrying after a failure. */
        BACKOFF,
        /** Stopped by {@link GeoReplicator#stop()}. */
        STOPPED
    }
}
