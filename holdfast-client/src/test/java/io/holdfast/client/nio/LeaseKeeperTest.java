package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * A lease keeper against a fake leader that follows the lease protocol of the server's
 * {@code LeaseTable}: a new session gets its first invalidation number, a renewal grants only
 * when every invalidation is acknowledged, another client's change sends a new number to the
 * held poll, and a session not renewed for a lease is forgotten.
 */
class LeaseKeeperTest {
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    /** The leader's side of one session. Thread-safe (one monitor). */
    private static final class FakeLeader implements VolumeService.LeaseChannel {
        static final long LEASE_MILLIS = 1_000;
        final AtomicLong renewals = new AtomicLong();
        private final UUID session = UUID.randomUUID();
        private boolean known;
        /** The leader's invalidation counter: as in LeaseTable, one for all sessions, never reset in a term. */
        private long seq;

        private long invalidated;
        private long acked;
        private long renewedNanos;
        private CompletableFuture<Response> heldPoll;

        @Override
        public UUID session() {
            return session;
        }

        @Override
        public synchronized CompletableFuture<Response> renew() {
            renewals.incrementAndGet();
            forgetIfRunOut();
            if (!known) {
                known = true;
                renewedNanos = System.nanoTime();
                invalidated = ++seq; // a session new here drops whatever it cached before
                return CompletableFuture.completedFuture(new Response.Lease(7, invalidated, 0));
            }
            if (invalidated > acked) {
                return CompletableFuture.completedFuture(new Response.Lease(7, invalidated, 0));
            }
            renewedNanos = System.nanoTime();
            return CompletableFuture.completedFuture(new Response.Lease(7, invalidated, LEASE_MILLIS));
        }

        @Override
        public synchronized CompletableFuture<Response> poll(long epoch, long ackedSeq, int waitMillis) {
            forgetIfRunOut();
            if (!known) {
                return CompletableFuture.completedFuture(new Response.Lease(7, -1, 0));
            }
            acked = Math.max(acked, Math.min(ackedSeq, invalidated));
            answerHeldPoll();
            if (invalidated > acked || waitMillis == 0) {
                return CompletableFuture.completedFuture(new Response.Lease(7, invalidated, 0));
            }
            CompletableFuture<Response> f = new CompletableFuture<>();
            heldPoll = f;
            CompletableFuture.delayedExecutor(waitMillis, TimeUnit.MILLISECONDS).execute(() -> {
                synchronized (this) {
                    if (heldPoll == f) {
                        answerHeldPoll();
                    }
                }
            });
            return f;
        }

        /** Another client changed the volume: this session's lease is revoked. */
        synchronized void anotherClientsChange() {
            forgetIfRunOut();
            if (known) {
                invalidated = ++seq;
                answerHeldPoll();
            }
        }

        synchronized boolean known() {
            forgetIfRunOut();
            return known;
        }

        private void answerHeldPoll() {
            if (heldPoll != null) {
                CompletableFuture<Response> f = heldPoll;
                heldPoll = null;
                f.complete(new Response.Lease(7, invalidated, 0));
            }
        }

        private void forgetIfRunOut() {
            if (known && System.nanoTime() - renewedNanos > TimeUnit.MILLISECONDS.toNanos(LEASE_MILLIS + 150)) {
                known = false;
                acked = 0;
                answerHeldPoll(); // as LeaseTable.expire: the held poll gets the last number
                invalidated = 0;
            }
        }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + DEADLINE + ": " + what);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void aClientAloneKeepsRenewingItsLeaseWhileIdle() throws Exception {
        FakeLeader leader = new FakeLeader();
        try (LeaseKeeper keeper = new LeaseKeeper(leader, () -> {}, "v")) {
            await(keeper::valid, "a lease");
            long before = leader.renewals.get();
            // eight renewals take two seconds, twice the idle time: never revoked, it keeps its lease
            await(() -> leader.renewals.get() >= before + 8, "renewals of an idle lease nobody revokes");
            assertThat(keeper.dormancies()).isZero();
            assertThat(leader.known()).isTrue();
        }
    }

    @Test
    void anIdleClientRevokedForAnotherClientsChangeLetsItsLeaseGoAndAUseRenewsIt() throws Exception {
        FakeLeader leader = new FakeLeader();
        AtomicLong drops = new AtomicLong();
        try (LeaseKeeper keeper = new LeaseKeeper(leader, drops::incrementAndGet, "v")) {
            await(keeper::valid, "a lease");
            long dropsBefore = drops.get();
            leader.anotherClientsChange();
            await(() -> drops.get() > dropsBefore, "the cache dropped for the other client's change");
            // no use since: after the idle time the keeper stops renewing, and the leader forgets it
            await(() -> keeper.dormancies() == 1, "the idle lease let go");
            // a renewal would have kept the session: the leader forgets it only once they stopped
            await(() -> !leader.known(), "the session forgotten by the leader");
            long renewals = leader.renewals.get();
            long dropsWhileDormant = drops.get();

            // the next use renews at once, and a lease is granted again
            assertThat(keeper.valid()).isFalse();
            await(keeper::valid, "a lease again after a use");
            assertThat(leader.renewals.get()).isGreaterThan(renewals);
            assertThat(drops.get())
                    .as("a new session drops what was cached before")
                    .isGreaterThan(dropsWhileDormant);
            assertThat(leader.known()).isTrue();
        }
    }

    @Test
    void aClientInUseKeepsItsLeaseThoughOtherClientsKeepChangingTheVolume() throws Exception {
        FakeLeader leader = new FakeLeader();
        try (LeaseKeeper keeper = new LeaseKeeper(leader, () -> {}, "v")) {
            await(keeper::valid, "a lease");
            long before = leader.renewals.get();
            await(
                    () -> {
                        keeper.valid(); // a use each round
                        leader.anotherClientsChange();
                        return leader.renewals.get() >= before + 8;
                    },
                    "renewals of a used lease under revocations");
            assertThat(keeper.dormancies()).isZero();
        }
    }

    /**
     * A lease ended again and again (every answer names a new epoch, so nothing is ever granted)
     * is never found valid, however a use's reading of the clock interleaves with the ends.
     */
    @Test
    void aLeaseNeverGrantedIsNeverValidWhileItEndsAgainAndAgain() throws Exception {
        AtomicLong epochs = new AtomicLong(1);
        AtomicLong answers = new AtomicLong();
        VolumeService.LeaseChannel restless = new VolumeService.LeaseChannel() {
            private final UUID session = UUID.randomUUID();

            @Override
            public UUID session() {
                return session;
            }

            @Override
            public CompletableFuture<Response> renew() {
                answers.incrementAndGet();
                return CompletableFuture.completedFuture(new Response.Lease(epochs.incrementAndGet(), 1, 60_000));
            }

            @Override
            public CompletableFuture<Response> poll(long epoch, long ackedSeq, int waitMillis) {
                answers.incrementAndGet();
                return CompletableFuture.completedFuture(new Response.Lease(epochs.incrementAndGet(), 1, 0));
            }
        };
        long validSeen = 0;
        try (LeaseKeeper keeper = new LeaseKeeper(restless, () -> {}, "v")) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (System.nanoTime() - end < 0 || answers.get() < 1_000) {
                if (keeper.valid()) {
                    validSeen++;
                }
            }
        }
        assertThat(validSeen).as("uses that found a lease never granted valid").isZero();
    }
}
