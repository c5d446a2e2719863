package io.holdfast.overlay;

/**
 * Where an {@link OverlayMerge} is, as handed to its {@link OverlayMerge.ProgressListener} after
 * every operation. Immutable.
 *
 * @param phase {@code "lower"} (copying the lower layer into a new base, {@code --into} only),
 *     {@code "merge"} (applying the upper layer) or {@code "empty"} (emptying the upper layer)
 * @param pass the pass over the upper layer, from 1 (0 in the {@code lower} phase)
 * @param filesDone files (and links, special files) written in this phase and pass
 * @param filesToDo files this phase and pass expected to write when it started (a scan; may be
 *     exceeded when the upper layer changes meanwhile)
 * @param bytesDone bytes of file content written in this phase and pass
 * @param bytesToDo bytes this phase and pass expected to write when it started
 * @param operations operations done in the whole merge so far (each paced by the operation rate)
 * @param elapsedNanos nanoseconds since this phase and pass started
 */
public record MergeProgress(
        String phase,
        int pass,
        long filesDone,
        long filesToDo,
        long bytesDone,
        long bytesToDo,
        long operations,
        long elapsedNanos) {

    /**
     * The estimated time left in this phase and pass, in whole seconds, from the byte rate so far
     * (or the file rate, while no bytes were written); -1 if unknown.
     */
    public long etaSeconds() {
        double seconds = elapsedNanos / 1e9;
        if (seconds <= 0) {
            return -1;
        }
        if (bytesDone > 0 && bytesToDo > 0) {
            return (long) Math.ceil(Math.max(0, bytesToDo - bytesDone) / (bytesDone / seconds));
        }
        if (filesDone > 0 && filesToDo > 0) {
            return (long) Math.ceil(Math.max(0, filesToDo - filesDone) / (filesDone / seconds));
        }
        return -1;
    }
}
