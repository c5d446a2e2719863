package io.holdfast.client;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.transport.Refusal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.impl.RaftClientImpl;
import org.apache.ratis.client.impl.UnorderedAsync;
import org.apache.ratis.proto.RaftProtos.CommitInfoProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.StaleReadException;
import org.apache.ratis.protocol.exceptions.TimeoutIOException;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteOutput;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * A {@link VolumeService} over a volume's Raft replica group.
 *
 * <ul>
 *   <li>Mutations go to the leader through Ratis's ordered asynchronous API: requests from one
 *       client are applied in the order they were sent, and a request resent after a timeout
 *       or failover keeps its client id and call id, so the leader's retry cache applies it
 *       at most once.
 *   <li>Queries are linearizable (ReadIndex) and spread round-robin over the members (a
 *       short-lived client, one CLI command, keeps to one member, starting at a random one); a member
 *       that fails a read, or does not answer it within {@link #MEMBER_READ_MILLIS}, is skipped
 *       for {@link #SUSPECT_MILLIS} and the read goes to the leader, retried until the deadline
 *       while there is none (e.g. during an election). (A member that was just replaced, or
 *       is busy writing a snapshot, can hold a read without failing it.)
 *   <li>A read a member has not answered within the hedge delay ({@link HedgeDelay}: the 90th
 *       percentile of recent member reads, 2–20 ms; {@link #COLD_HEDGE_MILLIS} for the first read
 *       from a member, which also sets up its connection and TLS session) is also sent to the
 *       leader, and the first answer wins (a hedged request). Both answers are linearizable,
 *       so either is correct. Reads of more than {@link #HEDGE_MAX_BYTES} are not hedged. The
 *       reason for hedging: a follower learns that an entry is committed only
 *       from a later appendEntries carrying a previous-entry reference, and Ratis 3.3.0 sends
 *       the heartbeat it triggers for a follower's read index without one while that
 *       follower still has an append in flight; the follower's read then waits for the next
 *       scheduled heartbeat, half the minimum election timeout (500 ms). Measured: ~4 % of
 *       reads that follow a write from the same client.</li>
 *   <li>A query asked under the client's read lease ({@link #queryUnderLease}) goes to one member
 *       as a stale read at the highest commit index any reply has shown this service (no read
 *       index exchange); a member whose commit index is below it refuses, and the query then
 *       takes the linearizable path above.
 *   <li>Every request has a deadline (default 30 s). Past it the future fails with
 *       {@link Errno#ETIMEDOUT}; for a mutation the outcome is then unknown (it may still be
 *       applied, once).
 * </ul>
 *
 * <p>Thread-safe.
 */
final class RaftVolumeService implements VolumeService {
    static final long SUSPECT_MILLIS = 5_000;
    static final long RETRY_MILLIS = 100;
    /** How long a read sent to one member may take before it is asked of the leader instead. */
    static final long MEMBER_READ_MILLIS = 2_000;
    /**
     * The hedge delay of the first read from a member: it also opens the connection (a TLS
     * handshake, tens to hundreds of milliseconds in a process that just started), and hedging
     * it after the usual few milliseconds would open a second connection, to the leader, every
     * time. Still well below the 500 ms heartbeat wait a hedge cuts short.
     */
    static final long COLD_HEDGE_MILLIS = 250;

    /** Builds {@link #client}. */
    private final Supplier<RaftClient> newClient;
    /**
     * The client for mutations and reads from the leader, built on first use (guarded by this):
     * each Raft client sets up its own TLS context, and a command that only reads may never need
     * the leader.
     */
    private RaftClient client;
    /** The client for lease polls (guarded by this, built on first use): see {@link #leases()}. */
    private RaftClient leaseClient;
    /** The client for change feed reads (guarded by this, built on first use): see {@link #changes}. */
    private RaftClient feedClient;
    /**
     * A second client for reads pinned to a member: sending to a chosen follower would move the
     * write client's idea of the leader, and every following write would first bounce off that
     * follower.
     */
    private final RaftClient readClient;
    /** Builds {@link #diagnosticsClient}. */
    private final Supplier<RaftClient> newDiagnosticsClient;
    /**
     * The client for {@link #queryMember} (guarded by this, built on first use): like the read client,
     * but one attempt may take the whole deadline, since a member's digest of a large brick takes
     * longer than a read's 1 s.
     */
    private RaftClient diagnosticsClient;

    private final List<RaftPeerId> members;
    private final Duration deadline;
    private final AtomicInteger next;
    /** Whether reads go round-robin over the members, else to one (see the class comment). */
    private final boolean spreadReads;

    private final ConcurrentHashMap<RaftPeerId, Long> suspectUntilNanos = new ConcurrentHashMap<>();
    /** Members that answered a read: their connection is set up. */
    private final Set<RaftPeerId> answered = ConcurrentHashMap.newKeySet();

    private final String name;
    private final ExecutorService diagnostics;
    private volatile boolean closed;
    private final HedgeDelay hedge = new HedgeDelay();
    /**
     * The highest commit index any reply to this service named (each reply carries its member's
     * view of the group's commit indexes): every mutation this service saw answered, and every
     * lease invalidation it received, is at or below it. The floor of {@link #queryUnderLease}.
     */
    private final AtomicLong seenIndex = new AtomicLong();

    private final IntSupplier logFormat;

    /**
     * @param newClient builds the client for mutations and reads from the leader (retrying), on
     *     first use
     * @param readClient the client for reads pinned to a member (not retrying)
     * @param newDiagnosticsClient builds the client for per-member diagnostics (not retrying, one
     *     attempt as long as the deadline), on first use
     * @param spreadReads true to spread reads round-robin over the members; false to keep to one,
     *     chosen at random, for a short-lived client
     */
    RaftVolumeService(
            String name,
            Supplier<RaftClient> newClient,
            RaftClient readClient,
            Supplier<RaftClient> newDiagnosticsClient,
            List<RaftPeer> members,
            Duration deadline,
            boolean spreadReads,
            IntSupplier logFormat) {
        this.name = name;
        this.logFormat = logFormat;
        this.newClient = newClient;
        this.readClient = readClient;
        this.newDiagnosticsClient = newDiagnosticsClient;
        this.members = members.stream().map(RaftPeer::getId).toList();
        this.deadline = deadline;
        this.spreadReads = spreadReads;
        this.next = new AtomicInteger(
                spreadReads || members.isEmpty()
                        ? 0
                        : ThreadLocalRandom.current().nextInt(members.size()));
        this.diagnostics = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "holdfast-member-query-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** The group's members' common log format, from the client's cached cluster map. */
    @Override
    public int logFormat() {
        return logFormat.getAsInt();
    }

    @Override
    public CompletableFuture<Response> submit(Request.Mutation mutation) {
        Message m = Message.valueOf(ByteString.copyFrom(Codec.encode(mutation)));
        return finish(
                client().async().send(m), "mutation " + mutation.getClass().getSimpleName());
    }

    @Override
    public CompletableFuture<Response> query(Request.Query query) {
        Message m = Message.valueOf(ByteString.copyFrom(Codec.encode(query)));
        String what = "query " + query.getClass().getSimpleName();
        long deadlineNanos = System.nanoTime() + deadline.toNanos();
        return attemptQuery(m, what, deadlineNanos, 0, () -> false, hedged(query))
                .exceptionallyCompose(e -> CompletableFuture.failedFuture(translate(e, what)));
    }

    /**
     * A stale read on one member (round-robin) at {@link #seenIndex}, without a read index; see
     * {@link VolumeService#queryUnderLease} for why that is linearizable under the lease. Falls back
     * to {@link #query} if the member refuses (its commit index is below the floor) or fails (it is
     * then skipped for {@link #SUSPECT_MILLIS}). Sent on the diagnostics client, whose one attempt
     * may take the whole deadline: a 1 MiB read on a loaded machine can take longer than the read
     * client's 1 s, and a resent bulk read only adds load. Sent unordered: Ratis's ordered stale
     * read closes its window for good after a failure on a client that does not retry.
     */
    @Override
    public CompletableFuture<Response> queryUnderLease(Request.Query query) {
        RaftPeerId target = pickMember();
        if (target == null || !(diagnosticsClient() instanceof RaftClientImpl impl)) {
            return query(query);
        }
        Message m = Message.valueOf(ByteString.copyFrom(Codec.encode(query)));
        String what = "query " + query.getClass().getSimpleName();
        CompletableFuture<RaftClientReply> sent =
                UnorderedAsync.send(RaftClientRequest.staleReadRequestType(seenIndex.get()), m, target, impl);
        return finish(sent, what).exceptionallyCompose(e -> {
            if (!isStale(e)) {
                suspectUntilNanos.put(target, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SUSPECT_MILLIS));
            }
            return closed ? CompletableFuture.failedFuture(e) : query(query);
        });
    }

    /** Whether {@code e} is a member's refusal of a stale read below its commit index (not a fault). */
    private static boolean isStale(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StaleReadException) {
                return true;
            }
        }
        return false;
    }

    /** Raises {@link #seenIndex} to the highest commit index {@code reply} names. */
    private void noteCommitted(RaftClientReply reply) {
        long max = reply.getLogIndex();
        for (CommitInfoProto c : reply.getCommitInfos()) {
            max = Math.max(max, c.getCommitIndex());
        }
        long m = max;
        seenIndex.accumulateAndGet(m, Math::max);
    }

    /**
     * One try of a read: the first goes to a member chosen round-robin (through the read client,
     * which does not retry, so a member that is down fails fast and is skipped for a while), and
     * is hedged to the leader after the {@link HedgeDelay}; later tries go to the leader. Failures
     * that can pass (no leader yet, a member down) are retried every {@link #RETRY_MILLIS} until
     * the deadline, while the answer is still wanted and the service is open. Reads to the leader
     * use Ratis's unordered API: a read needs no place in the client's write order, and the
     * ordered API logs an error for every request still under way when the client closes (a
     * hedged read often is).
     *
     * @param unwanted true once nobody waits for this read any more (the member answered first)
     * @param hedged whether to also ask the leader after the hedge delay (see {@link #hedged})
     */
    private CompletableFuture<Response> attemptQuery(
            Message m, String what, long deadlineNanos, int attempt, BooleanSupplier unwanted, boolean hedged) {
        RaftPeerId target = attempt == 0 ? pickMember() : null;
        if (target == null) {
            return retryOnFailure(
                    finish(client().async().sendReadOnlyUnordered(m), what),
                    m,
                    what,
                    deadlineNanos,
                    attempt,
                    unwanted,
                    hedged);
        }
        // a read index costs milliseconds; a member that holds a read longer is skipped
        long sentNanos = System.nanoTime();
        CompletableFuture<Response> member = finish(
                readClient
                        .async()
                        .sendReadOnlyUnordered(m, target)
                        .orTimeout(Math.min(MEMBER_READ_MILLIS, deadline.toMillis()), TimeUnit.MILLISECONDS),
                what);
        CompletableFuture<Response> answer = new CompletableFuture<>();
        AtomicBoolean askedLeader = new AtomicBoolean();
        Runnable askLeader = () -> {
            if (!answer.isDone() && askedLeader.compareAndSet(false, true)) {
                attemptQuery(m, what, deadlineNanos, attempt + 1, answer::isDone, hedged)
                        .whenComplete((r, e) -> {
                            if (e == null) {
                                answer.complete(r);
                            } else {
                                answer.completeExceptionally(e);
                            }
                        });
            }
        };
        member.whenComplete((r, e) -> {
            if (e == null) {
                if (!answered.add(target)) { // the first read also set up the connection
                    hedge.record(System.nanoTime() - sentNanos);
                }
                answer.complete(r);
            } else {
                suspectUntilNanos.put(target, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SUSPECT_MILLIS));
                if (System.nanoTime() - deadlineNanos >= 0) {
                    answer.completeExceptionally(e);
                }
                askLeader.run();
            }
        });
        // run on the delay's own timer thread, not the common pool (which other work may block)
        if (hedged) {
            long hedgeNanos =
                    answered.contains(target) ? hedge.nanos() : TimeUnit.MILLISECONDS.toNanos(COLD_HEDGE_MILLIS);
            CompletableFuture.delayedExecutor(hedgeNanos, TimeUnit.NANOSECONDS, Runnable::run)
                    .execute(askLeader);
        }
        return answer;
    }

    /**
     * Reads of more than this many bytes are not hedged: their time is mostly transfer, which a
     * second copy from the leader only slows down (a 1 MiB read on a loaded machine takes longer
     * than the longest hedge delay, so every one was sent twice).
     */
    static final int HEDGE_MAX_BYTES = 64 * 1024;

    private static boolean hedged(Request.Query q) {
        return !(q instanceof Request.Read r && r.length() > HEDGE_MAX_BYTES);
    }

    /**
     * Retries a failed read to the leader after {@link #RETRY_MILLIS}, until the deadline, while
     * it is wanted and the service is open.
     */
    private CompletableFuture<Response> retryOnFailure(
            CompletableFuture<Response> answered,
            Message m,
            String what,
            long deadlineNanos,
            int attempt,
            BooleanSupplier unwanted,
            boolean hedged) {
        return answered.exceptionallyCompose(e -> {
            if (System.nanoTime() - deadlineNanos >= 0 || unwanted.getAsBoolean() || closed) {
                return CompletableFuture.failedFuture(e);
            }
            // run on the delay's own timer thread, not the common pool (which other work may block)
            return CompletableFuture.supplyAsync(
                            () -> null,
                            CompletableFuture.delayedExecutor(RETRY_MILLIS, TimeUnit.MILLISECONDS, Runnable::run))
                    .thenCompose(ignored -> attemptQuery(m, what, deadlineNanos, attempt + 1, unwanted, hedged));
        });
    }

    /**
     * Reads one member's own state without a read index, through the read client (for
     * {@link MemberProbe}: digests, scrub control, diagnostics). Runs on this service's two
     * diagnostics threads; completes with the answer, or fails as {@link VolumeService#query} does.
     *
     * <p>One attempt of the read client lasts 1 s, and some answers take longer (a state digest of
     * a large brick on a loaded machine). When the attempt times out, a {@link Request.StatFs}
     * (cheap) tells a busy member from an unresponsive one: if it answers, the query is sent again
     * on the diagnostics client, whose one attempt may take the whole deadline; if not, the
     * member is reported as not answering, as before. A member that is down or not up yet thus
     * still fails within about two attempts and never holds a caller for the whole deadline.
     */
    CompletableFuture<Response> queryMember(RaftPeerId member, Request.Query query) {
        Message m = Message.valueOf(ByteString.copyFrom(Codec.encode(query)));
        // The blocking API: the ordered async one closes its per-server window for good after a
        // failure when the client does not retry.
        CompletableFuture<RaftClientReply> sent = CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return readClient.io().sendStaleRead(m, 0, member);
                    } catch (IOException e) {
                        if (timedOut(e)) {
                            return patiently(m, member, e);
                        }
                        throw new CompletionException(e);
                    }
                },
                diagnostics);
        return finish(sent, "query " + query.getClass().getSimpleName() + " on " + member);
    }

    /** Whether a Raft client call failed because its attempt timed out (possibly wrapped by the retry layer). */
    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof TimeoutIOException) {
                return true;
            }
        }
        return false;
    }

    /** Sends {@code m} again on the diagnostics client if {@code member} answers a cheap query at all. */
    private RaftClientReply patiently(Message m, RaftPeerId member, IOException slow) {
        try {
            readClient
                    .io()
                    .sendStaleRead(Message.valueOf(ByteString.copyFrom(Codec.encode(new Request.StatFs()))), 0, member);
        } catch (IOException unresponsive) {
            throw new CompletionException(slow);
        }
        try {
            return diagnosticsClient().io().sendStaleRead(m, 0, member);
        } catch (IOException e) {
            throw new CompletionException(e);
        }
    }

    private RaftPeerId pickMember() {
        long now = System.nanoTime();
        for (int i = 0; i < members.size(); i++) {
            int index = spreadReads ? next.getAndIncrement() : next.get() + i;
            RaftPeerId p = members.get(Math.floorMod(index, members.size()));
            Long until = suspectUntilNanos.get(p);
            if (until == null || until - now < 0) {
                return p;
            }
        }
        return null;
    }

    private CompletableFuture<Response> finish(CompletableFuture<RaftClientReply> sent, String what) {
        return sent.orTimeout(deadline.toMillis(), TimeUnit.MILLISECONDS)
                .handle((reply, error) -> {
                    if (error != null) {
                        throw new CompletionException(translate(error, what));
                    }
                    noteCommitted(reply);
                    if (!reply.isSuccess()) {
                        Response refusal = Refusal.decode(reply.getException());
                        if (refusal != null) {
                            return refusal;
                        }
                        throw new CompletionException(translate(reply.getException(), what));
                    }
                    try {
                        // a view of the reply's bytes: a read's data is copied once, by the decoder
                        return Codec.decodeResponse(view(reply.getMessage().getContent()));
                    } catch (ProtocolException e) {
                        throw new CompletionException(e);
                    }
                })
                .exceptionallyCompose(e -> {
                    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                    Response refusal = Refusal.decode(cause);
                    return refusal != null
                            ? CompletableFuture.completedFuture(refusal)
                            : CompletableFuture.failedFuture(cause);
                });
    }

    /**
     * The bytes of {@code content} without copying them: a buffer over its own array when it is
     * one piece (a parsed reply's content is: protobuf copied it out of the gRPC frame into an
     * array of its own, never changed and never reused), else a read-only view. A heap buffer over
     * the array lets the decoder's CRC32C run on the array (on a read-only view the JDK copies it
     * through a 4 KiB buffer first). The buffer is only read.
     */
    static ByteBuffer view(ByteString content) {
        ByteBuffer[] piece = new ByteBuffer[1];
        boolean[] pieces = new boolean[1];
        try {
            UnsafeByteOperations.unsafeWriteTo(content, new ByteOutput() {
                @Override
                public void write(byte value) {
                    pieces[0] = true;
                }

                @Override
                public void write(byte[] value, int offset, int length) {
                    pieces[0] = true;
                }

                @Override
                public void writeLazy(byte[] value, int offset, int length) {
                    if (piece[0] != null) {
                        pieces[0] = true;
                    }
                    piece[0] = ByteBuffer.wrap(value, offset, length);
                }

                @Override
                public void write(ByteBuffer value) {
                    pieces[0] = true;
                }

                @Override
                public void writeLazy(ByteBuffer value) {
                    pieces[0] = true;
                }
            });
        } catch (IOException e) {
            pieces[0] = true; // the output above throws nothing; in case
        }
        return piece[0] != null && !pieces[0] ? piece[0] : content.asReadOnlyByteBuffer();
    }

    private HoldfastException translate(Throwable error, String what) {
        Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (e instanceof HoldfastException h) {
            return h;
        }
        if (e instanceof TimeoutException) {
            return new HoldfastException(
                    Errno.ETIMEDOUT,
                    what + " on volume " + name + " got no answer within " + deadline.toMillis()
                            + " ms; outcome unknown",
                    e);
        }
        if (e instanceof IOException) {
            return new HoldfastException(Errno.EIO, what + " on volume " + name + " failed: " + e.getMessage(), e);
        }
        return new HoldfastException(Errno.EIO, what + " on volume " + name + " failed: " + e, e);
    }

    /**
     * Offered to long-lived clients only (those that spread their reads: a mount, an application's
     * file system); a one-shot command gains nothing from a cache. Polls go on a Raft client of
     * their own: Ratis's non-linearizable reads use the ordered API, whose replies come in request
     * order, so a poll held by the leader would hold back every later request of a shared client.
     */
    @Override
    public LeaseChannel leases() {
        if (!spreadReads) {
            return null;
        }
        return new LeaseChannel() {
            @Override
            public UUID session() {
                return client().getId().getUuid();
            }

            @Override
            public CompletableFuture<Response> renew() {
                Message m = Message.valueOf(ByteString.copyFrom(Codec.encode(new Request.LeaseRenew(session()))));
                // to the leader as the poll client knows it: a follower would serve a linearizable
                // read itself, and only the leader keeps leases
                RaftPeerId leader = leaseClient().getLeaderId();
                return finish(
                        leader == null
                                ? client().async().sendReadOnlyUnordered(m)
                                : client().async().sendReadOnlyUnordered(m, leader),
                        "lease renewal");
            }

            @Override
            public CompletableFuture<Response> poll(long epoch, long ackedSeq, int waitMillis) {
                Message m = Message.valueOf(ByteString.copyFrom(
                        Codec.encode(new Request.LeasePoll(session(), epoch, ackedSeq, waitMillis))));
                return finish(leaseClient().async().sendReadOnlyNonLinearizable(m), "lease poll");
            }
        };
    }

    /**
     * The longest a change feed read is held, milliseconds: below the Raft client's per-attempt
     * timeout, so a held read is never resent as if its member had failed.
     */
    static final int FEED_WAIT_MILLIS = 500;

    /**
     * Sent to the leader as a non-linearizable read on a client of its own (a held read would hold
     * back the replies of later requests on a shared client); waits at most {@link #FEED_WAIT_MILLIS}.
     */
    @Override
    public CompletableFuture<Response> changes(long afterIndex, int maxRecords, int waitMillis) {
        return feed(new Request.Changes(afterIndex, maxRecords, Math.min(waitMillis, FEED_WAIT_MILLIS)));
    }

    /**
     * A change feed read ({@link Request.Changes}, possibly {@link Request.Compressed}) sent as
     * {@link #changes} sends it.
     */
    CompletableFuture<Response> feed(Request.Query q) {
        Message m = Message.valueOf(ByteString.copyFrom(Codec.encode(q)));
        return finish(feedClient().async().sendReadOnlyNonLinearizable(m), "change feed read");
    }

    private synchronized RaftClient diagnosticsClient() {
        if (diagnosticsClient == null) {
            diagnosticsClient = newDiagnosticsClient.get();
            if (closed) {
                RaftClients.closeQuietly(diagnosticsClient);
            }
        }
        return diagnosticsClient;
    }

    private synchronized RaftClient feedClient() {
        if (feedClient == null) {
            feedClient = built();
        }
        return feedClient;
    }

    private synchronized RaftClient leaseClient() {
        if (leaseClient == null) {
            leaseClient = built();
        }
        return leaseClient;
    }

    private synchronized RaftClient client() {
        if (client == null) {
            client = built();
        }
        return client;
    }

    /** A new client from {@link #newClient}; after close() too: its requests then fail as on a closed client. */
    private RaftClient built() {
        RaftClient c = newClient.get();
        if (closed) {
            RaftClients.closeQuietly(c);
        }
        return c;
    }

    @Override
    public void close() {
        closed = true;
        diagnostics.shutdownNow();
        RaftClients.closeQuietly(readClient);
        synchronized (this) {
            if (client != null) {
                RaftClients.closeQuietly(client);
            }
            if (leaseClient != null) {
                RaftClients.closeQuietly(leaseClient);
            }
            if (feedClient != null) {
                RaftClients.closeQuietly(feedClient);
            }
            if (diagnosticsClient != null) {
                RaftClients.closeQuietly(diagnosticsClient);
            }
        }
    }
}
