package io.holdfast.client;

import java.io.IOException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.ratis.client.RaftClientRpc;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.apache.ratis.protocol.exceptions.LeaderSteppingDownException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.ResourceUnavailableException;
import org.apache.ratis.util.JavaUtils;

/**
 * A Raft client transport that drops a broken connection in the background, so that a request
 * is retried on the next member at once, retries a member that does not serve the group yet and
 * a leader that is handing over its leadership (see {@link #joiningIsRetriable}), and restarts the
 * ordered stream to a leader that the client moved to without starting it afresh (see
 * {@link #orderedTo}).
 *
 * <p>Why: when a request to a member fails in a way that calls for a new connection (the member
 * died, or it did not answer within the request timeout), Ratis's client closes the gRPC channel
 * to that member before it schedules the retry, and closing waits up to 3 s for the channel to
 * terminate (Ratis 3.3.0, {@code GrpcUtil.shutdownManagedChannel}). For a member that was killed
 * the wait is spent in full, once per failed attempt; measured through a FUSE mount, a leader
 * stopped under a write+fsync loop stalled writes for 3.3-11 s, of which 3 s per attempt were
 * this wait. Here the old channel closes in the background and the retry goes out meanwhile, on
 * the fresh connection Ratis has already put in its place.
 *
 * <p>Thread-safe, as the wrapped transport is. Every other call is passed through unchanged.
 */
final class QuickFailoverRpc implements RaftClientRpc {
    /** How long a failed request waits for its reconnect before it is retried anyway. */
    static final Duration RECONNECT_WAIT = Duration.ofMillis(200);

    private final RaftClientRpc delegate;
    private final Executor reconnects;

    /**
     * @param delegate the transport doing the work (Ratis's gRPC client)
     * @param reconnects runs the reconnects, each at once (a thread per task: one stuck closing a
     *     channel must not hold up the next)
     */
    QuickFailoverRpc(RaftClientRpc delegate, Executor reconnects) {
        this.delegate = delegate;
        this.reconnects = reconnects;
    }

    /**
     * The ordered (sliding window) requests of a Raft client to its leader go on one stream per
     * member, and the member processes them in sequence from the first one it saw on that stream
     * (Ratis 3.3.0, {@code SlidingWindow.Server}): a stream's first request must be flagged first,
     * and later ones must follow without a gap. Ratis's client flags its next request first after
     * a failure of an ordered request; but its leader also moves when one of its <em>unordered</em>
     * requests (a lease renewal, a read) is told "not leader", and then the next ordered request
     * goes to the new leader unflagged, where it waits, unprocessed, until its attempt times out
     * (1 s; measured: the first write after a failover held that long on the new leader that had
     * nothing else to wait for). So an unflagged ordered request to another member than the one
     * before is not sent: its member's connection is renewed (a fresh stream) and the request fails
     * with {@link OrderedStreamMovedException}, on which Ratis starts its window afresh and sends it
     * again, flagged first, to the same member after the retry policy's sleep. The request never
     * reached a member, so nothing is applied twice; a resent request keeps its call id anyway.
     */
    private final AtomicReference<RaftPeerId> orderedTo = new AtomicReference<>();

    @Override
    public CompletableFuture<RaftClientReply> sendRequestAsync(RaftClientRequest request) {
        if (request.isToLeader()) {
            RaftPeerId to = request.getServerId();
            RaftPeerId before = orderedTo.getAndSet(to);
            if (before != null
                    && !before.equals(to)
                    && !request.getSlidingWindowEntry().getIsFirst()) {
                return restartStream(to, before);
            }
        }
        return joiningIsRetriable(delegate.sendRequestAsync(request), request);
    }

    /** Renews the connection to {@code to} off the caller's thread, then fails the request (see {@link #orderedTo}). */
    private CompletableFuture<RaftClientReply> restartStream(RaftPeerId to, RaftPeerId before) {
        OrderedStreamMovedException moved = new OrderedStreamMovedException(to, before);
        CompletableFuture<RaftClientReply> f = new CompletableFuture<>();
        try {
            reconnects.execute(() -> {
                try {
                    handleException(to, moved, true);
                } finally {
                    f.completeExceptionally(moved);
                }
            });
        } catch (RejectedExecutionException e) {
            f.completeExceptionally(moved);
        }
        return f;
    }

    /**
     * An ordered request was not sent because the leader it goes to changed without its stream
     * being started afresh (see {@link #orderedTo}); Ratis's client resends it, flagged first, to
     * the same member. A {@link ResourceUnavailableException}, so that Ratis keeps its leader
     * and starts its sliding window afresh before the retry.
     */
    static final class OrderedStreamMovedException extends ResourceUnavailableException {
        private static final long serialVersionUID = 1L;

        OrderedStreamMovedException(RaftPeerId to, RaftPeerId before) {
            super("ordered requests moved from " + before + " to " + to + " without a fresh stream: resend as first");
        }
    }

    @Override
    public CompletableFuture<RaftClientReply> sendRequestAsyncUnordered(RaftClientRequest request) {
        return joiningIsRetriable(delegate.sendRequestAsyncUnordered(request), request);
    }

    /**
     * A member that answers "group not found" is one that is in the group's configuration but has
     * not started its replica yet (a replica being added or replaced). Ratis's client takes that
     * answer as final and fails every outstanding request of the client with it (21 failed
     * operations in MembershipIT once attempts timed out onto the new member); as a plain
     * {@link MemberNotServingException} it is retried on another member instead, within the
     * caller's deadline.
     *
     * <p>A leader that is handing its leadership to another member (a transfer: before a
     * replacement of that member, a quarantine, an upgrade) refuses every request until the
     * transfer ends, with {@link LeaderSteppingDownException}, which Ratis's client takes as final
     * (a failed mutation, EIO to the application). The refusal comes before the request is
     * appended, so nothing was applied: it fails here with {@link NotLeaderException} instead, as
     * Ratis's gRPC transport fails a request a follower refused, which Ratis's client handles as a
     * leader change: it resends the request and those after it, in order, to the next member until
     * it finds the new leader.
     */
    private static CompletableFuture<RaftClientReply> joiningIsRetriable(
            CompletableFuture<RaftClientReply> f, RaftClientRequest request) {
        return f.handle((reply, t) -> {
            Throwable cause =
                    t != null ? JavaUtils.unwrapCompletionException(t) : reply == null ? null : reply.getException();
            if (cause instanceof GroupMismatchException g) {
                throw new CompletionException(new MemberNotServingException(request.getServerId(), g));
            }
            if (t == null && cause instanceof LeaderSteppingDownException) {
                throw new CompletionException(notLeader(request));
            }
            if (t != null) {
                throw t instanceof CompletionException c ? c : new CompletionException(t);
            }
            return reply;
        });
    }

    /** "Not leader, leader unknown" from {@code request}'s member (see {@link #joiningIsRetriable}). */
    private static NotLeaderException notLeader(RaftClientRequest request) {
        return new NotLeaderException(
                RaftGroupMemberId.valueOf(request.getServerId(), request.getRaftGroupId()), null, List.of());
    }

    /** A member of the group's configuration that does not serve the group (yet). */
    static final class MemberNotServingException extends IOException {
        private static final long serialVersionUID = 1L;

        MemberNotServingException(RaftPeerId member, GroupMismatchException cause) {
            super(member + " does not serve the group yet (joining?): " + cause.getMessage(), cause);
        }
    }

    @Override
    public RaftClientReply sendRequest(RaftClientRequest request) throws IOException {
        return delegate.sendRequest(request);
    }

    @Override
    public void addRaftPeers(Collection<RaftPeer> peers) {
        delegate.addRaftPeers(peers);
    }

    @Override
    public boolean shouldReconnect(Throwable t) {
        return delegate.shouldReconnect(t);
    }

    /**
     * Runs a reconnect on a thread of its own and waits for it at most {@link #RECONNECT_WAIT}:
     * Ratis swaps in a fresh connection first (a few microseconds, under its lock) and only then
     * closes the old one, which is the part that can block for seconds. Anything else is decided by
     * the wrapped transport, as it would be.
     */
    @Override
    public boolean handleException(RaftPeerId serverId, Throwable t, boolean reconnect) {
        if (!reconnect && !delegate.shouldReconnect(t)) {
            return delegate.handleException(serverId, t, false);
        }
        CompletableFuture<Void> done = CompletableFuture.runAsync(
                () -> {
                    try {
                        delegate.handleException(serverId, t, reconnect);
                    } catch (RuntimeException e) { // e.g. the client closed meanwhile: nothing left to reconnect
                        System.getLogger(QuickFailoverRpc.class.getName())
                                .log(System.Logger.Level.DEBUG, "reconnect to " + serverId + " failed", e);
                    }
                },
                reconnects);
        try {
            done.get(RECONNECT_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            // the old channel is still closing; the new one is in place
        } catch (ExecutionException e) {
            throw new IllegalStateException("reconnect task failed", e.getCause()); // it catches everything
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return true;
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}
