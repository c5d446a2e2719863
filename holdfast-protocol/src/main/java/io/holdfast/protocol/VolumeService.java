package io.holdfast.protocol;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.util.concurrent.CompletableFuture;

/**
 * Where a volume's requests go: a replica group reached over the network, or, in tests and
 * tools, one brick in this process.
 *
 * <p>{@link #submit} completes once the mutation is applied (for a replica group: committed
 * by a majority and applied by the member that answers); mutations submitted from one thread
 * are applied in submission order. {@link #query} reads applied state. Both complete with a
 * {@link Response}, which is a {@link Response.Error} for operating errors decided by the
 * volume (e.g. {@link Errno#ENOENT}); they complete exceptionally with a
 * {@link HoldfastException} when the outcome is unknown or the volume is unreachable (e.g.
 * {@link Errno#ETIMEDOUT}).
 *
 * <p>Implementations are thread-safe.
 */
public interface VolumeService extends AutoCloseable {
    /** Proposes a mutation; see the class comment for ordering and completion. */
    CompletableFuture<Response> submit(Request.Mutation mutation);

    /** Runs a query against applied state; linearizable unless the implementation says otherwise. */
    CompletableFuture<Response> query(Request.Query query);

    /** Releases connections; pending requests complete exceptionally. */
    @Override
    void close();
}
