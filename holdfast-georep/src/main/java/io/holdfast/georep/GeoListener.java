package io.holdfast.georep;

import java.io.IOException;

/**
 * Told what a {@link GeoReplicator} does, e.g. to print progress lines or export metrics. Called on
 * the replicator's thread; implementations must return quickly and not throw. Every method does
 * nothing by default.
 */
public interface GeoListener {
    /** Tells nothing. */
    GeoListener NONE = new GeoListener() {};

    /**
     * A full synchronisation, or a comparison of the whole tree at the end of a page, starts.
     *
     * @param index the feed's applied index a full synchronisation will record when done; for a
     *     comparison at the end of a page, the position before the page
     * @param reason why: "no state at the target", "feed history trimmed ...", or, for a comparison
     *     at the end of a page, "a change the feed's names could not place" (a data change of an
     *     unknown inode, a name that is not a clean path, a hard link the names could not show)
     */
    default void fullSyncStarted(long index, String reason) {}

    /** A full synchronisation progressed: entries compared so far, files and bytes copied so far. */
    default void fullSyncProgress(long entries, long filesCopied, long bytesCopied) {}

    /** A full synchronisation ended; {@code index} is now recorded at the target. */
    default void fullSyncDone(long index, GeoStatus status) {}

    /** A page of the feed was applied and recorded at the target. */
    default void pageApplied(int records, GeoStatus status) {}

    /** One entry could not be replicated and was skipped (counted in {@link GeoStatus#errors()}). */
    default void entrySkipped(String path, IOException e) {}

    /** An attempt failed; the replicator retries after {@code retryMillis} (if it still runs). */
    default void retrying(IOException e, long retryMillis) {}
}
