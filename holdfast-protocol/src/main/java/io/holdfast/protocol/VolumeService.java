package io.holdfast.protocol;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * Where a volume's requests go: a replica group reached over the network, or, in tests and
 * tools, one brick in this process.
 *
 * <p>{@link #submit} completes once the mutation is applied (for a replica group: committed
 * by a majority and applied by the member that answers); mutations are applied in submission
 * order: one whose {@code submit} returned before another's was called is applied first, from
 * any thread (a client may send a mutation without waiting for the ones before it).
 * {@link #query} reads applied state. Both complete with a {@link Response}, which is a
 * {@link Response.Error} for operating errors decided by the volume (e.g.
 * {@link Errno#ENOENT}); they complete exceptionally with a {@link HoldfastException} when the
 * outcome is unknown or the volume is unreachable (e.g. {@link Errno#ETIMEDOUT}).
 *
 * <p>Implementations are thread-safe.
 */
public interface VolumeService extends AutoCloseable {
    /** Proposes a mutation; see the class comment for ordering and completion. */
    CompletableFuture<Response> submit(Request.Mutation mutation);

    /** Runs a query against applied state; linearizable unless the implementation says otherwise. */
    CompletableFuture<Response> query(Request.Query query);

    /**
     * Runs a query asked while the caller holds this service's read lease ({@link #leases()}) and
     * knows it holds: an implementation may answer it from any member without a read index, at
     * least as new as every reply this service has received so far (its own mutations' replies,
     * the lease invalidations it acknowledged). That stays linearizable because the leader holds a
     * conflicting mutation's reply until every lease holder acknowledged its invalidation (or its
     * lease ran out). Defaults to {@link #query}.
     *
     * @return completes as {@link #query} does
     */
    default CompletableFuture<Response> queryUnderLease(Request.Query query) {
        return query(query);
    }

    /**
     * The newest log format every member of the volume's replica group supports, as this service
     * last knew it (a client's cached cluster map): requests that need a newer one (a
     * {@link Request.Batch}, a write-back {@link Request.SetAttr}) are not sent. Defaults to
     * {@link LogFormat#MAX} (a brick in this process).
     */
    default int logFormat() {
        return LogFormat.MAX;
    }

    /**
     * Reads the volume's change feed: {@link Request.Changes}. A replica group answers from one
     * member's changelog without a read index (records up to a member's applied index never
     * change), on a connection of its own, and may hold the request up to {@code waitMillis} for
     * a new record. Defaults to {@link #query} without waiting (a brick in this process).
     *
     * @param afterIndex the last log index the reader has seen (0 for the beginning)
     * @param maxRecords 1 to {@link Request.Changes#MAX_RECORDS}
     * @param waitMillis 0 to {@link Request.Changes#MAX_WAIT_MILLIS}; implementations may wait less
     * @return completes with a {@link Response.ChangePage} or a {@link Response.Error}, or
     *     exceptionally as {@link #query} does
     * @throws IllegalArgumentException if an argument is outside its range
     */
    default CompletableFuture<Response> changes(long afterIndex, int maxRecords, int waitMillis) {
        new Request.Changes(afterIndex, maxRecords, waitMillis); // checks the arguments
        return query(new Request.Changes(afterIndex, maxRecords, 0));
    }

    /**
     * The channel for a client cache's read lease (see {@link Request.LeaseRenew}), or null if this
     * service offers none (the default: a brick in this process, a short-lived client).
     */
    default LeaseChannel leases() {
        return null;
    }

    /**
     * Lease requests of one client session, sent to the volume's leader. Both complete with a
     * {@link Response.Lease}, or a {@link Response.Error} ({@link Errno#EAGAIN} from a member that
     * is not the leader), or exceptionally as {@link VolumeService#query} does.
     */
    interface LeaseChannel {
        /** The session: the identity the leader knows this client's mutations by. */
        UUID session();

        /** {@link Request.LeaseRenew} through the linearizable read path. */
        CompletableFuture<Response> renew();

        /**
         * {@link Request.LeasePoll}, answered by the leader without a read index (so it is never
         * held behind a mutation reply that waits for it), on a connection of its own.
         */
        CompletableFuture<Response> poll(long epoch, long ackedSeq, int waitMillis);
    }

    /** Releases connections; pending requests complete exceptionally. */
    @Override
    void close();
}
