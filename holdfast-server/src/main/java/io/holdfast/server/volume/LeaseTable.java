package io.holdfast.server.volume;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The read leases of one volume's client sessions, kept by the member that leads the volume's
 * replica group: the permission a client has to answer queries from its own cache, and the
 * callbacks that take it back when another client changes the volume.
 *
 * <h2>Protocol</h2>
 *
 * <ul>
 *   <li><b>Grant and renewal</b>: a client session sends {@link Request.LeaseRenew} through the
 *       linearizable read path (so the leader confirms its leadership, by a read index or the Raft
 *       leader lease, after the request was sent). The lease lasts {@link #leaseMillis()} from the
 *       moment the client sent it, by the client's clock; this table keeps the session until
 *       {@link #leaseMillis()} + {@link #MARGIN_MILLIS} after it answered, which is later (the
 *       margin covers clock rate differences and scheduling).
 *   <li><b>Invalidation (revocation)</b>: when a mutation from one session (or from a client
 *       without one) changes the volume, every <em>other</em> live session gets a new invalidation
 *       sequence number, and the mutation's reply is held until each of them has acknowledged it
 *       (a {@link Request.LeasePoll} carrying that number: the client dropped its cache first) or
 *       its lease has run out here. A held {@link Request.LeasePoll} is answered at once with the
 *       new number (a long poll: the server-to-client callback).
 *   <li><b>Leader change</b>: leases are kept only here, not replicated. When this member starts a
 *       term as leader ({@link #leading}, called from Ratis's leader-change notification, or,
 *       failing that, when the table is first used in the term), it forgets its sessions (a poll it
 *       holds is answered "unknown session", {@code seq} -1), takes a new {@linkplain #epoch()
 *       epoch} (clients drop their caches when it changes) and numbers invalidations from 1
 *       again (a client counts its acknowledgements afresh in the new epoch), and holds
 *       every mutation reply until {@link #leaseMillis()} + {@link #MARGIN_MILLIS} have passed
 *       since then: by then every lease granted by an earlier leader has ended. Why: a client
 *       sends its renewal at time s and trusts the lease until s + {@link #leaseMillis()} by its
 *       own clock (the margin covers clock rates). The earlier leader granted it only after it
 *       confirmed its leadership at some c after s, and c came before this member's election:
 *       <ul>
 *         <li>by a read index: a majority acknowledged a heartbeat of the earlier term sent after
 *             s; a member acknowledges that term only until it votes in a later one, and the
 *             majority that elected this member shares a member with it;
 *         <li>by Ratis's leader lease: a majority acknowledged heartbeats sent less than the lease
 *             (0.9 of the minimum election timeout) before c. Elected through pre-vote, this
 *             member needed one of them to grant its pre-vote or to stand itself, which Ratis does
 *             only after the minimum election timeout without hearing from its leader, so after c.
 *             Elected by a leadership transfer (no pre-vote), it stood only when the earlier
 *             leader asked it to, and that leader disabled its lease before asking.
 *       </ul>
 *       The grace starts after the election (the notification comes with it, the first use later),
 *       so it covers s + lease. It is not shortened by the 0.1 of the election timeout between
 *       the lease and a pre-vote: a transfer gives no such gap. Terms only move forward here: a
 *       mutation of an older term (this member's own proposal, applied after it was elected again)
 *       revokes the current sessions like any other and starts nothing. Cost: a failover holds
 *       mutation replies until one lease + margin after the election (1.15 s with the defaults).
 * </ul>
 *
 * <p>A mutation that fails (its reply is an error) changed nothing and invalidates nothing.
 * Invalidations are whole-cache (coarse): one client's change drops every other client's cache.
 *
 * <p>Thread-safe: every method may be called from any thread (the state machine's apply thread,
 * Ratis's query threads). Nothing here is durable.
 */
final class LeaseTable implements AutoCloseable {
    /** Default lease length, milliseconds. */
    static final long DEFAULT_LEASE_MILLIS = 1_000;
    /** What this table adds to a lease before it stops waiting for the session, milliseconds. */
    static final long MARGIN_MILLIS = 150;

    private final long leaseMillis;
    private final LongSupplier nanoTime;
    private final ScheduledExecutorService timer;

    private final Map<UUID, Session> sessions = new HashMap<>();
    /** Mutation replies held for acknowledgements. */
    private final List<Barrier> barriers = new ArrayList<>();
    /** The term this table serves, -1 before its first use. */
    private long term = -1;

    private long epoch;
    private long seq;
    /** Mutation replies wait until then (leases of an earlier leader), System.nanoTime() scale. */
    private long graceUntilNanos;

    private ScheduledFuture<?> sweep;
    /**
     * Completions to run once the monitor is released (guarded by this): completing a future runs
     * its callers' callbacks, Ratis's among them, which take Ratis's own locks; run under this
     * monitor they would deadlock with a Ratis thread that holds those and asks for a lease.
     */
    private final List<Runnable> later = new ArrayList<>();

    private long revocations;
    private boolean closed;

    /** One client session. */
    private static final class Session {
        long invalidated;
        long acked;
        long expiresNanos;
        /** A poll held until an invalidation or its deadline, or null. */
        CompletableFuture<Response> poll;

        ScheduledFuture<?> pollTimeout;
    }

    /** A mutation reply held until sessions acknowledge (or expire) and the grace period ends. */
    private static final class Barrier {
        final CompletableFuture<Void> done = new CompletableFuture<>();
        /** Session to the sequence number it must acknowledge. */
        final Map<UUID, Long> waitingFor = new HashMap<>();

        long notBeforeNanos;
    }

    /**
     * @param leaseMillis the lease length granted to clients, milliseconds (&gt; 0)
     * @param nanoTime the monotonic clock (System::nanoTime; a test's fake)
     */
    LeaseTable(long leaseMillis, LongSupplier nanoTime) {
        if (leaseMillis <= 0) {
            throw new IllegalArgumentException("lease length must be positive: " + leaseMillis);
        }
        this.leaseMillis = leaseMillis;
        this.nanoTime = nanoTime;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "holdfast-leases");
            t.setDaemon(true);
            return t;
        });
    }

    /** The lease length this table grants, milliseconds. */
    long leaseMillis() {
        return leaseMillis;
    }

    /** The current epoch (0 before first use). */
    synchronized long epoch() {
        return epoch;
    }

    /** Sessions whose lease has not run out here. */
    synchronized int sessions() {
        return sessions.size();
    }

    /** Invalidations sent so far (one per session per mutation that had to revoke its lease). */
    synchronized long revocations() {
        return revocations;
    }

    /**
     * Renews (or grants) a session's lease; call only as leader of {@code currentTerm}, after the
     * linearizable read path confirmed leadership.
     */
    Response renew(UUID session, long currentTerm) {
        return locked(() -> renewLocked(session, currentTerm));
    }

    private Response renewLocked(UUID session, long currentTerm) {
        enterTerm(currentTerm);
        long now = nanoTime.getAsLong();
        Session s = sessions.get(session);
        if (s == null) {
            s = new Session();
            s.invalidated = ++seq; // a session new here drops whatever it cached before
            s.expiresNanos = now + TimeUnit.MILLISECONDS.toNanos(leaseMillis + MARGIN_MILLIS);
            sessions.put(session, s);
            // answered at once with its first number: the client drops its cache, acknowledges it in
            // its next poll, and its next renewal grants the lease
            return new Response.Lease(epoch, s.invalidated, 0);
        }
        if (s.invalidated > s.acked) {
            // a revocation is outstanding: no renewal until it is acknowledged, so a client that
            // renews but never acknowledges cannot hold other clients' mutations for ever
            return new Response.Lease(epoch, s.invalidated, 0);
        }
        s.expiresNanos = now + TimeUnit.MILLISECONDS.toNanos(leaseMillis + MARGIN_MILLIS);
        return new Response.Lease(epoch, s.invalidated, leaseMillis);
    }

    /**
     * Records a session's acknowledgement and answers with its invalidation number, at once if it
     * is newer than the acknowledged one, else when one comes or after {@code poll.waitMillis()}.
     * A session unknown here (never renewed, or run out) gets {@code seq} -1: drop the cache and
     * renew.
     */
    CompletableFuture<Response> poll(Request.LeasePoll poll, long currentTerm) {
        return locked(() -> pollLocked(poll, currentTerm));
    }

    private CompletableFuture<Response> pollLocked(Request.LeasePoll poll, long currentTerm) {
        enterTerm(currentTerm);
        Session s = sessions.get(poll.session());
        if (s == null) {
            return CompletableFuture.completedFuture(new Response.Lease(epoch, -1, 0));
        }
        if (poll.epoch() == epoch && poll.ackedSeq() > s.acked) {
            s.acked = Math.min(poll.ackedSeq(), s.invalidated);
            release(poll.session(), s.acked);
        }
        answerPoll(s); // a session has one poll at a time: an older one is answered now
        if (s.invalidated > s.acked || poll.epoch() != epoch || poll.waitMillis() == 0) {
            return CompletableFuture.completedFuture(new Response.Lease(epoch, s.invalidated, 0));
        }
        CompletableFuture<Response> f = new CompletableFuture<>();
        s.poll = f;
        Session held = s;
        s.pollTimeout = timer.schedule(
                () -> {
                    synchronized (this) {
                        if (held.poll == f) {
                            answerPoll(held);
                        }
                    }
                    runLater();
                },
                poll.waitMillis(),
                TimeUnit.MILLISECONDS);
        return f;
    }

    /**
     * Revokes every other session's lease for a mutation applied by this leader in {@code term}.
     * The returned future completes (never exceptionally) when the mutation's reply may be sent.
     *
     * @param mutator the session that sent the mutation (its own cache is its business), or null
     */
    CompletableFuture<Void> afterMutation(UUID mutator, long mutationTerm) {
        return locked(() -> afterMutationLocked(mutator, mutationTerm));
    }

    private CompletableFuture<Void> afterMutationLocked(UUID mutator, long mutationTerm) {
        enterTerm(mutationTerm);
        long now = nanoTime.getAsLong();
        expire(now);
        Barrier b = new Barrier();
        b.notBeforeNanos = graceUntilNanos;
        for (Map.Entry<UUID, Session> e : sessions.entrySet()) {
            if (e.getKey().equals(mutator)) {
                continue;
            }
            Session s = e.getValue();
            s.invalidated = ++seq;
            revocations++;
            b.waitingFor.put(e.getKey(), s.invalidated);
            answerPoll(s);
        }
        if (b.waitingFor.isEmpty() && now - b.notBeforeNanos >= 0) {
            return CompletableFuture.completedFuture(null);
        }
        barriers.add(b);
        scheduleSweep(now);
        return b.done;
    }

    /**
     * This member has just been elected leader of {@code term}: starts the term here now (new
     * epoch, sessions forgotten, mutation replies held for one lease + margin from now), on the
     * table's own thread, so the grace runs while clients are still finding the new leader rather
     * than from the first mutation of the term. A term not newer than the one this table serves
     * changes nothing. Safe to call from Ratis's threads while they hold Ratis's locks: nothing
     * runs on the caller's thread.
     *
     * @param term the term this member was elected for
     * @return completes with true once the term is started here, with false if the call changed
     *     nothing (an older or the same term, or the table was closed)
     */
    CompletableFuture<Boolean> leading(long term) {
        try {
            return CompletableFuture.supplyAsync(() -> locked(() -> !closed && enterTerm(term)), timer);
        } catch (RejectedExecutionException e) { // closed: nothing left to start
            return CompletableFuture.completedFuture(false);
        }
    }

    /**
     * Starts a new epoch when a newer term begins: sessions forgotten, replies held for the grace.
     * An older term (an entry proposed in it and applied only now) changes nothing.
     *
     * @return whether a new term started
     */
    private boolean enterTerm(long currentTerm) {
        if (currentTerm <= term) {
            return false;
        }
        term = currentTerm;
        epoch = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        seq = 0;
        for (Session s : sessions.values()) {
            // "unknown session" (-1), not its old number under the new epoch: numbers start from 1
            // again, and a client told an old, higher one would take the new session's numbers up
            // to it as acknowledged already (and never drop its cache for them)
            answerPoll(s, -1);
        }
        sessions.clear();
        graceUntilNanos = nanoTime.getAsLong() + TimeUnit.MILLISECONDS.toNanos(leaseMillis + MARGIN_MILLIS);
        for (Barrier b : barriers) {
            b.waitingFor.clear(); // the sessions are gone; the barrier still waits for the grace
            b.notBeforeNanos = Math.max(b.notBeforeNanos, graceUntilNanos);
        }
        scheduleSweep(nanoTime.getAsLong());
        return true;
    }

    private void answerPoll(Session s) {
        answerPoll(s, s.invalidated);
    }

    /** Answers the session's held poll, if any, with invalidation number {@code seq}. */
    private void answerPoll(Session s, long seq) {
        if (s.poll != null) {
            CompletableFuture<Response> f = s.poll;
            s.poll = null;
            if (s.pollTimeout != null) {
                s.pollTimeout.cancel(false);
                s.pollTimeout = null;
            }
            Response.Lease answer = new Response.Lease(epoch, seq, 0);
            later.add(() -> f.complete(answer));
        }
    }

    /** A session acknowledged up to {@code acked}: barriers waiting for no more than that let go of it. */
    private void release(UUID session, long acked) {
        for (Barrier b : barriers) {
            Long need = b.waitingFor.get(session);
            if (need != null && need <= acked) {
                b.waitingFor.remove(session);
            }
        }
        completeBarriers(nanoTime.getAsLong());
    }

    /** Drops sessions whose lease has run out here; barriers stop waiting for them. */
    private void expire(long now) {
        for (Iterator<Map.Entry<UUID, Session>> it = sessions.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<UUID, Session> e = it.next();
            if (now - e.getValue().expiresNanos >= 0) {
                answerPoll(e.getValue());
                it.remove();
                for (Barrier b : barriers) {
                    b.waitingFor.remove(e.getKey());
                }
            }
        }
    }

    private void completeBarriers(long now) {
        for (Iterator<Barrier> it = barriers.iterator(); it.hasNext(); ) {
            Barrier b = it.next();
            if (b.waitingFor.isEmpty() && now - b.notBeforeNanos >= 0) {
                it.remove();
                later.add(() -> b.done.complete(null));
            }
        }
    }

    /** Wakes up at the next moment a held barrier could complete by time alone. */
    private void scheduleSweep(long now) {
        if (closed || barriers.isEmpty()) {
            return;
        }
        long next = Long.MAX_VALUE;
        for (Barrier b : barriers) {
            long at = b.notBeforeNanos;
            for (UUID id : b.waitingFor.keySet()) {
                Session s = sessions.get(id);
                at = Math.max(at, s == null ? now : s.expiresNanos);
            }
            next = Math.min(next, at);
        }
        if (sweep != null) {
            sweep.cancel(false);
        }
        sweep = timer.schedule(this::sweep, Math.max(0, next - now) + 1_000, TimeUnit.NANOSECONDS);
    }

    private void sweep() {
        synchronized (this) {
            long now = nanoTime.getAsLong();
            expire(now);
            completeBarriers(now);
            sweep = null;
            scheduleSweep(now);
        }
        runLater();
    }

    /** Runs {@code body} under the monitor, then the completions it queued, outside it. */
    private <T> T locked(Supplier<T> body) {
        T r;
        synchronized (this) {
            r = body.get();
        }
        runLater();
        return r;
    }

    /** Runs the completions queued under the monitor, outside it. */
    private void runLater() {
        List<Runnable> run;
        synchronized (this) {
            if (later.isEmpty()) {
                return;
            }
            run = List.copyOf(later);
            later.clear();
        }
        for (Runnable r : run) {
            r.run();
        }
    }

    /** Refusal for a lease request reaching a member that is not the leader. */
    static HoldfastException notLeader(String group) {
        return new HoldfastException(Errno.EAGAIN, "volume group " + group + ": leases are granted by the leader only");
    }

    /** Lets every held reply and poll go and stops the timer. */
    @Override
    public void close() {
        synchronized (this) {
            closeLocked();
        }
        runLater();
    }

    private void closeLocked() {
        closed = true;
        for (Session s : sessions.values()) {
            answerPoll(s);
        }
        sessions.clear();
        for (Barrier b : barriers) {
            later.add(() -> b.done.complete(null));
        }
        barriers.clear();
        timer.shutdownNow();
    }
}
