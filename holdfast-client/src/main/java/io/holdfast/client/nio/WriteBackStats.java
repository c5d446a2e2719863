package io.holdfast.client.nio;

import java.nio.file.FileSystem;

/**
 * A snapshot of a Holdfast file system's write-back (see {@link HoldfastFileSystemProvider#ENV_WRITE_BACK}),
 * for status pages, metrics and tests. Counts are since the file system was opened.
 *
 * @param writtenBack changes answered at once and sent without waiting
 * @param requests requests that carried them (a batch, or one change alone): fewer than
 *     {@code writtenBack} when changes travelled together
 * @param failed written-back changes the volume refused, or whose outcome is unknown
 * @param pending written-back changes not answered yet (queued or in flight)
 */
public record WriteBackStats(long writtenBack, long requests, long failed, long pending) {
    /**
     * The statistics of {@code fs}.
     *
     * @throws IllegalArgumentException if {@code fs} is not a Holdfast file system
     */
    public static WriteBackStats of(FileSystem fs) {
        if (!(fs instanceof HoldfastFileSystem h)) {
            throw new IllegalArgumentException("not a Holdfast file system: " + fs);
        }
        return h.writeBackStats();
    }
}
