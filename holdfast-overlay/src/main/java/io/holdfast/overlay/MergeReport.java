package io.holdfast.overlay;

import java.util.List;

/**
 * What an {@link OverlayMerge} changed and what went wrong. Immutable.
 *
 * @param target the base the upper layer was merged into (the lower layer, or the new base)
 * @param complete whether a pass over the upper layer found nothing left to do (the base then
 *     holds the union as it was at that pass); false when entries kept changing for every pass
 *     allowed (listed in {@link #stillChanging}): run the merge again
 * @param passes passes made over the upper layer in this run
 * @param filesCopied upper files, symbolic links and special files written into the base
 * @param bytesCopied bytes of upper file content written into the base
 * @param linksMade names written as hard links to a file already merged (kept together as in the
 *     upper layer)
 * @param directoriesMade directories created in the base (upper or lower ones)
 * @param attributeUpdates directories whose mode, owner, times and extended attributes were set
 * @param deletes base entries removed for whiteouts, for entries that left the upper layer after
 *     being merged, and for names an upper entry of another type replaced (each counted once,
 *     whole subtrees included)
 * @param opaqueReplacements opaque upper directories whose old base content was removed
 * @param lowerFilesCopied lower entries copied into a new base ({@code --into})
 * @param lowerBytesCopied bytes of lower content copied into a new base
 * @param retries copies made again because the upper file changed while it was copied
 * @param skipped upper files found unchanged since they were merged (not copied again), counted in
 *     every pass
 * @param upperEntriesRemoved upper entries removed when emptying the upper layer
 * @param upperEntriesKept upper entries left when emptying because they changed after being merged
 * @param stillChanging upper paths still changing at the last pass (at most
 *     {@link OverlayMerge#MAX_LISTED} kept)
 * @param errors entries that could not be merged, with path and reason (at most
 *     {@link OverlayMerge#MAX_LISTED} kept; the merge went on)
 * @param errorCount all errors, including those not kept in {@link #errors}
 * @param elapsedNanos the run's duration in nanoseconds
 */
public record MergeReport(
        String target,
        boolean complete,
        int passes,
        long filesCopied,
        long bytesCopied,
        long linksMade,
        long directoriesMade,
        long attributeUpdates,
        long deletes,
        long opaqueReplacements,
        long lowerFilesCopied,
        long lowerBytesCopied,
        long retries,
        long skipped,
        long upperEntriesRemoved,
        long upperEntriesKept,
        List<String> stillChanging,
        List<Problem> errors,
        long errorCount,
        long elapsedNanos) {

    /**
     * An entry that could not be merged.
     *
     * @param path the path relative to the layers' roots, as {@code /a/b}
     * @param layer {@code "lower"} (a damaged lower layer read while building a new base),
     *     {@code "upper"} or {@code "base"}
     * @param operation what failed ({@code read}, {@code readdir}, {@code stat}, {@code delete}, ...)
     * @param message the error
     */
    public record Problem(String path, String layer, String operation, String message) {}

    /** Whether the merge is complete without any error. */
    public boolean clean() {
        return complete && errorCount == 0;
    }
}
