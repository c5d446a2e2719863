package io.holdfast.client.nio;

/**
 * The read lease of a Holdfast file system's session, seen from a layer that caches answers of
 * the file system itself, as a FUSE mount lets the kernel do ({@link HoldfastFiles#readLease}).
 * While the lease holds, every other client's mutation completes only after this file system
 * has dropped its cache and run the {@linkplain #onDrop drop hooks}; so an answer cached above
 * is never older than another client's completed mutation if the hooks drop it too.
 *
 * <p>A drop happens when another client changed the volume, when the leader lost this
 * session or changed, and when a written-back change of this file system was refused. A layer
 * above also stops trusting what it cached once {@link #validUntilNanos} has passed: a lease may
 * end without a drop (this client cut off from the cluster, or an idle client letting its lease
 * go), and a new one begins with a drop.
 *
 * <p>Thread-safe.
 */
public interface ReadLease {
    /**
     * Until when the lease holds, on the {@link System#nanoTime()} scale: a time in the past while
     * no lease is held. Reading it does not count as a use of the lease (it does not keep an idle
     * client's lease alive).
     */
    long validUntilNanos();

    /**
     * Registers {@code hook} to run at every drop of this file system's cache for the leader,
     * after the cache is dropped and before the drop is acknowledged to the leader (another
     * client's mutation is completed only after that). It runs too, on a thread of its own, when
     * the volume refused a change this file system had written back (answered before it was
     * applied): what was shown of it is taken back from the file system's cache, and must be from
     * the layer's too. Runs on the lease keeper's threads with no lock of the file system held; it
     * must be quick and must not wait for this file system's operations. A hook that throws is
     * logged and the drop goes on.
     *
     * @param hook what to run
     * @return closes the registration: the hook runs no more after it returns, except one
     *     running then
     * @throws NullPointerException if {@code hook} is null
     */
    AutoCloseable onDrop(Runnable hook);
}
