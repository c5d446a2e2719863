package io.holdfast.client.nio;

import java.nio.file.FileSystem;

/**
 * A snapshot of a Holdfast file system's metadata cache and read lease, for status pages,
 * metrics and tests. All zero (and no lease) for a file system without a cache.
 *
 * @param hits queries answered from the cache
 * @param misses queries the cache could not answer (not cached, or no lease at the time)
 * @param entries answers kept now
 * @param drops times the whole cache was dropped for the leader (another client's change, a new
 *     leader, a lost session)
 * @param leaseValid whether the read lease holds now
 */
public record CacheStats(long hits, long misses, long entries, long drops, boolean leaseValid) {
    /**
     * The statistics of {@code fs}.
     *
     * @throws IllegalArgumentException if {@code fs} is not a Holdfast file system
     */
    public static CacheStats of(FileSystem fs) {
        if (!(fs instanceof HoldfastFileSystem h)) {
            throw new IllegalArgumentException("not a Holdfast file system: " + fs);
        }
        return h.cacheStats();
    }
}
