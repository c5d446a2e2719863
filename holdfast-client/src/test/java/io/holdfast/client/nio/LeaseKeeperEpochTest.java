package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The keeper against a leader written out by hand: the server side of the protocol
 * ({@code LeaseTable}) for one session, with leader changes, checking at every acknowledgement
 * that the client dropped its cache after the invalidation it acknowledges was issued.
 */
class LeaseKeeperEpochTest {
    private final AtomicLong dropped = new AtomicLong();
    private final FakeLeader leader = new FakeLeader(dropped);
    private LeaseKeeper keeper;

    @AfterEach
    void close() {
        if (keeper != null) {
            keeper.close();
        }
        leader.close();
    }

    /**
     * A new leader numbers its invalidations from 1 again, in a new epoch. A client whose renewal
     * reaches it before its poll does (the poll's Raft client still knows the old leader) learns the
     * new epoch from the renewal's answer; the numbers it acknowledged in the old epoch mean nothing
     * in the new one. Before the fix it kept the old epoch's highest number, so the new leader's
     * next invalidations (up to that number) were acknowledged without dropping the cache: another
     * client's completed change was then not seen (close-to-open broken after a leader change).
     */
    @Test
    void afterALeaderChangeFoundByARenewalEveryInvalidationDropsTheCache() {
        invalidationsAfterALeaderChange(false);
    }

    /** The same when the poll reaches the new leader first: it answers "unknown session". */
    @Test
    void afterALeaderChangeFoundByAPollEveryInvalidationDropsTheCache() {
        invalidationsAfterALeaderChange(true);
    }

    private void invalidationsAfterALeaderChange(boolean pollFindsTheLeader) {
        keeper = new LeaseKeeper(leader, dropped::incrementAndGet, "v");
        await(keeper::valid, "the first lease");
        for (int i = 0; i < 5; i++) {
            leader.mutation();
            await(leader::allAcknowledged, "the acknowledgement of invalidation " + (i + 1));
        }
        assertThat(leader.violations()).isEmpty();

        long dropsBefore = dropped.get();
        leader.newLeader(pollFindsTheLeader);
        await(() -> leader.grantedInThisEpoch() && keeper.valid(), "a lease from the new leader");
        assertThat(dropped.get()).as("drops for the new epoch").isGreaterThan(dropsBefore);

        for (int i = 0; i < 5; i++) {
            long before = dropped.get();
            leader.mutation();
            await(leader::allAcknowledged, "the acknowledgement of invalidation " + (i + 1) + " of the new epoch");
            assertThat(dropped.get())
                    .as("drops for invalidation %d of the new epoch", i + 1)
                    .isGreaterThan(before);
        }
        assertThat(leader.violations()).isEmpty();
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what);
            }
        }
    }

    /**
     * The leader's lease table as one session sees it (see {@code LeaseTable}): a renewal of an
     * unknown session starts it with a new invalidation number and grants nothing; a poll
     * acknowledges numbers of the current epoch and is held until an invalidation or its wait;
     * another client's mutation gives the session a new number. A new leader has a new epoch,
     * numbers from 1 again and does not know the session.
     */
    private static final class FakeLeader implements VolumeService.LeaseChannel {
        private static final long LEASE_MILLIS = 1_000;
        private final UUID session = UUID.randomUUID();
        private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "fake-leader");
            t.setDaemon(true);
            return t;
        });
        private final AtomicLong dropped;

        private long epoch = 1;
        private long seq;
        private boolean known;
        private long invalidated;
        private long acked;
        private boolean granted;
        /** Polls fail (the old leader is not the leader any more) until a renewal reaches the new one. */
        private boolean pollsFail;
        /** Renewals fail until a poll reaches the new leader. */
        private boolean renewalsFail;

        private CompletableFuture<Response> held;
        /** Per invalidation number of this epoch: the client's drops when it was issued. */
        private final Map<Long, Long> dropsWhenIssued = new HashMap<>();

        private final List<String> violations = new ArrayList<>();

        FakeLeader(AtomicLong dropped) {
            this.dropped = dropped;
        }

        @Override
        public UUID session() {
            return session;
        }

        @Override
        public CompletableFuture<Response> renew() {
            synchronized (this) {
                if (renewalsFail) {
                    return CompletableFuture.failedFuture(new IOException("not the leader"));
                }
                pollsFail = false;
                if (!known) {
                    known = true;
                    acked = 0;
                    granted = false;
                    issue();
                    return CompletableFuture.completedFuture(new Response.Lease(epoch, invalidated, 0));
                }
                if (invalidated > acked) {
                    return CompletableFuture.completedFuture(new Response.Lease(epoch, invalidated, 0));
                }
                granted = true;
                return CompletableFuture.completedFuture(new Response.Lease(epoch, invalidated, LEASE_MILLIS));
            }
        }

        @Override
        public CompletableFuture<Response> poll(long pollEpoch, long ackedSeq, int waitMillis) {
            Runnable answer;
            CompletableFuture<Response> f;
            synchronized (this) {
                if (pollsFail) {
                    return CompletableFuture.failedFuture(new IOException("not the leader"));
                }
                renewalsFail = false;
                if (!known) {
                    return CompletableFuture.completedFuture(new Response.Lease(epoch, -1, 0));
                }
                if (pollEpoch == epoch && ackedSeq > acked) {
                    long now = Math.min(ackedSeq, invalidated);
                    for (long n = acked + 1; n <= now; n++) {
                        if (dropped.get() <= dropsWhenIssued.get(n)) {
                            violations.add("invalidation " + n + " of epoch " + epoch
                                    + " acknowledged without a drop since it was issued");
                        }
                    }
                    acked = now;
                }
                answer = answerHeld();
                if (invalidated > acked || pollEpoch != epoch || waitMillis == 0) {
                    f = CompletableFuture.completedFuture(new Response.Lease(epoch, invalidated, 0));
                } else {
                    f = new CompletableFuture<>();
                    held = f;
                    timer.schedule(
                            () -> {
                                Runnable r;
                                synchronized (this) {
                                    r = held == f ? answerHeld() : () -> {};
                                }
                                r.run();
                            },
                            waitMillis,
                            TimeUnit.MILLISECONDS);
                }
            }
            answer.run();
            return f;
        }

        /** Another client's mutation: the session gets a new invalidation number. */
        void mutation() {
            Runnable answer;
            synchronized (this) {
                issue();
                answer = answerHeld();
            }
            answer.run();
        }

        /**
         * Another member is elected: new epoch, numbers from 1, the session unknown. The old leader's
         * held poll fails; with {@code pollFirst} renewals fail until the client's poll has reached
         * the new leader, else polls fail until its renewal has.
         */
        void newLeader(boolean pollFirst) {
            CompletableFuture<Response> old;
            synchronized (this) {
                epoch++;
                seq = 0;
                known = false;
                granted = false;
                dropsWhenIssued.clear();
                pollsFail = !pollFirst;
                renewalsFail = pollFirst;
                old = held;
                held = null;
            }
            if (old != null) {
                old.completeExceptionally(new IOException("the leader stepped down"));
            }
        }

        synchronized boolean allAcknowledged() {
            return known && acked == invalidated;
        }

        synchronized boolean grantedInThisEpoch() {
            return granted;
        }

        synchronized List<String> violations() {
            return List.copyOf(violations);
        }

        private void issue() {
            invalidated = ++seq;
            dropsWhenIssued.put(invalidated, dropped.get());
        }

        /** Completes the held poll (outside the monitor: run what this returns). */
        private Runnable answerHeld() {
            CompletableFuture<Response> f = held;
            held = null;
            if (f == null) {
                return () -> {};
            }
            Response.Lease l = new Response.Lease(epoch, invalidated, 0);
            return () -> f.complete(l);
        }

        void close() {
            timer.shutdownNow();
        }
    }
}
